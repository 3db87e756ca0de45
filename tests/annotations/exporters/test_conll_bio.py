from __future__ import annotations

from annotations.exporters.base import ExportDocument, ExportSet, ExportSpan, Manifest
from annotations.exporters.conll_bio import ConllBioExporter, tokenize
from tests.annotations.exporters.conftest import run_export


def _manifest() -> Manifest:
    return Manifest("P", "u", "conll", "all", {}, "2026-01-01T00:00:00+00:00", "test", ("claim", "attribution"))


def _export(text: str, spans: list[tuple[str, int, int]]) -> list[list[str]]:
    import io

    export_spans = tuple(ExportSpan(n, f"u{n}", label, s, e, text[s:e]) for n, (label, s, e) in enumerate(spans))
    document = ExportDocument(1, "d", "t", text, {}, (ExportSet(1, "s", "ann", False, "submitted", export_spans),))
    out = io.BytesIO()
    ConllBioExporter().write([document], out, _manifest())
    return [line.split("\t") for line in out.getvalue().decode().splitlines() if line and not line.startswith("#")]


def test_tokens_carry_their_code_point_offsets():
    assert tokenize("Taxes fell, «a lot».") == [
        ("Taxes", 0, 5),
        ("fell", 6, 10),
        (",", 10, 11),
        ("«", 12, 13),
        ("a", 13, 14),
        ("lot", 15, 18),
        ("»", 18, 19),
        (".", 19, 20),
    ]


def test_each_label_has_its_own_column_so_nested_spans_of_different_labels_both_survive():
    text = "The minister said taxes fall"
    rows = _export(text, [("claim", 13, 28), ("attribution", 0, 17)])
    assert [row[3:] for row in rows] == [
        ["O", "B-attribution"],
        ["O", "I-attribution"],
        ["B-claim", "I-attribution"],
        ["I-claim", "O"],
        ["I-claim", "O"],
    ]


def test_within_one_label_the_earlier_and_longer_span_wins():
    text = "one two three four"
    rows = _export(text, [("claim", 4, 13), ("claim", 0, 7)])
    assert [row[3] for row in rows] == ["B-claim", "I-claim", "I-claim", "O"]


def test_the_file_states_its_snapshot_scope_and_columns(annotated):
    head = run_export(annotated.project, "conll").decode().splitlines()[:4]
    assert head[0].startswith("# snapshot_at = ") and head[1] == "# scope = all"
    assert head[3] == "# columns = token start end claim attribution counter-claim"
