"""The contract every export format implements, and the plain records it consumes.

An exporter turns a stream of `ExportDocument` records into the bytes of one
file. Exporters are pure: no ORM, no network, no settings. The job layer
(annotations/services/exporting.py) reads one consistent snapshot of the
database, builds these records chunk by chunk and hands them over as an
iterator, so an exporter that writes as it reads keeps memory flat.

Offsets in every record are Unicode code points, half-open, into
`ExportDocument.text` (DESIGN "Text and offsets"); a format that counts
differently converts in its own module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, ClassVar, NamedTuple, Protocol


# Spans and relations are NamedTuples rather than dataclasses: a million of them are built per large
# export, and a tuple is several times cheaper to make than a frozen dataclass (bench/export_bench.py).
class ExportSpan(NamedTuple):
    id: int
    uuid: str
    label: str
    start: int
    end: int
    quote: str
    attributes: dict[str, Any] = {}  # noqa: RUF012 - never mutated; records are read-only
    note: str = ""
    provenance: dict[str, Any] = {}  # noqa: RUF012


class ExportRelation(NamedTuple):
    id: int
    uuid: str
    type: str
    source_id: int  # ExportSpan.id of the same set
    target_id: int
    attributes: dict[str, Any] = {}  # noqa: RUF012
    note: str = ""
    provenance: dict[str, Any] = {}  # noqa: RUF012


@dataclass(frozen=True)
class ExportSet:
    id: int
    uuid: str
    annotator: str | None  # a username; None for gold
    is_gold: bool
    state: str
    spans: tuple[ExportSpan, ...] = ()
    relations: tuple[ExportRelation, ...] = ()

    @property
    def name(self) -> str:
        return "gold" if self.is_gold else (self.annotator or f"set-{self.id}")


@dataclass(frozen=True)
class ExportDocument:
    id: int
    uuid: str
    title: str
    text: str
    # The same keys the importers fill: source_url, outlet, author, published, language, external_id.
    metadata: dict[str, str | None]
    sets: tuple[ExportSet, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """What an export holds and which moment it shows; written into the file where the format has room."""

    project: str
    project_uuid: str
    format: str
    scope: str  # all | submitted | gold
    filters: dict[str, Any]
    snapshot_at: str  # ISO 8601, the start of the read transaction
    isolation: str  # "repeatable read" on PostgreSQL, "serializable" (one transaction) on SQLite
    labels: tuple[str, ...] = ()  # the schema's span labels, in schema order
    generator: str = "Claimbench"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Exporter(Protocol):
    key: ClassVar[str]  # "jsonl": the name the registry, the API and the CLI use
    label: ClassVar[str]  # "Claimbench JSON Lines": what the UI shows
    extension: ClassVar[str]  # ".jsonl"
    media_type: ClassVar[str]  # "application/x-ndjson"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        """Write every document to `out` (a seekable binary file) as they arrive.

        Raises only for I/O errors (a full disk): the caller fails the job and
        removes the partial file. Never holds more than one document's records
        unless the format demands it (a single JSON array is written piecewise).
        """
        ...


def spans_by_id(annotation_set: ExportSet) -> dict[int, ExportSpan]:
    return {span.id: span for span in annotation_set.spans}


# Output is gathered and written in pieces of about this many bytes: one write call per
# document costs more than encoding a small one.
WRITE_BYTES = 1 << 20


def write_batched(chunks: Iterable[bytes], out: BinaryIO) -> None:
    """Write byte chunks (a document's line, a document's rows) in pieces of about WRITE_BYTES."""
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= WRITE_BYTES:
            out.write(b"".join(pending))
            pending.clear()
            size = 0
    out.write(b"".join(pending))
