"""The registry of export formats: the UI menu, the API and the CLI all read EXPORTERS."""

from __future__ import annotations

from annotations.exporters.base import Exporter
from annotations.exporters.brat import BratExporter
from annotations.exporters.claimbench_jsonl import JsonlExporter
from annotations.exporters.conll_bio import ConllBioExporter
from annotations.exporters.csv_spans import CsvSpansExporter
from annotations.exporters.doccano_jsonl import DoccanoJsonlExporter
from annotations.exporters.label_studio_json import LabelStudioExporter
from annotations.exporters.w3c import W3cExporter

EXPORTERS: dict[str, type[Exporter]] = {
    JsonlExporter.key: JsonlExporter,
    CsvSpansExporter.key: CsvSpansExporter,
    W3cExporter.key: W3cExporter,
    BratExporter.key: BratExporter,
    ConllBioExporter.key: ConllBioExporter,
    DoccanoJsonlExporter.key: DoccanoJsonlExporter,
    LabelStudioExporter.key: LabelStudioExporter,
}


class UnknownExportFormat(ValueError):
    """The format key is not registered."""


def get_exporter(key: str) -> Exporter:
    try:
        return EXPORTERS[key]()
    except KeyError:
        raise UnknownExportFormat(f"unknown export format {key!r}; expected one of {sorted(EXPORTERS)}") from None


def format_choices() -> list[tuple[str, str]]:
    return [(key, exporter.label) for key, exporter in EXPORTERS.items()]
