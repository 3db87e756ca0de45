from __future__ import annotations

import io

from annotations.importers import ImportOptions, get_importer
from annotations.importers.brat import parse_pair

TEXT = "The senator said «the date will not change».\nThe commission denied it 🙅.\n"


def _offsets(text: str, quote: str) -> str:
    start = text.index(quote)
    return f"{start} {start + len(quote)}"


def test_a_pair_gives_spans_relations_attributes_and_notes(data):
    [document] = list(
        parse_pair(
            (data / "brat" / "statement.txt").read_bytes(),
            (data / "brat" / "statement.ann").read_bytes(),
            "statement.txt",
        )
    )
    [brat] = document.sets
    assert (brat.annotator, brat.is_gold) == (None, False)
    spans = {span.local_id: span for span in brat.spans}
    assert spans["T1"].quote == "Senator Aliya Nurpeisova told reporters"
    assert spans["T1"].attributes == {"quote": "direct"}
    assert spans["T2"].attributes == {"hedged": True}
    assert spans["T2"].note == "prediction about the vote"
    assert [(r.type, r.source_local_id, r.target_local_id) for r in brat.relations] == [
        ("sources", "T1", "T2"),
        ("disputes", "T3", "T2"),
    ]
    for span in brat.spans:
        assert document.text[span.start : span.end] == span.quote


def test_brat_offsets_count_code_points_and_crlf_is_mapped():
    text = TEXT.replace("\n", "\r\n")
    ann = f"T1\tcounter-claim {_offsets(text, 'denied it 🙅')}\tdenied it 🙅\n"
    [document] = list(parse_pair(text.encode(), ann.encode(), "c.txt"))
    [span] = document.sets[0].spans
    assert document.text[span.start : span.end] == "denied it 🙅"
    assert span.start == text.index("denied") - 1


def test_a_utf8_bom_counts_as_a_character_like_in_brat():
    ann = f"T1\tclaim {_offsets(TEXT, 'the date will not change')}\tthe date will not change\n".replace(
        _offsets(TEXT, "the date will not change"),
        " ".join(str(int(n) + 1) for n in _offsets(TEXT, "the date will not change").split()),
    )
    [document] = list(parse_pair(b"\xef\xbb\xbf" + TEXT.encode(), ann.encode(), "bom.txt"))
    [span] = document.sets[0].spans
    assert span.quote == "the date will not change"
    assert not document.text.startswith("\ufeff")


def test_a_discontinuous_span_is_a_row_error_naming_its_line():
    ann = "T1\tclaim 0 3\tThe\nT2\tclaim 4 11;17 21\tsenator «the\n"
    documents = list(parse_pair(TEXT.encode(), ann.encode(), "d.txt", ann_source_name="d.ann"))
    [error] = documents
    assert error.source_name == "d.ann"
    assert error.line == 2
    assert error.reason.startswith("T2: discontinuous span (4 11;17 21)")


def test_text_that_does_not_match_the_offsets_is_reported_with_the_ann_line():
    ann = "T1\tclaim 0 3\tThe\n#1\tAnnotatorNotes T1\tok\nT2\tclaim 4 11\tsenatr\n"
    [error] = list(parse_pair(TEXT.encode(), ann.encode(), "m.txt"))
    assert (error.source_name, error.line) == ("m.ann", 3)
    assert "span 'T2': quote mismatch" in error.reason


def test_unsupported_and_broken_lines_are_reported():
    ann = "E1\tVote:T1\nR1\tsources Arg1:T9\nA1\tquote T7 direct\nX\tsomething\n"
    errors = list(parse_pair(TEXT.encode(), ann.encode(), "u.txt"))
    assert [error.line for error in errors] == [1, 2, 3, 4]


def test_a_lone_ann_file_asks_for_its_txt_in_a_zip():
    stream = io.BytesIO(b"T1\tclaim 0 3\tThe\n")
    [error] = list(get_importer("brat").parse(stream, "lone.ann", ImportOptions()))
    assert "needs its .txt" in error.reason
