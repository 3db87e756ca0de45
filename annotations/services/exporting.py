"""Export jobs: create a Job, run it over one consistent snapshot, keep the file for a while.

The Celery task `run_export_job` and the `export_annotations` command are thin
callers of `export_job_run`. A run claims the job with one conditional UPDATE
(the same rule as imports: queued, or running with a stale heartbeat), opens
one read transaction — REPEATABLE READ READ ONLY on PostgreSQL, so every
chunk sees the same moment however long the export takes; one transaction on
SQLite, whose readers are isolated from writers by design — and walks the
project's documents in primary-key order in chunks of CHUNK_DOCUMENTS, three
queries per chunk (sets, spans, relations), streaming plain records
(annotations/exporters/base.py) into the format's exporter, which writes a
temporary file. Only a complete file is saved to storage (moved into place
when storage is the local filesystem, copied otherwise); any error (a full
disk included) fails the job and removes what was written.

On PostgreSQL, JSONL and CSV skip the records: PostgreSQL renders the bytes
of each kept set (exporting_sql.py, `export_rendered`), on reader
connections that import the export's snapshot, and the exporter's
`write_rendered` writes them. Same bytes as the record path, which stays the
reference and serves SQLite and the other formats.

Progress and heartbeat go through a second database connection on
PostgreSQL, because the reading transaction is read-only and its writes
would stay invisible until it ends anyway.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid as uuid_module
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from annotations import access
from annotations.exceptions import InvalidInput
from annotations.exporters import EXPORTERS, get_exporter
from annotations.exporters.base import ExportDocument, ExportRelation, ExportSet, ExportSpan, Manifest
from annotations.models import AnnotationSet, Document, Job, JobKind, JobStatus, Project, Relation, SetState, Span
from annotations.services import exporting_sql
from annotations.services.jobs import MAX_DELIVERIES, job_claim

logger = logging.getLogger(__name__)

SCOPES = ("all", "submitted", "gold")
CHUNK_DOCUMENTS = 2000
# The SQL renderer's chunks are smaller: each is rendered whole in PostgreSQL and held until written.
RENDER_CHUNK_DOCUMENTS = 1000
# Connections that render chunks side by side (one PostgreSQL backend, so one core, each).
RENDER_READERS = 2
STREAM_ROWS = 5000
EXPORT_WORK_MEM = "64MB"
PROGRESS_EVERY_SECONDS = 1.0
# Rendered rows (a kept set each) handed to the exporter as one value: about 1 MB of JSONL with 2 KB documents.
JOINED_ROWS = 256
# The file being written goes to disk in steps of at least this many bytes (see `_EarlyWriteback`).
WRITEBACK_BYTES = 4 << 20
FILTER_KEYS = frozenset({"labels", "states", "import_job", "date_from", "date_to"})


def export_retention() -> datetime.timedelta:
    """How long a finished export's file is kept before the periodic cleanup deletes it."""
    return datetime.timedelta(days=getattr(settings, "CLAIMBENCH_EXPORT_RETENTION_DAYS", 7))


# --- filters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilters:
    """Which part of a project to export; empty means no restriction.

    `states`: annotation-set workflow states to keep. `date_from`/`date_to`:
    keep sets last changed on those days (inclusive, in UTC). `import_job`:
    keep documents that came in with that import.
    """

    labels: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    import_job: int | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "states": list(self.states),
            "import_job": self.import_job,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }

    @property
    def restricts_sets(self) -> bool:
        return bool(self.states or self.date_from or self.date_to)


def _date(raw: Any, field: str) -> datetime.date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime.date):
        return raw
    try:
        return datetime.date.fromisoformat(str(raw))
    except ValueError:
        raise InvalidInput(f"{field} must be a date like 2024-05-28, got {str(raw)[:40]!r}", field=field) from None


def _strings(raw: Any, field: str) -> tuple[str, ...]:
    if raw in (None, ""):
        return ()
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list | tuple) or not all(isinstance(item, str) for item in raw):
        raise InvalidInput(f"{field} must be a list of names", field=field)
    return tuple(dict.fromkeys(raw))


def export_filters_parse(project: Project, raw: Mapping[str, Any]) -> ExportFilters:
    """Validate filters against allow-lists (the schema's labels, the workflow states, this project's imports).

    Raises InvalidInput naming the field and the reason.
    """
    unknown = sorted(set(raw) - FILTER_KEYS)
    if unknown:
        raise InvalidInput(f"unknown filters {unknown}; expected some of {sorted(FILTER_KEYS)}", field="filters")
    labels = _strings(raw.get("labels"), "labels")
    known_labels = project.parsed_schema.label_keys
    for label in labels:
        if label not in known_labels:
            raise InvalidInput(
                f"unknown label {label!r}; this project's labels are {', '.join(known_labels)}", field="labels"
            )
    states = _strings(raw.get("states"), "states")
    for state in states:
        if state not in SetState.values:
            raise InvalidInput(
                f"unknown state {state!r}; expected some of {', '.join(SetState.values)}", field="states"
            )
    import_job: int | None = None
    if raw.get("import_job") not in (None, ""):
        try:
            import_job = int(raw["import_job"])
        except (TypeError, ValueError):
            raise InvalidInput("import_job must be the number of an import job", field="import_job") from None
        if not Job.objects.filter(pk=import_job, project=project, kind=JobKind.IMPORT).exists():
            raise InvalidInput(f"this project has no import job {import_job}", field="import_job")
    date_from = _date(raw.get("date_from"), "date_from")
    date_to = _date(raw.get("date_to"), "date_to")
    if date_from and date_to and date_from > date_to:
        raise InvalidInput("date_from must not be after date_to", field="date_from")
    return ExportFilters(labels, states, import_job, date_from, date_to)


def _filters_from_json(raw: Mapping[str, Any]) -> ExportFilters:
    return ExportFilters(
        labels=tuple(raw.get("labels") or ()),
        states=tuple(raw.get("states") or ()),
        import_job=raw.get("import_job"),
        date_from=_date(raw.get("date_from"), "date_from"),
        date_to=_date(raw.get("date_to"), "date_to"),
    )


# --- creating ------------------------------------------------------------------------------


def export_job_create(
    *, project: Project, format: str, scope: str = "all", filters: Mapping[str, Any] | None = None, actor: Any
) -> Job:
    """Create a queued export Job; the caller enqueues it with `export_job_enqueue`.

    `actor` None means the command line, trusted. Raises NotAllowed for
    non-managers and InvalidInput for an unknown format, scope or filter.
    """
    if actor is not None:
        access.require_can_manage(actor, project)
    if format not in EXPORTERS:
        raise InvalidInput(f"unknown format {format!r}; choose one of {', '.join(EXPORTERS)}", field="format")
    if scope not in SCOPES:
        raise InvalidInput(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}", field="scope")
    parsed = export_filters_parse(project, filters or {})
    return Job.objects.create(
        project=project,
        kind=JobKind.EXPORT,
        format=format,
        parameters={"scope": scope, "filters": parsed.as_json()},
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def export_job_enqueue(job: Job) -> None:
    """Send the job to Celery once its row is committed; a broker that is down fails it (jobs.job_send)."""
    from annotations.services.jobs import job_send
    from annotations.tasks import run_export_job

    job_send(job, run_export_job)


# --- reading one snapshot ---------------------------------------------------------------------


def _set_export_locals(cursor: Any) -> None:
    """Settings local to an export's read transaction (allowed when read-only; gone when it ends)."""
    # A chunk's spans are sorted in reading order; with the default 4 MB a chunk of 200,000 spans
    # sorts on disk.
    cursor.execute(f"SET LOCAL work_mem = '{EXPORT_WORK_MEM}'")  # a constant, not input
    # The rendering queries (exporting_sql.py) cost enough for the planner to JIT-compile them, which
    # takes longer (about 0.4 s a chunk) than it saves on a chunk's rows.
    cursor.execute("SET LOCAL jit = off")
    # They also rely on an aggregate reading a sorted subquery's rows in order, which workers that
    # split the input would break; and the readers already keep the cores busy.
    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")


@contextmanager
def _snapshot(using: str = DEFAULT_DB_ALIAS) -> Iterator[tuple[str, str, str | None]]:
    """One read transaction; yields (snapshot time as ISO 8601, isolation level in words, snapshot id).

    The snapshot id (PostgreSQL, outermost transaction only) lets other
    connections read the very same moment (`SET TRANSACTION SNAPSHOT`), so an
    export can render chunks on several backends at once; None elsewhere.
    """
    connection = connections[using]
    nested = connection.in_atomic_block
    snapshot_id: str | None = None
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if not nested:
                    # Must be the transaction's first statement; the next query fixes the snapshot.
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    _set_export_locals(cursor)
                cursor.execute("SELECT clock_timestamp()")
                moment = cursor.fetchone()[0]
                if not nested:
                    cursor.execute("SELECT pg_export_snapshot()")
                    snapshot_id = cursor.fetchone()[0]
            isolation = "enclosing transaction" if nested else "repeatable read, read only"
        else:
            # SQLite isolates a transaction's reads from other connections' writes (serializable).
            Document.objects.using(using).exists()
            moment = timezone.now()
            isolation = "serializable (one SQLite transaction)"
        yield moment.astimezone(datetime.UTC).isoformat(), isolation, snapshot_id


def _chunks(iterator: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass
class _Counts:
    documents: int = 0
    sets: int = 0
    spans: int = 0
    relations: int = 0


def _document_rows(project: Project, filters: ExportFilters) -> Any:
    documents = Document.objects.filter(project=project)
    if filters.import_job is not None:
        documents = documents.filter(import_job_id=filters.import_job)
    return documents.order_by("pk").values_list(
        "pk", "uuid", "title", "text", "source_url", "outlet", "author", "published_date", "language", "external_id"
    )


def _set_filter(scope: str, filters: ExportFilters) -> Q:
    condition = Q()
    if scope == "gold":
        condition &= Q(is_gold=True)
    elif scope == "submitted":
        condition &= Q(is_gold=False, state=SetState.SUBMITTED)
    if filters.states:
        condition &= Q(state__in=filters.states)
    if filters.date_from:
        start = datetime.datetime.combine(filters.date_from, datetime.time.min, tzinfo=datetime.UTC)
        condition &= Q(updated_at__gte=start)
    if filters.date_to:
        end = datetime.datetime.combine(filters.date_to + datetime.timedelta(days=1), datetime.time.min, datetime.UTC)
        condition &= Q(updated_at__lt=end)
    return condition


def _raw_rows(queryset: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a values_list() queryset without Django's per-value converters.

    Spans are the bulk of an export; decoding their JSON columns through
    JSONField.from_db_value costs more than the whole query, and most of those
    values are "{}" (see `_JsonCache`). The SQL is still the ORM's, so filters
    stay allow-listed and parameterised.

    On PostgreSQL the rows are streamed (libpq chunked mode, psycopg's
    `Cursor.stream`): the server keeps producing while Python encodes, on the
    other CPU, and the driver never buffers a whole chunk's result beside the
    records built from it (a 200,000-span chunk would double the peak). The stream
    must be read to its end before the connection runs another query, which
    `export_documents` does.
    """
    sql, params = queryset.query.sql_with_params()
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            yield from cursor.cursor.stream(sql, params, size=STREAM_ROWS)
            return
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(STREAM_ROWS):
            yield from rows


EMPTY: dict[str, Any] = {}  # shared by every record without attributes; records are read-only


class _JsonCache:
    """Decodes the JSON text of attributes/provenance columns, each distinct text once.

    The same few values ("{}", {"check_worthy": "yes"}) repeat on almost every
    span, so decoding each distinct text once and sharing the result (records
    are read-only) takes JSON decoding off the hot path. Bounded, so a project
    whose every span has a different note-like attribute cannot grow it without limit.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._decoded: dict[Any, Any] = {None: EMPTY, "{}": EMPTY}

    def __call__(self, value: Any) -> Any:
        try:
            return self._decoded[value]
        except KeyError:
            pass
        except TypeError:  # an already decoded dict (a backend that decodes JSON itself)
            return value
        if not isinstance(value, str | bytes):
            return value
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits, which the stdlib reads
            decoded = json.loads(value)
        if len(self._decoded) >= self.LIMIT:
            self._decoded = {None: EMPTY, "{}": EMPTY}
        self._decoded[value] = decoded
        return decoded


def _uuid_reader() -> Callable[[Any], str]:
    # PostgreSQL casts to text in the query; SQLite hands back the 32 hex digits Django stores there.
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        return str
    return lambda value: str(uuid_module.UUID(str(value)))


def _uuid_text() -> Cast:
    return Cast("uuid", output_field=TextField())


def _keeps_bare_documents(scope: str, filters: ExportFilters) -> bool:
    # Only an unfiltered export of all sets carries documents that have no kept set.
    return scope == "all" and not filters.restricts_sets and not filters.labels


def _set_condition(project: Project, scope: str, filters: ExportFilters) -> Q:
    condition = _set_filter(scope, filters) & Q(document__project=project)
    if filters.import_job is not None:
        condition &= Q(document__import_job_id=filters.import_job)
    return condition


def _set_rows(sets: Any) -> Any:
    return sets.order_by("document_id", "is_gold", "pk").values_list(
        "pk", "uuid", "document_id", "annotator__username", "is_gold", "state"
    )


def _chunk_starts(project: Project, filters: ExportFilters, chunk_size: int) -> list[int]:
    """The first document id of each chunk of `chunk_size` documents, in id order (one query)."""
    ids_sql, ids_params = _document_rows(project, filters).order_by().values_list("pk").query.sql_with_params()
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT id FROM (SELECT documents.id, row_number() OVER (ORDER BY documents.id) AS position "
            f"FROM ({ids_sql}) AS documents (id)) AS numbered WHERE mod(position - 1, %s) = 0 ORDER BY id",
            [*ids_params, chunk_size],
        )
        return [row[0] for row in cursor.fetchall()]


def export_rendered(
    project: Project,
    format: str,
    scope: str,
    filters: ExportFilters,
    counts: _Counts,
    *,
    snapshot_id: str | None = None,
    chunk_size: int | None = None,
) -> Iterator[bytes]:
    """Yield the export as the bytes of `format`, JOINED_ROWS rows at a time, rendered by PostgreSQL
    (exporting_sql.py).

    The same documents, sets, filters and order as `export_documents`, and the
    same bytes as its exporter writes from them; call inside `_snapshot`.
    Only for `exporting_sql.renders_in_sql(format)`.

    Rendering costs PostgreSQL about as much CPU as the Python path costs
    Python, but it splits: given the snapshot id of the enclosing transaction,
    RENDER_READERS connections that import that snapshot render chunks side
    by side (one backend, one core each) while this thread writes them out in
    order. Without one (inside an enclosing transaction, as in tests) this
    connection renders every chunk itself.
    """
    keep_bare_documents = _keeps_bare_documents(scope, filters)
    set_condition = _set_condition(project, scope, filters)
    starts = _chunk_starts(project, filters, chunk_size or RENDER_CHUNK_DOCUMENTS)

    # Compiled once, here in the caller's thread; reader threads only bind a chunk's bounds and run it.
    query = exporting_sql.rendering_query(
        format,
        documents=_document_rows(project, filters),
        sets=_set_rows(AnnotationSet.objects.filter(set_condition)),
        labels=filters.labels,
        label_keys=project.parsed_schema.label_keys,
        relation_type_keys=tuple(relation_type.key for relation_type in project.parsed_schema.relation_types),
        keep_bare_documents=keep_bare_documents,
    )

    def render_chunk(index: int, using: str) -> list[tuple[Any, ...]]:
        following = starts[index + 1] if index + 1 < len(starts) else None
        return exporting_sql.rendered_documents(query.sql, query.params(starts[index], following), using)

    readers = getattr(settings, "CLAIMBENCH_EXPORT_READERS", RENDER_READERS)
    if snapshot_id is None or readers < 2 or len(starts) < 2:
        chunks: Iterator[list[tuple[Any, ...]]] = (
            render_chunk(index, DEFAULT_DB_ALIAS) for index in range(len(starts))
        )
    else:
        chunks = _render_in_parallel(render_chunk, len(starts), snapshot_id, readers)
    # Rows come out joined, JOINED_ROWS at a time (about a megabyte): fewer steps through the generators above
    # than a value per row, and values small enough to stay in the CPU's caches (a whole chunk joined at once,
    # 17 MB at 1,000,000 spans, cost three times the CPU to join and write).
    for chunk in chunks:
        for first in range(0, len(chunk), JOINED_ROWS):
            rows = chunk[first : first + JOINED_ROWS]
            for row in rows:
                counts.documents += row[0]
                counts.sets += row[1]
                counts.spans += row[2]
                counts.relations += row[3]
            yield b"".join([piece for row in rows for piece in row[4:]])


def _render_in_parallel(
    render_chunk: Callable[[int, str], list[tuple[Any, ...]]],
    chunk_count: int,
    snapshot_id: str,
    readers: int,
) -> Iterator[list[tuple[Any, ...]]]:
    """Render chunks on `readers` threads, each with its own connection in the exported snapshot; yield in order.

    At most 2 × readers chunks are rendered ahead of the writer, so memory
    stays bounded by a few chunks whatever the project's size.
    """
    local = threading.local()
    opened: list[Any] = []
    lock = threading.Lock()

    def reader_alias() -> str:
        if not hasattr(local, "alias"):
            alias = f"export-reader-{threading.get_ident()}"
            connection = connections.create_connection(DEFAULT_DB_ALIAS)
            connection.alias = alias
            # Opened on a reader thread, closed by the caller's thread when the export ends.
            connection.inc_thread_sharing()
            with lock:
                opened.append(connection)
            connections[alias] = connection
            with connection.cursor() as cursor:
                # Autocommit is on for a fresh connection: open the transaction by hand and import the
                # snapshot as its first statement.
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot_id])
                _set_export_locals(cursor)
            local.alias = alias
        return local.alias

    def task(index: int) -> list[tuple[Any, ...]]:
        return render_chunk(index, reader_alias())

    pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="export-reader")
    try:
        pending: deque[Future[list[tuple[Any, ...]]]] = deque()
        submitted = 0
        while submitted < chunk_count or pending:
            while submitted < chunk_count and len(pending) < 2 * readers:
                pending.append(pool.submit(task, submitted))
                submitted += 1
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for connection in opened:
            connection.close()


def export_documents(
    project: Project, scope: str, filters: ExportFilters, counts: _Counts, chunk_size: int = CHUNK_DOCUMENTS
) -> Iterator[ExportDocument]:
    """Yield the export records of a project, chunk by chunk; call inside `_snapshot` for one moment.

    Documents without a kept set are left out, except in an unfiltered
    export of all sets, which carries every document. Per chunk of documents
    (a contiguous primary-key range) three queries read its sets, spans and
    relations; spans and relations select their sets with a subquery, so no
    query carries thousands of ids as parameters.
    """
    as_uuid = _uuid_reader()
    uuid_is_text = as_uuid is str
    json_value = _JsonCache()
    new_record = tuple.__new__
    keep_bare_documents = _keeps_bare_documents(scope, filters)
    set_condition = _set_condition(project, scope, filters)
    rows = _document_rows(project, filters).iterator(chunk_size=chunk_size)
    for chunk in _chunks(rows, chunk_size):
        chunk_sets = AnnotationSet.objects.filter(
            set_condition, document_id__gte=chunk[0][0], document_id__lte=chunk[-1][0]
        )
        sets_by_document: dict[int, list[tuple[Any, ...]]] = {}
        set_rows = _set_rows(chunk_sets)
        for set_row in set_rows:
            sets_by_document.setdefault(set_row[2], []).append(set_row)
        if not sets_by_document and not keep_bare_documents:
            continue
        set_ids = chunk_sets.values("pk")
        spans = Span.objects.filter(annotation_set_id__in=set_ids)
        if filters.labels:
            spans = spans.filter(label__in=filters.labels)
        spans_by_set: dict[int, list[ExportSpan]] = {}
        span_rows = _raw_rows(
            spans.annotate(uuid_text=_uuid_text())
            .order_by("annotation_set_id", "start", "-end", "pk")
            .values_list(
                "pk",
                "uuid_text",
                "annotation_set_id",
                "label",
                "start",
                "end",
                "quote",
                "attributes",
                "note",
                "provenance",
            )
        )
        # The hot loop of an export: one pass per span, so no function call that can be avoided
        # (tuple.__new__ instead of the NamedTuple's Python-level __new__, "{}" checked inline).
        current_set, current = None, []
        for pk, uuid, set_id, label, start, end, quote, attributes, note, provenance in span_rows:
            if set_id != current_set:
                current_set, current = set_id, spans_by_set.setdefault(set_id, [])
            current.append(
                new_record(
                    ExportSpan,
                    (
                        pk,
                        uuid if uuid_is_text else as_uuid(uuid),
                        label,
                        start,
                        end,
                        quote,
                        EMPTY if attributes == "{}" else json_value(attributes),
                        note,
                        EMPTY if provenance == "{}" else json_value(provenance),
                    ),
                )
            )
        relations = Relation.objects.filter(annotation_set_id__in=set_ids)
        if filters.labels:
            relations = relations.filter(source__label__in=filters.labels, target__label__in=filters.labels)
        relations_by_set: dict[int, list[ExportRelation]] = {}
        relation_rows = _raw_rows(
            relations.annotate(uuid_text=_uuid_text())
            .order_by("annotation_set_id", "pk")
            .values_list(
                "pk",
                "uuid_text",
                "annotation_set_id",
                "type",
                "source_id",
                "target_id",
                "attributes",
                "note",
                "provenance",
            )
        )
        for pk, uuid, set_id, type_, source_id, target_id, attributes, note, provenance in relation_rows:
            relations_by_set.setdefault(set_id, []).append(
                ExportRelation(
                    pk, as_uuid(uuid), type_, source_id, target_id, json_value(attributes), note, json_value(provenance)
                )
            )
        for pk, uuid, title, text, source_url, outlet, author, published, language, external_id in chunk:
            sets = tuple(
                ExportSet(
                    set_id,
                    str(set_uuid),
                    username,
                    is_gold,
                    state,
                    tuple(spans_by_set.get(set_id, ())),
                    tuple(relations_by_set.get(set_id, ())),
                )
                for set_id, set_uuid, _, username, is_gold, state in sets_by_document.get(pk, ())
            )
            if not sets and not keep_bare_documents:
                continue
            counts.documents += 1
            counts.sets += len(sets)
            counts.spans += sum(len(s.spans) for s in sets)
            counts.relations += sum(len(s.relations) for s in sets)
            metadata = {
                "source_url": source_url or None,
                "outlet": outlet or None,
                "author": author or None,
                "published": published.isoformat() if published else None,
                "language": language or None,
                "external_id": external_id or None,
            }
            yield ExportDocument(pk, str(uuid), title, text, metadata, sets)


# --- running -----------------------------------------------------------------------------------


class _ProgressWriter:
    """Writes done/heartbeat at most once a second, outside the read-only snapshot transaction."""

    def __init__(self, job: Job, callback: Callable[[int, int | None], None] | None) -> None:
        self._job = job
        self._callback = callback
        self._last = 0.0
        self._side = None
        if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
            self._side = connections.create_connection(DEFAULT_DB_ALIAS)

    def __call__(self, done: int, total: int | None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY_SECONDS:
            return
        self._last = now
        if self._callback is not None:
            self._callback(done, total)
        if self._side is not None:
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Job._meta.db_table} SET done = %s, total = %s, heartbeat_at = %s WHERE id = %s",
                    [done, total, timezone.now(), self._job.pk],
                )

    def close(self) -> None:
        if self._side is not None:
            self._side.close()


class _EarlyWriteback:
    """Writes a file that is still growing to disk as it goes: an fdatasync on a background thread,
    started (if none is running) each time WRITEBACK_BYTES more have been written.

    The fsync before the move into storage then waits only for the last few
    megabytes instead of the whole file: the disk writes run while PostgreSQL
    renders the next chunks (about 0.05 s less at 37 MB, 0.2 s or more at 170 MB,
    on this machine). A hint such as POSIX_FADV_DONTNEED or sync_file_range
    starts the writes without waiting for them, but here left most of the file
    for the final fsync. The final fsync stays: this only moves work earlier.
    An error the background sync meets (a full disk) is raised by `wait`: the
    kernel reports a write error once, so the final fsync might not see it.
    """

    def __init__(self, file: Any) -> None:
        self._file = file
        self._descriptor = file.fileno()
        self._started_to = 0
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def __call__(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        position = self._file.tell()
        if position - self._started_to < WRITEBACK_BYTES:
            return
        self._file.flush()  # Python's buffer to the kernel, which the sync then writes
        self._started_to = position
        self._thread = threading.Thread(target=self._sync, name="export-writeback", daemon=True)
        self._thread.start()

    def _sync(self) -> None:
        try:
            getattr(os, "fdatasync", os.fsync)(self._descriptor)
        except OSError as error:
            self._error = error

    def join(self) -> None:
        """Wait for the running sync, if any (before the file is closed: it syncs by descriptor)."""
        if self._thread is not None:
            self._thread.join()

    def wait(self) -> None:
        """Wait for the running sync and raise the error any sync met."""
        self.join()
        if self._error is not None:
            raise self._error


class _FinishedFile(File):
    """The finished temporary file, offered to storage by path: FileSystemStorage then moves it into place
    (a rename on the same filesystem) instead of copying it, as it does with large uploads. Other storages
    read it like any file."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _output_name(job: Job, snapshot_at: str, extension: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", job.project.name.lower()).strip("-")[:60] or "project"
    stamp = snapshot_at[:19].replace(":", "").replace("-", "")
    return f"{slug}-{job.parameters.get('scope', 'all')}-{stamp}{extension}"


def export_job_run(job_id: int, *, progress: Callable[[int, int | None], None] | None = None) -> Job | None:
    """Run an export job to a stored file; None when this delivery has nothing to do.

    Idempotent: a finished job is not claimed again, and a redelivery after
    a crash starts over (an export writes nothing until it is complete).
    `progress(done_documents, total_documents)` is called about once a second.
    """
    job = job_claim(job_id=job_id, kind=JobKind.EXPORT)
    if job is None:
        return None
    if job.deliveries > MAX_DELIVERIES:
        _fail(job, f"gave up after {MAX_DELIVERIES} attempts: the worker stopped each time while running this export")
        return job
    exporter = get_exporter(job.format)
    scope = job.parameters.get("scope", "all")
    filters = _filters_from_json(job.parameters.get("filters") or {})
    counts = _Counts()
    writer = _ProgressWriter(job, progress)
    stored_name = ""
    early_writeback: _EarlyWriteback | None = None
    temp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finally, after storage has copied it
        prefix="claimbench-export-",
        suffix=exporter.extension,
        dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None),
        delete=False,
    )
    try:
        early_writeback = _EarlyWriteback(temp)
        with _snapshot() as (snapshot_at, isolation, snapshot_id):
            total = _document_rows(job.project, filters).count()
            writer(0, total, force=True)
            manifest = Manifest(
                project=job.project.name,
                project_uuid=str(job.project.uuid),
                format=job.format,
                scope=scope,
                filters=filters.as_json(),
                snapshot_at=snapshot_at,
                isolation=isolation,
                labels=job.project.parsed_schema.label_keys,
            )

            def with_progress(items: Iterator[Any], writeback_every: int) -> Iterator[Any]:
                for index, item in enumerate(items):
                    yield item
                    writer(counts.documents, total)
                    if not index % writeback_every:  # it asks the file where it is: a system call
                        early_writeback()

            if exporting_sql.renders_in_sql(job.format, DEFAULT_DB_ALIAS):
                rendered = export_rendered(job.project, job.format, scope, filters, counts, snapshot_id=snapshot_id)
                # About a megabyte at a time: look at the file after each.
                exporter.write_rendered(with_progress(rendered, 1), temp, manifest)  # type: ignore[attr-defined]
            else:
                documents = export_documents(job.project, scope, filters, counts)
                exporter.write(with_progress(documents, 64), temp, manifest)  # type: ignore[arg-type]  # a binary file
        # On disk before the job says done: FileSystemStorage then moves this very file into
        # place (a rename), so a crash after "done" cannot leave a missing or truncated result.
        # A full disk shows at write() or here, and fails the job.
        temp.flush()
        early_writeback.wait()
        os.fsync(temp.fileno())
        temp.seek(0)
        # Named before the copy starts: a disk that fills up mid-copy leaves a partial file, which
        # the `except` below must find to delete (storage.save raises without telling the name).
        field = job.output_file.field
        wanted = field.generate_filename(job, _output_name(job, snapshot_at, exporter.extension))
        stored_name = default_storage.get_available_name(wanted, max_length=field.max_length)
        stored_name = default_storage.save(stored_name, _FinishedFile(temp), max_length=field.max_length)
        job.output_file.name = stored_name
        finished = timezone.now()
        summary = {
            "manifest": manifest.as_dict(),
            "documents": counts.documents,
            "sets": counts.sets,
            "spans": counts.spans,
            "relations": counts.relations,
            "bytes": job.output_file.size,
            "expires_at": (finished + export_retention()).isoformat(),
        }
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.DONE,
            output_file=stored_name,
            done=total,
            total=total,
            summary=summary,
            heartbeat_at=finished,
            finished_at=finished,
            error="",
        )
    except Exception as error:
        logger.exception("export job %s failed", job.pk)
        if stored_name:
            default_storage.delete(stored_name)
        reason = (
            "the disk is full"
            if isinstance(error, OSError) and error.errno == 28
            else f"{type(error).__name__}: {error}"
        )
        _fail(job, f"the export stopped: {reason}; no file was kept")
    finally:
        writer.close()
        if early_writeback is not None:
            early_writeback.join()
        temp.close()
        with suppress(FileNotFoundError):  # moved into storage
            os.unlink(temp.name)
    job.refresh_from_db()
    return job


def _fail(job: Job, reason: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error=reason[:5000], finished_at=timezone.now(), output_file=""
    )
    job.refresh_from_db()


# --- expiring ----------------------------------------------------------------------------------


def export_files_expire(*, now: datetime.datetime | None = None) -> int:
    """Delete the files of exports older than the retention; returns how many were deleted."""
    cutoff = (now or timezone.now()) - export_retention()
    expired = 0
    for job in Job.objects.filter(kind=JobKind.EXPORT, finished_at__lt=cutoff).exclude(output_file=""):
        name = job.output_file.name
        default_storage.delete(name)
        summary = dict(job.summary or {})
        summary["expired_at"] = timezone.now().isoformat()
        Job.objects.filter(pk=job.pk).update(output_file="", summary=summary)
        expired += 1
    return expired
