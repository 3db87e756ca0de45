"""Import formats: the registry the UI, the API and the command line read.

Each format is one module with one importer class (see `base.Importer`).
`IMPORTERS` lists them explicitly, so adding a format is one line here
(STYLE habit 8); `detect_format` serves `--format auto`.
"""

from __future__ import annotations

import json
import re

from annotations.importers._streams import decode_head, describe_binary
from annotations.importers.archive import ArchiveImporter
from annotations.importers.base import (
    Importer,
    ImportOptions,
    ParsedDocument,
    ParsedRelation,
    ParsedSet,
    ParsedSpan,
    RowError,
    UnknownFormat,
)
from annotations.importers.brat import BratImporter
from annotations.importers.claimbench_jsonl import JsonlImporter
from annotations.importers.csv_rows import CsvImporter
from annotations.importers.doccano import DoccanoImporter
from annotations.importers.html import HtmlImporter
from annotations.importers.label_studio import LabelStudioImporter
from annotations.importers.plain_text import PlainTextImporter
from annotations.text import UndecodableText

__all__ = [
    "DETECT_HEAD_BYTES",
    "IMPORTERS",
    "ImportOptions",
    "Importer",
    "ParsedDocument",
    "ParsedRelation",
    "ParsedSet",
    "ParsedSpan",
    "RowError",
    "UnknownFormat",
    "detect_format",
    "get_importer",
]

IMPORTERS: dict[str, type[Importer]] = {
    PlainTextImporter.key: PlainTextImporter,
    HtmlImporter.key: HtmlImporter,
    JsonlImporter.key: JsonlImporter,
    DoccanoImporter.key: DoccanoImporter,
    CsvImporter.key: CsvImporter,
    LabelStudioImporter.key: LabelStudioImporter,
    BratImporter.key: BratImporter,
    ArchiveImporter.key: ArchiveImporter,
}

# How much of a file detect_format wants to see.
DETECT_HEAD_BYTES = 64 * 1024

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_FIRST_JSON_KEYS = re.compile(r'"(sets|uuid|metadata|entities|label|labels)"\s*:')


def get_importer(key: str) -> Importer:
    """An instance of the importer registered under `key`; raises UnknownFormat."""
    try:
        return IMPORTERS[key]()
    except KeyError:
        known = ", ".join(sorted(IMPORTERS))
        raise UnknownFormat(f"unknown import format {key!r} (known: {known})") from None


def detect_format(filename: str, head: bytes) -> str:
    """Pick an importer key from a file's name and its first bytes (DETECT_HEAD_BYTES of them).

    The extension decides the family; the content confirms it, and tells
    Claimbench JSONL from doccano JSONL by the keys of the first record.
    Raises UnknownFormat with a reason a user can act on: an unsupported
    extension, a binary file under a text extension, a .json that is not a
    Label Studio task list, a .zip that is not a ZIP archive.
    """
    name = filename.rsplit(":", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension == ".zip":
        if head.startswith(_ZIP_MAGIC):
            return ArchiveImporter.key
        raise UnknownFormat(f"{name}: not a ZIP archive, despite its name")
    if extension not in _TEXT_EXTENSIONS:
        supported = ", ".join(sorted({*_TEXT_EXTENSIONS, ".zip"}))
        raise UnknownFormat(f"{name}: unsupported file type {extension or '(no extension)'!r} (supported: {supported})")
    binary = describe_binary(head)
    if binary is not None:
        raise UnknownFormat(f"{name}: this is {binary}, not a {extension} text file")
    try:
        text = decode_head(head)
    except UndecodableText as error:
        raise UnknownFormat(f"{name}: {error}") from None
    if extension == ".jsonl":
        return _detect_jsonl(name, text)
    if extension == ".json":
        _check_label_studio(name, text)
    return _TEXT_EXTENSIONS[extension]


_TEXT_EXTENSIONS: dict[str, str] = {
    ".txt": PlainTextImporter.key,
    ".text": PlainTextImporter.key,
    ".html": HtmlImporter.key,
    ".htm": HtmlImporter.key,
    ".jsonl": JsonlImporter.key,
    ".ndjson": JsonlImporter.key,
    ".json": LabelStudioImporter.key,
    ".csv": CsvImporter.key,
    ".tsv": CsvImporter.key,
    ".ann": BratImporter.key,
}


def _detect_jsonl(name: str, text: str) -> str:
    first = next((line for line in text.lstrip("\ufeff").split("\n") if line.strip()), "")
    if not first.lstrip().startswith("{"):
        raise UnknownFormat(f"{name}: not JSON Lines (the first line is not a JSON object)")
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        # The first record is longer than the head: judge by the first known key.
        found = _FIRST_JSON_KEYS.search(first)
        keys = {found.group(1)} if found else set()
    else:
        keys = set(record) if isinstance(record, dict) else set()
    if keys & {"sets", "uuid", "metadata"}:
        return JsonlImporter.key
    if keys & {"entities", "label", "labels", "data"}:
        return DoccanoImporter.key
    # {"text": …} alone reads the same either way.
    return JsonlImporter.key


def _check_label_studio(name: str, text: str) -> None:
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith("["):
        raise UnknownFormat(f"{name}: not a Label Studio export (expected a JSON list of tasks, starting with '[')")
    rest = stripped[1:].lstrip()
    if not rest or rest.startswith("]"):
        return
    if not rest.startswith("{"):
        raise UnknownFormat(f"{name}: not a Label Studio export (the list holds no task objects)")
    try:
        first, _ = json.JSONDecoder().raw_decode(rest)
    except json.JSONDecodeError:
        return  # the first task is longer than the head; the importer will judge it
    if not isinstance(first, dict) or "data" not in first:
        raise UnknownFormat(f'{name}: not a Label Studio export (the first task has no "data" object)')
