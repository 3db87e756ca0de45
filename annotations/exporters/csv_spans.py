"""CSV, one row per span, for spreadsheets.

Columns: document_id, document_uuid, title, set, analyst, state, span_uuid,
label, start, end, quote, attributes (compact JSON, sorted keys), links, note. `links` lists the
spans this one sources or disputes as "sources <span_uuid>", separated by
"; ". Any text cell beginning with =, +, -, @, a tab or a carriage return
gets a leading apostrophe, so a spreadsheet shows it as text instead of
running it as a formula (OWASP "CSV injection"). The file is UTF-8 with a
BOM, which Excel needs to read it as UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import BinaryIO, ClassVar

import orjson

from annotations.exporters.base import ExportDocument, Manifest, write_batched

COLUMNS = (
    "document_id",
    "document_uuid",
    "title",
    "set",
    "analyst",
    "state",
    "span_uuid",
    "label",
    "start",
    "end",
    "quote",
    "attributes",
    "links",
    "note",
)

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Return cell, with a leading apostrophe if a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_TRIGGERS) else cell


def attributes_cell(attributes: dict[str, object]) -> str:
    """Compact JSON with sorted keys (orjson; the stdlib for what orjson refuses), neutralised."""
    if not attributes:
        return "{}"
    try:
        encoded = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        encoded = json.dumps(attributes, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return neutralise(encoded)


class _Cells:
    """Per-export memo of the cells that repeat: labels, and attributes objects.

    The job layer hands every span with the same attributes the same (read-only)
    dict, so a cell is encoded once per distinct object. The memo keeps the
    object itself beside its cell, so a recycled id() can never match.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}
        self._attributes: dict[int, tuple[object, str]] = {}

    def attributes(self, attributes: dict[str, object]) -> str:
        if not attributes:
            return "{}"
        memo = self._attributes.get(id(attributes))
        if memo is not None and memo[0] is attributes:
            return memo[1]
        cell = attributes_cell(attributes)
        if len(self._attributes) >= self.LIMIT:
            self._attributes.clear()
        self._attributes[id(attributes)] = (attributes, cell)
        return cell

    def label(self, label: str) -> str:
        try:
            return self.labels[label]
        except KeyError:
            cell = self.labels[label] = neutralise(label)
            return cell


def csv_field(value: str) -> str:
    """`value` as the csv module's QUOTE_MINIMAL dialect (delimiter ",", quote '"', "\\r\\n") writes it.

    The csv module's writer costs about 6 µs a row; a million-span export
    spends most of its time there. Rows here always have many fields, so the
    module's one special case (a row of a single empty field) never arises.
    tests/annotations/exporters/test_csv_spans.py checks the two agree.
    """
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


# Rows are gathered and written in pieces of about this many rows.
WRITE_ROWS = 10_000


def _header() -> bytes:
    """The BOM Excel needs to read UTF-8, and the header row."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow(COLUMNS)
    return ("\ufeff" + header.getvalue()).encode()


class CsvSpansExporter:
    key: ClassVar[str] = "csv"
    label: ClassVar[str] = "CSV (one row per span)"
    extension: ClassVar[str] = ".csv"
    media_type: ClassVar[str] = "text/csv"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        out.write(_header())
        cells = _Cells()
        label_cell, attributes_cell_of = cells.label, cells.attributes
        triggers = _FORMULA_TRIGGERS
        pending: list[str] = []
        for document in documents:
            document_cells = f"{document.id},{csv_field(document.uuid)},{csv_field(neutralise(document.title))}"
            for annotation_set in document.sets:
                links: dict[int, str] = {}
                if annotation_set.relations:
                    uuids = {span.id: span.uuid for span in annotation_set.spans}
                    grouped: dict[int, list[str]] = {}
                    for relation in annotation_set.relations:
                        grouped.setdefault(relation.source_id, []).append(
                            f"{relation.type} {uuids[relation.target_id]}"
                        )
                    links = {span_id: csv_field("; ".join(items)) for span_id, items in grouped.items()}
                kind = "gold" if annotation_set.is_gold else "analyst"
                set_cells = (
                    f"{document_cells},{kind},{csv_field(neutralise(annotation_set.annotator or ''))},"
                    f"{csv_field(annotation_set.state)}"
                )
                # neutralise() is inlined for the per-span cells; labels and attributes come from a memo.
                pending.extend(
                    f"{set_cells},{csv_field(span_uuid)},{csv_field(label_cell(label))},{start},{end},"
                    f"{csv_field(chr(39) + quote if quote.startswith(triggers) else quote)},"
                    f"{csv_field(attributes_cell_of(attributes))},{links.get(span_id, '')},"
                    f"{csv_field(chr(39) + note if note.startswith(triggers) else note) if note else ''}\r\n"
                    for span_id, span_uuid, label, start, end, quote, attributes, note, _ in annotation_set.spans
                )
            if len(pending) >= WRITE_ROWS:
                out.write("".join(pending).encode())
                pending.clear()
        out.write("".join(pending).encode())

    def write_rendered(self, documents_rows: Iterable[bytes], out: BinaryIO, manifest: Manifest) -> None:
        """Write the header, then rows the database already rendered (annotations/services/exporting_sql.py)."""
        out.write(_header())
        write_batched(documents_rows, out)
