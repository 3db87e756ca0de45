from __future__ import annotations

import csv
import io

from annotations.exporters.csv_spans import COLUMNS, csv_field, neutralise
from annotations.models import Span
from tests.annotations.exporters.conftest import run_export


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_python_csv_reads_back_one_row_per_span(annotated):
    rows = _rows(run_export(annotated.project, "csv"))
    assert list(rows[0]) == list(COLUMNS)
    assert sorted(row["span_uuid"] for row in rows) == sorted(
        str(u)
        for u in Span.objects.filter(annotation_set__document__project=annotated.project).values_list("uuid", flat=True)
    )
    across = next(row for row in rows if row["quote"].startswith("2023."))
    assert across["quote"] == "2023.\nThe ministry", "a line break inside a quoted cell survives"


def test_a_quote_beginning_with_equals_is_neutralised(annotated):
    rows = _rows(run_export(annotated.project, "csv"))
    formula = next(row for row in rows if "1+1" in row["quote"])
    assert formula["quote"] == "'=1+1 is two"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())


def test_every_formula_trigger_is_neutralised_and_ordinary_text_is_not():
    for cell in ("=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("Minister: taxes = lower") == "Minister: taxes = lower"


def test_the_links_column_names_the_span_each_span_sources_or_disputes(annotated):
    rows = _rows(run_export(annotated.project, "csv"))
    by_uuid = {row["span_uuid"]: row for row in rows}
    stated = next(row for row in rows if row["quote"] == "Mukhtar Ablyazov stated")
    kind, target = stated["links"].split(" ")
    assert kind == "sources" and by_uuid[target]["quote"].startswith("the bank lost 😀")


def test_the_fast_field_writer_quotes_exactly_as_the_csv_module_does():
    samples = [
        "",
        "plain",
        "a,b",
        'say "no"',
        "line\nbreak",
        "carriage\rreturn",
        "crlf\r\n",
        " lead",
        "tab\tin",
        "'=1+1",
        "ünïcode 😀",
        '"',
        ",",
        "semi; colon",
    ]
    for value in samples:
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\r\n").writerow(["x", value, "y"])
        assert f"x,{csv_field(value)},y\r\n" == expected.getvalue(), value


def test_each_row_is_what_the_csv_module_would_write_for_its_cells(annotated):
    text = run_export(annotated.project, "csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rewritten = io.StringIO()
    csv.writer(rewritten, lineterminator="\r\n").writerows(rows)
    assert rewritten.getvalue() == text
