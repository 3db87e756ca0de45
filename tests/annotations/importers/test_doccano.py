from __future__ import annotations

import json


def test_both_doccano_shapes_parse_and_a_classification_record_is_reported(parse, data):
    documents, [error] = parse("doccano", (data / "doccano.jsonl").read_bytes(), "doccano.jsonl")
    first, second = documents
    [labels] = first.sets
    assert (labels.annotator, labels.is_gold) == (None, False)
    assert [(span.local_id, span.label, span.quote) for span in labels.spans] == [
        ("T1", "attribution", "The minister said"),
        ("T2", "claim", "fuel prices will stay frozen"),
    ]
    [entities] = second.sets
    assert [span.quote for span in entities.spans] == ["Press service", "never received the petition", "he did"]
    assert [(r.type, r.source_local_id, r.target_local_id) for r in entities.relations] == [
        ("sources", "1", "2"),
        ("disputes", "3", "2"),
    ]
    assert second.metadata["source_url"] == "https://herald.example/akim"
    assert (error.line, error.reason) == (3, "this looks like a text-classification dataset (labels without offsets)")


def test_doccano_offsets_are_code_points_and_are_mapped_past_crlf(parse, data):
    raw_record = json.loads((data / "doccano.jsonl").read_text(encoding="utf-8").splitlines()[1])
    _, second = parse("doccano", (data / "doccano.jsonl").read_bytes(), "doccano.jsonl")[0]
    claim = second.sets[0].spans[1]
    raw_start = raw_record["entities"][1]["start_offset"]
    assert raw_record["text"][raw_start : raw_start + 5] == "never"
    assert claim.start == raw_start - 1
    assert second.text[claim.start : claim.end] == claim.quote


def test_offsets_outside_the_text_are_a_row_error(parse):
    record = {"text": "Short text 🙂.", "label": [[0, 5, "claim"], [6, 40, "claim"]]}
    documents, [error] = parse("doccano", json.dumps(record).encode(), "d.jsonl")
    assert documents == []
    assert error.line == 1 and "span 'T2': offsets 6..40" in error.reason


def test_a_record_without_labels_is_a_document_without_sets(parse):
    [document], errors = parse("doccano", b'{"text": "No annotations yet.", "label": []}\n', "d.jsonl")
    assert errors == [] and document.sets == ()
