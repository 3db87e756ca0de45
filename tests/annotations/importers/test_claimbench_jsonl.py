from __future__ import annotations

import io
import json

from annotations.importers import ImportOptions, get_importer


def _line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


def test_the_sample_parses_good_lines_and_reports_bad_ones(parse, data):
    documents, errors = parse("jsonl", (data / "documents.jsonl").read_bytes(), "documents.jsonl")
    assert [document.line for document in documents] == [1, 2, 6]
    assert [(error.line, error.source_name) for error in errors] == [(3, "documents.jsonl"), (4, "documents.jsonl")]
    assert errors[0].reason.startswith("not valid JSON")
    assert errors[1].reason == (
        "set 1 ('carol'), span 'x1': quote mismatch: the text at 4..12 reads 'governor', the file says 'minister'"
    )


def test_a_full_record_keeps_uuid_metadata_sets_spans_and_relations(parse, data):
    [first, *_], _ = parse("jsonl", (data / "documents.jsonl").read_bytes(), "documents.jsonl")
    assert first.uuid == "5f1c9a0e-2b7d-4c1e-9a51-3d2f7e8b6c10"
    assert first.title == "Deficit forecast questioned"
    assert first.metadata["published"] == "2024-03-05"
    assert first.metadata["external_id"] == "sh-1042"
    alice, gold = first.sets
    assert (alice.annotator, alice.is_gold, alice.state) == ("alice", False, "submitted")
    assert (gold.annotator, gold.is_gold, gold.state) == (None, True, "adjudicated")
    for span in alice.spans + gold.spans:
        assert first.text[span.start : span.end] == span.quote
    by_id = {span.local_id: span for span in alice.spans}
    assert by_id["s1"].attributes == {"quote": "direct"}
    assert by_id["s4"].note == "direct contradiction"
    assert [(r.type, r.source_local_id, r.target_local_id) for r in alice.relations] == [
        ("sources", "s1", "s2"),
        ("sources", "s3", "s4"),
        ("disputes", "s4", "s2"),
    ]
    assert first.raw_source.startswith(b'{"uuid"')


def test_spans_after_a_crlf_are_mapped_into_the_normalised_text(parse, data):
    _, second, _ = parse("jsonl", (data / "documents.jsonl").read_bytes(), "documents.jsonl")[0]
    raw_text = json.loads((data / "documents.jsonl").read_text(encoding="utf-8").splitlines()[1])["text"]
    assert "\r\n" in raw_text and "\r" not in second.text
    [bob] = second.sets
    claim, counter = bob.spans
    assert second.text[claim.start : claim.end] == claim.quote == "all roads were cleared by Monday"
    assert claim.start == raw_text.index("all roads") - 1  # one CRLF before it
    assert second.text[counter.start : counter.end] == "they were not"
    assert counter.start == raw_text.index("they were not") - 2  # two CRLFs before it


def test_a_span_boundary_inside_a_crlf_is_a_row_error_with_its_line(parse):
    text = "Line one\r\nLine two"
    record = {
        "text": text,
        "sets": [{"annotator": "dina", "spans": [{"id": "s1", "label": "claim", "start": 9, "end": 18}]}],
    }
    documents, [error] = parse("jsonl", b"\n" + _line(record), "cut.jsonl")
    assert documents == []
    assert error.line == 2
    assert "span 's1'" in error.reason and "line break" in error.reason


def test_a_quote_that_no_longer_matches_after_mapping_is_reported_not_shifted(parse):
    text = "Header\r\nThe akim said «yes»."
    start = text.index("«yes»")
    record = {
        "text": text,
        "sets": [
            {
                "annotator": "dina",
                "spans": [{"id": "s1", "label": "claim", "start": start - 1, "end": start + 4, "quote": "«yes»"}],
            }
        ],
    }
    documents, [error] = parse("jsonl", _line(record), "shifted.jsonl")
    assert documents == []
    assert error.line == 1
    assert "quote mismatch" in error.reason


def test_every_bad_span_of_a_record_is_reported_and_the_record_is_not_imported(parse):
    record = {
        "text": "The mayor promised free buses.",
        "sets": [
            {
                "annotator": "eva",
                "spans": [
                    {"id": "a", "label": "claim", "start": 4, "end": 9, "quote": "mayor"},
                    {"id": "b", "label": "claim", "start": 20, "end": 99},
                    {"id": "c", "label": "", "start": 0, "end": 3},
                ],
                "relations": [{"type": "sources", "source": "a", "target": "zzz"}],
            },
            {"annotator": "eva", "spans": []},
            {"annotator": None, "gold": True, "spans": []},
            {"annotator": None, "gold": True, "spans": []},
        ],
    }
    documents, errors = parse("jsonl", _line(record), "bad.jsonl")
    assert documents == []
    reasons = [error.reason for error in errors]
    assert len(reasons) == 5
    assert "span 'b': offsets 20..99" in reasons[0]
    assert "span 'c': the label" in reasons[1]
    assert "the target 'zzz' is not a span of this set" in reasons[2]
    assert "annotator 'eva' has more than one set" in reasons[3]
    assert "more than one gold set" in reasons[4]


def test_unknown_keys_and_wrong_types_are_row_errors(parse):
    lines = (
        _line({"text": "A.", "sourceurl": "x"})
        + _line({"text": 42})
        + _line(["not", "an", "object"])
        + _line({"text": "B.", "metadata": {"published": "last week"}})
        + _line({"text": "C.", "uuid": "not-a-uuid"})
        + _line({"text": "D.", "metadata": {"source_url": "javascript:alert(1)"}})
        + _line({"text": "The budget passed."})
    )
    documents, errors = parse("jsonl", lines, "types.jsonl")
    assert [document.line for document in documents] == [7]
    assert [error.line for error in errors] == [1, 2, 3, 4, 5, 6]
    assert "unknown keys ['sourceurl']" in errors[0].reason
    assert "not an ISO date" in errors[3].reason
    assert "not a UUID" in errors[4].reason
    assert "not an http(s) URL" in errors[5].reason


def test_utf16_jsonl_is_read(parse, data):
    raw = (data / "documents.jsonl").read_text(encoding="utf-8").encode("utf-16")
    documents, errors = parse("jsonl", raw, "documents.jsonl")
    assert [document.line for document in documents] == [1, 2, 6]
    assert len(errors) == 2


class _CountingStream(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.read_so_far += len(chunk)
        return len(chunk)


def test_jsonl_is_streamed_not_read_whole():
    record = _line({"text": "The minister said the plan works. " * 100})
    stream = _CountingStream(record * 2000)  # about 7 MB
    items = get_importer("jsonl").parse(stream, "big.jsonl", ImportOptions())  # type: ignore[arg-type]
    first = next(items)
    assert first.line == 1
    assert stream.read_so_far < 1024 * 1024


def test_count_hint_counts_lines_and_rewinds(data):
    stream = io.BytesIO((data / "documents.jsonl").read_bytes())
    assert get_importer("jsonl").count_hint(stream) == 6
    assert stream.tell() == 0


def test_an_empty_file_is_reported(parse):
    documents, [error] = parse("jsonl", b"\n\n", "empty.jsonl")
    assert (error.line, error.reason) == (None, "the file holds no records")


def test_gold_provenance_round_trips(parse):
    text = "The mayor promised free buses from May."
    provenance = {"decision": "unanimous", "from": ["alice", "bob"]}
    record = {
        "text": text,
        "sets": [
            {
                "annotator": None,
                "gold": True,
                "state": "adjudicated",
                "spans": [
                    {"id": "s1", "label": "attribution", "start": 0, "end": 18, "quote": "The mayor promised"},
                    {
                        "id": "s2",
                        "label": "claim",
                        "start": 19,
                        "end": 38,
                        "quote": "free buses from May",
                        "provenance": provenance,
                    },
                ],
                "relations": [{"type": "sources", "source": "s1", "target": "s2", "provenance": provenance}],
            }
        ],
    }
    [document], errors = parse("jsonl", _line(record), "gold.jsonl")
    assert errors == []
    [gold] = document.sets
    assert gold.spans[0].provenance == {}
    assert gold.spans[1].provenance == provenance
    assert gold.relations[0].provenance == provenance
