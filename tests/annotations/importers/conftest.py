from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from annotations.importers import ImportOptions, ParsedDocument, RowError, get_importer

DATA = Path(__file__).parent / "data"

Parsed = tuple[list[ParsedDocument], list[RowError]]


def split(items: list[ParsedDocument | RowError]) -> Parsed:
    documents = [item for item in items if isinstance(item, ParsedDocument)]
    errors = [item for item in items if isinstance(item, RowError)]
    assert len(documents) + len(errors) == len(items)
    return documents, errors


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def parse() -> Callable[..., Parsed]:
    """parse(key, raw_bytes, name, **options) -> (documents, errors), in input order each."""

    def _parse(key: str, raw: bytes, name: str = "upload", **options: object) -> Parsed:
        importer = get_importer(key)
        return split(list(importer.parse(io.BytesIO(raw), name, ImportOptions(**options))))  # type: ignore[arg-type]

    return _parse
