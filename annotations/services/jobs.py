"""Import jobs: create a Job from uploaded files, run it in batches, retry it.

The Celery task and the `import_documents` command are thin callers of
`import_job_run`. A run claims the job with one conditional UPDATE, streams
each file through its importer (pure, under `annotations/importers/`), and
writes every ~500 records in one transaction: documents, their annotation sets,
spans and relations, one `Change` (history) row per created set saying what it
brought (decision record 0012), the batch's row errors, and the job's progress
and checkpoint. A redelivered task therefore resumes after the last committed
batch, and the unique constraints on (project, text hash) and (project,
external id) make a repeated batch impossible rather than unlikely.

Speed (bench/import_bench.py): rows are plain tuples written with COPY in its
text format (`_insert`), never model instances; on PostgreSQL a second thread
commits batch N while the caller parses batch N+1 (`_BatchWriter`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotations import access
from annotations import importers as importer_registry
from annotations.exceptions import ClaimbenchError, InvalidInput, NotAllowed
from annotations.importers import base as importer_base
from annotations.importers._streams import SNIFF_BYTES
from annotations.models import (
    ANALYST_STATES,
    GOLD_STATES,
    AnnotationSet,
    Change,
    ChangeAction,
    ChangeObject,
    Document,
    Job,
    JobKind,
    JobRowError,
    JobStatus,
    Membership,
    Project,
    Relation,
    Role,
    SetState,
    Span,
)
from annotations.schema import Schema, SchemaError
from annotations.services.annotating import (
    MAX_NOTE_LENGTH,
    _check_offsets,
)
from annotations.services.documents import document_fields

BATCH_SIZE = 500
# A delivery that crashed the worker this many times is a poison message: fail the job instead of looping.
MAX_DELIVERIES = 3
MAX_UPLOAD_FILES = 100
DUPLICATE_PREFIX = "skipped: duplicate"
MAX_SUMMARY_FILES = 200
STREAMING_FORMATS = frozenset({"jsonl", "doccano", "csv", "label_studio", "zip"})


def heartbeat_stale_after() -> datetime.timedelta:
    """How long a running job may go without a heartbeat before another delivery may take it over.

    A batch commits (and beats) every second or so; the default leaves a wide
    margin, and tests shorten it to watch a killed worker's job being resumed.
    """
    return datetime.timedelta(seconds=float(os.environ.get("CLAIMBENCH_JOB_STALE_SECONDS", "120")))


# --- creating ----------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedInput:
    """One file to import: its name as the user gave it and a readable binary stream."""

    name: str
    stream: BinaryIO


def _safe_name(name: str) -> str:
    # Only the last path component, and nothing that storage would read as a directory.
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    return base[:200] or "upload"


def import_job_create(
    *,
    project: Project,
    files: Iterable[UploadedInput],
    format: str = "auto",
    options: Mapping[str, Any] | None = None,
    actor: Any,
) -> Job:
    """Store the uploaded files and create a queued import Job (the caller enqueues it on commit).

    `options` holds ImportOptions fields (cleanup, csv_text_column, csv_mapping, csv_delimiter).
    Raises NotAllowed for non-managers and InvalidInput for no files, too many, or an unknown format.
    """
    if actor is not None:
        access.require_can_manage(actor, project)
    files = list(files)
    if not files:
        raise InvalidInput("choose at least one file to import", field="files")
    if len(files) > MAX_UPLOAD_FILES:
        raise InvalidInput(f"at most {MAX_UPLOAD_FILES} files per import; pack more into a ZIP", field="files")
    limit = settings.CLAIMBENCH_MAX_UPLOAD_BYTES
    too_big = [f.name for f in files if (getattr(f.stream, "size", None) or 0) > limit]
    if too_big:
        raise InvalidInput(
            f"{', '.join(too_big)}: larger than the {limit // (1024 * 1024)} MB an import accepts", field="files"
        )
    if format != "auto" and format not in importer_registry.IMPORTERS:
        known = ", ".join(sorted(importer_registry.IMPORTERS))
        raise InvalidInput(f"unknown format {format!r}; choose auto or one of {known}", field="format")
    import_options = _import_options(options or {})
    job = Job(
        project=project,
        kind=JobKind.IMPORT,
        format=format,
        parameters={"options": _options_to_json(import_options), "files": []},
        input_name=", ".join(_safe_name(f.name) for f in files)[:500],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        summary={},
    )
    stored: list[dict[str, str]] = []
    for index, upload in enumerate(files):
        name = _safe_name(upload.name)
        path = default_storage.save(f"jobs/{project.pk}/{job.uuid}/{index:03d}-{name}", upload.stream)
        stored.append({"path": path, "name": name})
    job.parameters["files"] = stored
    job.input_file.name = stored[0]["path"]
    with transaction.atomic():
        job.save()
    return job


def _import_options(raw: Mapping[str, Any]) -> importer_base.ImportOptions:
    allowed = {"cleanup", "csv_text_column", "csv_mapping", "csv_delimiter"}
    unknown = set(raw) - allowed
    if unknown:
        raise InvalidInput(f"unknown import option(s): {', '.join(sorted(unknown))}", field="options")
    values = {key: value for key, value in raw.items() if value is not None}
    mapping = values.get("csv_mapping", {})
    if not isinstance(mapping, Mapping) or not all(isinstance(v, str) for v in mapping.values()):
        raise InvalidInput("the CSV column mapping must map field names to column names", field="csv_mapping")
    values["csv_mapping"] = {str(k): v for k, v in mapping.items() if v}
    return importer_base.ImportOptions(**values)


def _options_to_json(options: importer_base.ImportOptions) -> dict[str, Any]:
    return {
        "cleanup": options.cleanup,
        "csv_text_column": options.csv_text_column,
        "csv_mapping": dict(options.csv_mapping),
        "csv_delimiter": options.csv_delimiter,
    }


# --- claiming --------------------------------------------------------------------------


def job_claim(*, job_id: int, kind: str) -> Job | None:
    """Take the job for this delivery, or None when it is finished or alive in another worker.

    One conditional UPDATE, so two deliveries of the same message can never both run it;
    a running job whose heartbeat went stale (its worker died) can be taken over. Imports
    and exports both claim through here.
    """
    now = timezone.now()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=now - heartbeat_stale_after())
    claimed = (
        Job.objects.filter(pk=job_id, kind=kind)
        .filter(claimable)
        .update(
            status=JobStatus.RUNNING,
            deliveries=F("deliveries") + 1,
            heartbeat_at=now,
            started_at=Coalesce(F("started_at"), now),
        )
    )
    if not claimed:
        return None
    return Job.objects.select_related("project").get(pk=job_id)


def job_recheck_after(job_id: int) -> float | None:
    """Seconds after which a delivery that could not claim the job should look again; None if never.

    A delivery finds the job "running" with a fresh heartbeat either because another
    worker really runs it, or because this is the immediate redelivery of a worker
    that just died (a killed pool process): its heartbeat is still fresh. Dropping
    that delivery would leave the job running forever, so the task looks again once
    the heartbeat could have gone stale; by then the job is finished, alive (look
    again later) or stale (take it over).
    """
    job = Job.objects.filter(pk=job_id).only("status").first()
    if job is None or job.status != JobStatus.RUNNING:
        return None
    return heartbeat_stale_after().total_seconds() + 1


def _inject_test_fault(job: Job) -> None:
    """Test-only (CLAIMBENCH_FAULT_INJECTION): an input named crash-worker* kills the worker process.

    Lets tests/faults prove that a job which kills its worker on every delivery
    ends failed after MAX_DELIVERIES instead of looping; never enabled in production.
    """
    if getattr(settings, "CLAIMBENCH_FAULT_INJECTION", False) and job.input_name.startswith("crash-worker"):
        os._exit(70)


# --- validating pre-annotated sets (pure) ---------------------------------------------


# Plain tuples, not model instances: a batch holds thousands of these, and building a
# Django model per span cost more than validating and writing it.
# A planned span: (local_id, label, start, end, quote, attributes, note, provenance).
PlannedSpan = tuple[str, str, int, int, str, dict[str, Any], str, dict[str, Any]]
# A planned relation: (type, source local_id, target local_id, attributes, note, provenance).
PlannedRelation = tuple[str, str, str, dict[str, Any], str, dict[str, Any]]


@dataclass
class _SetPlan:
    """A validated set, ready to insert once its document has a primary key."""

    annotator_id: int | None
    is_gold: bool
    state: str
    spans: list[PlannedSpan] = field(default_factory=list)
    relations: list[PlannedRelation] = field(default_factory=list)


def validate_parsed_set(
    schema: Schema, text: str, parsed: importer_base.ParsedSet
) -> tuple[list[PlannedSpan], list[PlannedRelation], list[str]]:
    """Check one parsed set with the service layer's rules; return planned spans, relations, problems.

    The same checks as span_create / relation_create: offsets in range and the
    quote matching (`_check_offsets`), label and attributes in the schema, note
    length, both relation ends in the set, no self-links, the right label pair.
    """
    problems: list[str] = []
    spans: list[PlannedSpan] = []
    labels: dict[str, str] = {}
    # A set lookup per span; check_label (a scan that builds its message) only for an unknown label.
    known_labels = frozenset(schema.label_keys)
    for parsed_span in parsed.spans:
        local_id, label = parsed_span.local_id, parsed_span.label
        try:
            quote = parsed_span.quote if parsed_span.quote is not None else text[parsed_span.start : parsed_span.end]
            _check_offsets(text, parsed_span.start, parsed_span.end, quote)
            if label not in known_labels:
                schema.check_label(label)
            # No attributes clean to none; skipping the call is the common case's fast path.
            attributes = schema.clean_attributes(label, parsed_span.attributes) if parsed_span.attributes else {}
        except InvalidInput as error:
            problems.append(f"span {local_id!r}: {error.message}")
            continue
        except SchemaError as error:
            problems.append(f"span {local_id!r}: {error}")
            continue
        if len(parsed_span.note) > MAX_NOTE_LENGTH:
            problems.append(f"span {local_id!r}: note is longer than {MAX_NOTE_LENGTH} characters")
            continue
        if local_id in labels:
            problems.append(f"span {local_id!r}: the id is used twice in one set")
            continue
        labels[local_id] = label
        spans.append(
            (local_id, label, parsed_span.start, parsed_span.end, quote, attributes, parsed_span.note,
             dict(parsed_span.provenance))
        )  # fmt: skip
    relations: list[PlannedRelation] = []
    seen: set[tuple[str, str, str]] = set()
    for rel in parsed.relations:
        where = f"relation {rel.type} {rel.source_local_id!r} → {rel.target_local_id!r}"
        source_label = labels.get(rel.source_local_id)
        target_label = labels.get(rel.target_local_id)
        if source_label is None or target_label is None:
            missing = rel.source_local_id if source_label is None else rel.target_local_id
            problems.append(f"{where}: no valid span {missing!r} in this set")
            continue
        if rel.source_local_id == rel.target_local_id:
            problems.append(f"{where}: a span cannot be linked to itself")
            continue
        key = (rel.type, rel.source_local_id, rel.target_local_id)
        if key in seen:
            problems.append(f"{where}: the same link is given twice")
            continue
        try:
            schema.check_relation(rel.type, source_label, target_label)
            attributes = schema.clean_attributes(rel.type, rel.attributes) if rel.attributes else {}
        except SchemaError as error:
            problems.append(f"{where}: {error}")
            continue
        seen.add(key)
        relations.append(
            (rel.type, rel.source_local_id, rel.target_local_id, attributes, rel.note, dict(rel.provenance))
        )
    return spans, relations, problems


# --- running ---------------------------------------------------------------------------


@dataclass
class _Pending:
    """One record of the current batch that parsed into a document (`fields`: see document_fields)."""

    parsed: importer_base.ParsedDocument
    fields: dict[str, Any]
    uuid: uuid.UUID
    sets: list[_SetPlan]
    document_id: int | None = None


@dataclass
class _RowError:
    source_name: str
    line: int | None
    reason: str


class _Batch:
    """What one transaction writes: documents (with sets) and row errors, plus the summary delta."""

    def __init__(self) -> None:
        self.pending: list[_Pending] = []
        self.errors: list[_RowError] = []
        # What cleanup dropped, per record: applied to the summary by whoever commits the batch.
        self.removed: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        self.consumed = 0
        self.failed = 0


def _can_write_in_background() -> bool:
    # Only on PostgreSQL (SQLite has one writer anyway) and only when the caller holds no
    # transaction: a caller inside one (tests) must see every batch in its own transaction.
    db = connections[DEFAULT_DB_ALIAS]
    return db.vendor == "postgresql" and not db.in_atomic_block


class _BatchWriter:
    """Commits batches on a second thread (with its own connection) while the caller parses the next.

    Parsing and validating is Python work and COPY is the database's, so on two
    cores they overlap. Batches still commit one at a time and in order, each
    with its checkpoint, so a redelivered job resumes exactly as without the
    thread. At most one batch waits while another commits: memory stays flat.
    All summary and job updates happen in the writer's `commit`.
    """

    def __init__(self, commit: Callable[[_Batch, int, int], None]) -> None:
        self._commit = commit
        self._queue: queue.Queue[tuple[_Batch, int, int] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="import-batch-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                if self._error is None:  # after an error, drain without writing until told to stop
                    try:
                        self._commit(*item)
                    except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                        self._error = error
        finally:
            connections.close_all()  # this thread's own connections

    def put(self, batch: _Batch, file_index: int, records: int) -> None:
        if self._error is not None:
            self.close()
        self._queue.put((batch, file_index, records))

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error


@contextlib.contextmanager
def _collector_tuned_for_batches() -> Iterator[None]:
    """Keep Python's cyclic garbage collector from rescanning the whole process for every batch.

    A batch of documents with spans keeps tens of thousands of small containers
    alive until it commits; they fill the collector's generations and set off
    full collections, each walking every object Django and the worker hold (a
    quarter of the CPU of an import with spans). Freezing what exists before the
    import takes those out of every scan, and a larger first generation means
    fewer collections. Both are restored afterwards; nothing is leaked, only
    scanned less often.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 20_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _Runner:
    def __init__(self, job: Job, progress: Callable[[Job], None] | None) -> None:
        self.job = job
        self.project = job.project
        self.schema = self.project.parsed_schema
        self.progress = progress
        self.options = _import_options(job.parameters.get("options", {}))
        self.summary: dict[str, Any] = {
            "documents_created": 0,
            "skipped_duplicates": 0,
            "spans_created": 0,
            "relations_created": 0,
            "sets_created": 0,
            "files": {},
            **(job.summary or {}),
        }
        self.members = self._members()
        self.pseudo_users: dict[str, int] = {}
        self.importer_key = job.format
        self.writer: _BatchWriter | None = None

    def _members(self) -> dict[str, int]:
        user_model = get_user_model()
        field_name = user_model.USERNAME_FIELD
        rows = list(
            Membership.objects.filter(project=self.project).values_list(f"user__{field_name}", "user__email", "user_id")
        )
        # Label Studio names annotators by e-mail; a username always wins over an e-mail.
        members = {email: user_id for _, email, user_id in rows if email}
        members.update({username: user_id for username, _, user_id in rows})
        return members

    # The checkpoint names the file being read and how many records of it are committed.
    def run(self) -> None:
        with _collector_tuned_for_batches():
            self._run()

    def _run(self) -> None:
        files: list[dict[str, str]] = self.job.parameters.get("files", [])
        checkpoint = self.job.checkpoint or {}
        start_file = int(checkpoint.get("file", 0))
        if self.job.total is None:
            self._count(files)
        self.writer = _BatchWriter(self._commit) if _can_write_in_background() else None
        try:
            for index, stored in enumerate(files):
                if index < start_file:
                    continue
                skip = int(checkpoint.get("records", 0)) if index == start_file else 0
                self._run_file(index, stored, skip)
        finally:
            if self.writer is not None:
                self.writer.close()  # waits for the last batch; raises the writer's error, if any
        self._finish()

    def _submit(self, batch: _Batch, file_index: int, records: int) -> None:
        if self.writer is None:
            self._commit(batch, file_index, records)
        else:
            self.writer.put(batch, file_index, records)

    def _count(self, files: list[dict[str, str]]) -> None:
        total = 0
        for stored in files:
            with default_storage.open(stored["path"], "rb") as stream:
                try:
                    hint = self._importer(stored["name"], stream).count_hint(stream)
                except importer_base.UnknownFormat:
                    hint = 1  # reported as one failed row when the file is read
            total += hint or 0
        self.job.total = total
        Job.objects.filter(pk=self.job.pk).update(total=total)

    def _importer(self, name: str, stream: BinaryIO) -> Any:
        key = self.job.format
        if key == "auto":
            head = stream.read(SNIFF_BYTES)
            stream.seek(0)
            key = importer_registry.detect_format(name, head)
        return importer_registry.get_importer(key)

    def _options_for(self, key: str) -> importer_base.ImportOptions:
        # Streaming formats hold one record at a time, so they may be as large as an upload
        # may be; formats read whole (text, HTML, brat) keep the importers' smaller default.
        if key in STREAMING_FORMATS:
            return dataclasses.replace(self.options, max_file_bytes=settings.CLAIMBENCH_MAX_UPLOAD_BYTES)
        return self.options

    def _run_file(self, index: int, stored: dict[str, str], skip: int) -> None:
        name = stored["name"]
        with default_storage.open(stored["path"], "rb") as stream:
            try:
                importer = self._importer(name, stream)
            except importer_base.UnknownFormat as error:
                items: Iterator[Any] = iter([importer_base.RowError(name, None, str(error))])
            else:
                self.importer_key = importer.key
                items = iter(importer.parse(stream, name, self._options_for(importer.key)))
            consumed = 0
            batch = _Batch()
            for item in items:
                consumed += 1
                if consumed <= skip:
                    continue  # committed by an earlier delivery
                self._add(batch, item)
                batch.consumed = consumed
                if len(batch.pending) + len(batch.errors) >= BATCH_SIZE:
                    self._submit(batch, index, consumed)
                    batch = _Batch()
            self._submit(batch, index + 1, 0)

    def _add(self, batch: _Batch, item: Any) -> None:
        if isinstance(item, importer_base.RowError):
            batch.errors.append(_RowError(item.source_name, item.line, item.reason))
            batch.failed += 1
            return
        parsed: importer_base.ParsedDocument = item
        problems: list[str] = []
        fields: dict[str, Any] | None
        document_uuid = uuid.uuid4()
        try:
            fields = document_fields(
                text=parsed.text,
                title=parsed.title,
                metadata=_metadata(parsed.metadata),
                **_raw_source(parsed),
                text_is_normalised=True,  # the importers' contract (importers/base.py)
            )
        except InvalidInput as error:
            problems.append(error.message)
            fields = None
        plans: list[_SetPlan] = []
        if fields is not None:
            if parsed.uuid:
                try:
                    document_uuid = uuid.UUID(str(parsed.uuid))
                except ValueError:
                    problems.append(f"uuid {parsed.uuid!r} is not a UUID")
            plans = self._plan_sets(parsed, fields["text"], problems)
        if problems:
            for problem in problems:
                batch.errors.append(_RowError(parsed.source_name, parsed.line, problem))
            batch.failed += 1
            return
        assert fields is not None
        if parsed.removed_lines:
            batch.removed.append((parsed.source_name, parsed.removed_lines, parsed.repeated_lines))
        batch.pending.append(_Pending(parsed, fields, document_uuid, plans))

    def _plan_sets(self, parsed: importer_base.ParsedDocument, text: str, problems: list[str]) -> list[_SetPlan]:
        plans: list[_SetPlan] = []
        owners: set[Any] = set()
        for parsed_set in parsed.sets:
            if parsed_set.is_gold:
                annotator_id = None
                states = GOLD_STATES
                default_state = SetState.OPEN
            elif parsed_set.annotator is None:
                annotator_id = self._pseudo_user()
                states = ANALYST_STATES
                default_state = SetState.IN_PROGRESS
            else:
                annotator_id = self.members.get(parsed_set.annotator)
                if annotator_id is None:
                    problems.append(
                        f"annotator {parsed_set.annotator!r} is not a member of this project; add them first"
                    )
                    continue
                states = ANALYST_STATES
                default_state = SetState.IN_PROGRESS
            owner = "gold" if parsed_set.is_gold else annotator_id
            if owner in owners:
                problems.append(f"two sets for {'gold' if parsed_set.is_gold else parsed_set.annotator!r}")
                continue
            owners.add(owner)
            state = parsed_set.state or default_state
            if state not in states:
                problems.append(f"state {state!r} is not one of {', '.join(states)}")
                continue
            spans, relations, set_problems = validate_parsed_set(self.schema, text, parsed_set)
            problems.extend(set_problems)
            plans.append(_SetPlan(annotator_id, parsed_set.is_gold, state, spans, relations))
        return plans

    def _pseudo_user(self) -> int:
        # Formats without annotator names (doccano, brat, predictions) land in the set of a
        # pseudo-analyst named after the format, so they never mix with a person's own work.
        name = f"{self.importer_key}-import"[:150]
        if name not in self.pseudo_users:
            user_model = get_user_model()
            user, created = user_model.objects.get_or_create(**{user_model.USERNAME_FIELD: name})
            if created:
                user.set_unusable_password()
                user.is_active = False
                user.save()
            Membership.objects.get_or_create(project=self.project, user=user, defaults={"role": Role.ANNOTATOR})
            self.pseudo_users[name] = user.pk
            self.members.setdefault(name, user.pk)
        return self.pseudo_users[name]

    def _file_summary(self, source_name: str) -> dict[str, Any]:
        # One entry per file (per archive member); a huge archive folds the tail into one entry
        # so the summary stays small enough to rewrite after every batch.
        files: dict[str, Any] = self.summary["files"]
        key = source_name if source_name in files or len(files) < MAX_SUMMARY_FILES else "(other files)"
        entry: dict[str, Any] = files.setdefault(key, {"documents": 0, "removed_lines": 0, "removed": []})
        entry.setdefault("repeated_lines", 0)  # summaries written before repeats were counted lack it
        entry.setdefault("repeated", [])
        return entry

    def _commit(self, batch: _Batch, file_index: int, records: int) -> None:
        for source_name, removed_lines, repeated_lines in batch.removed:
            file_summary = self._file_summary(source_name)
            file_summary["removed_lines"] += len(removed_lines)
            file_summary["repeated_lines"] += len(repeated_lines)
            # Keep a readable sample of what cleanup dropped, not an unbounded list; the
            # sample's repeats are named too, so the page can say why each line went.
            room = 50 - len(file_summary["removed"])
            if room > 0:
                sample = [line[:200] for line in removed_lines[:room]]
                file_summary["removed"].extend(sample)
                repeats = {line[:200] for line in repeated_lines}
                file_summary["repeated"].extend(line for line in sample if line in repeats)
        with transaction.atomic():
            _relax_commit_durability()
            created = self._insert_documents(batch)
            self._insert_sets(created)
            _insert(
                _JOB_ROW_ERRORS,
                [(self.job.pk, error.source_name[:500], error.line, error.reason) for error in batch.errors],
            )
            now = timezone.now()
            self.job.done += len(batch.pending) + batch.failed
            self.job.rows_failed += batch.failed
            self.job.checkpoint = {"file": file_index, "records": records}
            self.job.heartbeat_at = now
            self.job.summary = self.summary
            Job.objects.filter(pk=self.job.pk).update(
                done=self.job.done,
                rows_failed=self.job.rows_failed,
                checkpoint=self.job.checkpoint,
                heartbeat_at=now,
                summary=self.summary,
            )
        if self.progress is not None:
            self.progress(self.job)

    def _insert_documents(self, batch: _Batch) -> list[_Pending]:
        if not batch.pending:
            return []
        existing_hash, existing_ext = self._existing_documents(batch.pending)
        fresh: list[_Pending] = []
        for pending in batch.pending:
            text_hash, external_id = pending.fields["text_sha256"], pending.fields.get("external_id")
            duplicate_of = None
            if text_hash in existing_hash:
                duplicate_of = f"document {existing_hash[text_hash]} (same text)"
            elif external_id and external_id in existing_ext:
                duplicate_of = f"document {existing_ext[external_id]} (same external id)"
            if duplicate_of is not None:
                batch.errors.append(
                    _RowError(pending.parsed.source_name, pending.parsed.line, f"{DUPLICATE_PREFIX} of {duplicate_of}")
                )
                self.summary["skipped_duplicates"] += 1
                continue
            # Later records in the same batch dedupe against earlier ones.
            existing_hash[text_hash] = pending.uuid
            if external_id:
                existing_ext[external_id] = pending.uuid
            fresh.append(pending)
        try:
            with transaction.atomic():
                now = timezone.now()
                ids = _insert(_DOCUMENTS, [self._document_row(p, now) for p in fresh])
        except IntegrityError:
            # A concurrent import of the same text won the race; the constraint is the
            # guarantee. Insert one by one so only the clashing rows become notes.
            fresh = self._insert_one_by_one(batch, fresh)
        else:
            for pending, document_id in zip(fresh, ids, strict=True):
                pending.document_id = document_id
        for pending in fresh:
            self.summary["documents_created"] += 1
            self._file_summary(pending.parsed.source_name)["documents"] += 1
        return fresh

    def _existing_documents(self, pending: list[_Pending]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The project's documents that share a text hash or an external id with the batch, in one query.

        Returned as {text hash: uuid} and {external id: uuid}. On PostgreSQL the
        keys go as two array parameters: an IN list of a thousand placeholders
        cost more to spell and parse than the lookup itself.
        """
        hashes = list({p.fields["text_sha256"] for p in pending})
        external_ids = list({p.fields["external_id"] for p in pending if p.fields.get("external_id")})
        db = connections[DEFAULT_DB_ALIAS]
        if db.vendor == "postgresql":
            table = db.ops.quote_name(Document._meta.db_table)
            with db.cursor() as cursor:
                cursor.execute(
                    f"SELECT text_sha256, external_id, uuid FROM {table} WHERE project_id = %s"
                    " AND (text_sha256 = ANY(%s) OR (external_id <> '' AND external_id = ANY(%s)))",
                    [self.project.pk, hashes, external_ids],
                )
                rows = cursor.fetchall()
        else:
            matches = Q(text_sha256__in=hashes)
            if external_ids:
                matches |= Q(external_id__in=external_ids)
            rows = list(
                Document.objects.filter(matches, project=self.project).values_list("text_sha256", "external_id", "uuid")
            )
        wanted_hashes, wanted_ids = set(hashes), set(external_ids)
        existing_hash = {text_hash: uuid for text_hash, _, uuid in rows if text_hash in wanted_hashes}
        existing_ext = {external_id: uuid for _, external_id, uuid in rows if external_id in wanted_ids}
        return existing_hash, existing_ext

    def _document_row(self, pending: _Pending, now: datetime.datetime) -> tuple[Any, ...]:
        get = pending.fields.get
        return (
            pending.uuid, self.project.pk, get("title", ""), get("text"), get("text_sha256"), get("raw_source"),
            get("raw_source_name", ""), get("source_url", ""), get("outlet", ""), get("author", ""),
            get("published_date"), get("language", ""), get("external_id", ""), self.job.pk, now, now,
        )  # fmt: skip

    def _insert_one_by_one(self, batch: _Batch, fresh: list[_Pending]) -> list[_Pending]:
        kept: list[_Pending] = []
        for pending in fresh:
            document = Document(project=self.project, import_job=self.job, uuid=pending.uuid, **pending.fields)
            try:
                with transaction.atomic():
                    document.save(force_insert=True)
            except IntegrityError:
                batch.errors.append(
                    _RowError(
                        pending.parsed.source_name,
                        pending.parsed.line,
                        f"{DUPLICATE_PREFIX} of a document imported at the same time",
                    )
                )
                self.summary["skipped_duplicates"] += 1
                continue
            pending.document_id = document.pk
            kept.append(pending)
        return kept

    def _insert_sets(self, created: list[_Pending]) -> None:
        """Sets, spans, relations and their history: one `import` Change per set (decision record 0012).

        The job's creator is the row's actor. The API's changes feed expands the row
        into one `create` per span and relation the import wrote, so syncing clients
        see imported work as they see a span drawn by hand. One history row per span
        was half of PostgreSQL's time for an import with spans.
        """
        now = timezone.now()
        planned: list[tuple[_Pending, _SetPlan, str, str]] = []
        set_rows: list[tuple[Any, ...]] = []
        for pending in created:
            group = str(uuid.uuid4())  # one user action: every set of the document shares it
            for plan in pending.sets:
                set_uuid = uuid.uuid4()
                submitted_at = now if plan.state in (SetState.SUBMITTED, SetState.ADJUDICATED) else None
                version = 1 + len(plan.spans) + len(plan.relations)
                set_rows.append(
                    (set_uuid, pending.document_id, plan.annotator_id, plan.is_gold, plan.state, version, now, now,
                     submitted_at, None, None)
                )  # fmt: skip
                planned.append((pending, plan, group, str(set_uuid)))
        if not set_rows:
            return
        set_ids = _insert(_SETS, set_rows)
        self.summary["sets_created"] += len(set_rows)
        span_count = sum(len(plan.spans) for _, plan, _, _ in planned)
        relation_count = sum(len(plan.relations) for _, plan, _, _ in planned)
        contents = self._set_contents(planned, set_ids, now)
        if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
            self._copy_set_contents(contents, _reserve_ids(_SPANS, span_count))
        else:
            rows: dict[str, list[tuple[Any, ...]]] = {_SPAN_ROW: [], _RELATION_ROW: [], _CHANGE_ROW: []}
            for kind, row in contents:
                rows[kind].append(row)
            span_ids = _insert(_SPANS, rows[_SPAN_ROW])
            _insert(_RELATIONS, [_with_span_ids(row, span_ids) for row in rows[_RELATION_ROW]])
            _insert(_CHANGES, rows[_CHANGE_ROW])
        self.summary["spans_created"] += span_count
        self.summary["relations_created"] += relation_count

    def _set_contents(
        self, planned: list[tuple[_Pending, _SetPlan, str, str]], set_ids: list[int], now: datetime.datetime
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """Each set's span rows, its relation rows, then its history row, in file order: (kind, row).

        A relation row names its ends by their position among all the spans yielded
        (`_with_span_ids` turns positions into ids, once the spans are numbered). The
        history row records the set as imported (`ChangeAction.IMPORT`): its state, the
        job and how many spans and relations it brought. The rows themselves are the
        record of what came in (created at the row's `created_at`); whatever happens to
        them later has history rows of its own, so nothing is lost (decision record 0012).
        """
        fresh_uuids = iter(_uuid7_strings(sum(len(plan.spans) + len(plan.relations) for _, plan, _, _ in planned)))
        project_id, actor_id, job_id = self.project.pk, self.job.created_by_id, self.job.pk
        set_type, imported = ChangeObject.SET.value, ChangeAction.IMPORT.value
        position = 0
        for set_id, (_, plan, group, set_uuid) in zip(set_ids, planned, strict=True):
            span_positions: dict[str, int] = {}
            for local_id, label, start, end, quote, attributes, note, provenance in plan.spans:
                span_positions[local_id] = position
                position += 1
                yield (
                    _SPAN_ROW,
                    (next(fresh_uuids), set_id, label, start, end, quote, attributes, note, provenance, now, now),
                )
            for type_key, source_local, target_local, attributes, note, provenance in plan.relations:
                source, target = span_positions[source_local], span_positions[target_local]
                yield (
                    _RELATION_ROW,
                    (next(fresh_uuids), set_id, type_key, source, target, attributes, note, provenance, now, now),
                )
            spans, relations = len(plan.spans), len(plan.relations)
            after = {"state": plan.state, "job": job_id, "spans": spans, "relations": relations}
            yield (
                _CHANGE_ROW,
                (project_id, set_id, set_type, set_uuid, imported, None, after, group, 1 + spans + relations, None,
                 actor_id, now),
            )  # fmt: skip

    @staticmethod
    def _copy_set_contents(contents: Iterable[tuple[str, tuple[Any, ...]]], span_ids: list[int]) -> None:
        """_insert_sets' rows on PostgreSQL, spelled while the server works.

        The same rows as the portable path, in the same order, but spelled inside the
        spans' COPY: every few thousand lines go to the server, which inserts them
        while the next relation and history lines are spelled here. Built first and
        sent afterwards, the server sat idle for the Python half of each batch.
        """
        relation_lines: list[str] = []
        change_lines: list[str] = []
        next_span_id = iter(span_ids)
        with _copy_stream(_SPANS, with_ids=True) as add_span_line:
            for kind, row in contents:
                if kind is _SPAN_ROW:
                    add_span_line(f"{next(next_span_id)}\t{_span_line(row)}")
                elif kind is _RELATION_ROW:
                    relation_lines.append(_relation_line(_with_span_ids(row, span_ids)))
                else:
                    change_lines.append(_change_line(row))
        _copy_lines(_RELATIONS, relation_lines)
        _copy_lines(_CHANGES, change_lines)

    def _finish(self) -> None:
        now = timezone.now()
        Job.objects.filter(pk=self.job.pk).update(
            status=JobStatus.DONE, finished_at=now, heartbeat_at=now, total=F("done"), summary=self.summary
        )
        self.job.refresh_from_db()


def _uuid7_strings(count: int) -> list[str]:
    """`count` time-ordered (version 7, RFC 9562) UUIDs in their canonical spelling, from one read of os.urandom.

    The first 48 bits are the Unix time in milliseconds, the other 74 outside the
    version and variant bits are random, so uniqueness is as good as uuid4's for
    rows made in the same millisecond. New keys land at the right edge of the uuid
    indexes instead of on random pages: once a project's span index outgrows the
    database's cache, random keys made every insert read a cold page (decision
    record 0012: 2,008 → 2,500 imported documents/s at 5 million spans). Building
    them here rather than with uuid.UUID() and str() once per row keeps this a
    small part of an import's CPU. The time they show is the row's created_at anyway.
    """
    raw = bytearray(os.urandom(16 * count))
    for position, byte in enumerate((time.time_ns() // 1_000_000).to_bytes(6, "big")):
        raw[position::16] = bytes((byte,)) * count
    raw[6::16] = bytes(byte & 0x0F | 0x70 for byte in raw[6::16])  # version 7
    raw[8::16] = bytes(byte & 0x3F | 0x80 for byte in raw[8::16])  # RFC 4122 / 9562 variant
    digits = raw.hex()
    return [
        f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-{digits[i + 12 : i + 16]}-{digits[i + 16 : i + 20]}-"
        f"{digits[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


class _Table:
    """A table written by bulk imports: its model and the columns each row tuple fills, in order.

    The columns are every concrete field but the id, spelled out so a row is a
    plain tuple; a model field added later without being added here fails the
    first import loudly instead of being left to its database default.
    """

    def __init__(self, model: type[models.Model], attnames: tuple[str, ...]) -> None:
        meta = model._meta
        by_attname = {f.attname: f for f in meta.concrete_fields}
        expected = set(by_attname) - {meta.pk.attname}
        if set(attnames) != expected:
            raise ImproperlyConfigured(
                f"bulk import columns for {meta.label} are out of date: missing {sorted(expected - set(attnames))}, "
                f"unknown {sorted(set(attnames) - expected)}"
            )
        self.model = model
        self.attnames = attnames
        self.table = meta.db_table
        self.pk_column = meta.pk.column
        self.columns = (meta.pk.column, *(by_attname[name].column for name in attnames))
        # For psycopg's Copy.write_row, whose C code spells and escapes each value: a
        # PostgreSQL type per column, and the few conversions Python must still make
        # (JSON to its text, UUID objects to strings), as (column position, function).
        fields = [meta.pk, *(by_attname[name] for name in attnames)]
        self.copy_types = [_copy_type(model_field) for model_field in fields]
        self.conversions = tuple(
            (position, conversion)
            for position, model_field in enumerate(fields)
            if (conversion := _copy_conversion(model_field)) is not None
        )


def _copy_type(model_field: models.Field[Any, Any]) -> str:
    """The type psycopg dumps a column's (converted) value as; the server casts text to the column's type."""
    if model_field.is_relation:
        return "int8"
    kind = model_field.get_internal_type()
    if kind in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "PositiveIntegerField",
                "PositiveSmallIntegerField", "SmallIntegerField"):  # fmt: skip
        return "int8"
    return {"BooleanField": "bool", "DateTimeField": "timestamptz", "DateField": "date", "BinaryField": "bytea"}.get(
        kind, "text"
    )


def _copy_conversion(model_field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    kind = "" if model_field.is_relation else model_field.get_internal_type()
    if kind == "JSONField":
        return _json_text
    if kind == "UUIDField":
        return str
    return None


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # a type orjson refuses (an integer past 64 bits): the standard library's spelling
        return json.dumps(value)


def _copy_escape(value: str) -> str:
    # COPY's text format: backslash, newline, carriage return and tab are escaped; the
    # membership tests run at C speed and most values need no replacement at all.
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    return value


def _copy_json(value: Any) -> str:
    try:
        encoded = orjson.dumps(value).decode()
    except TypeError:  # a type orjson refuses (an integer past 64 bits): the standard library's spelling
        encoded = json.dumps(value)
    return _copy_escape(encoded)


def _copy_isoformat(value: datetime.date) -> str:
    # Every row of a batch carries the same timestamps: spell the last one once. The pair
    # is read and replaced as one tuple, so concurrent imports in threads never mix them.
    last_value, last_spelled = _last_isoformat[0]
    if value is last_value:
        return last_spelled
    spelled = value.isoformat()
    _last_isoformat[0] = (value, spelled)
    return spelled


_last_isoformat: list[tuple[Any, str]] = [(None, "")]


_DOCUMENTS = _Table(Document, (
    "uuid", "project_id", "title", "text", "text_sha256", "raw_source", "raw_source_name", "source_url", "outlet",
    "author", "published_date", "language", "external_id", "import_job_id", "created_at", "updated_at",
))  # fmt: skip
_SETS = _Table(AnnotationSet, (
    "uuid", "document_id", "annotator_id", "is_gold", "state", "version", "created_at", "updated_at", "submitted_at",
    "finished_by_id", "withdrawn_at",
))  # fmt: skip
_SPANS = _Table(Span, (
    "uuid", "annotation_set_id", "label", "start", "end", "quote", "attributes", "note", "provenance", "created_at",
    "updated_at",
))  # fmt: skip
_RELATIONS = _Table(Relation, (
    "uuid", "annotation_set_id", "type", "source_id", "target_id", "attributes", "note", "provenance", "created_at",
    "updated_at",
))  # fmt: skip
_CHANGES = _Table(Change, (
    "project_id", "annotation_set_id", "object_type", "object_uuid", "action", "before", "after", "group",
    "set_version", "reverts_id", "actor_id", "created_at",
))  # fmt: skip
_JOB_ROW_ERRORS = _Table(JobRowError, ("job_id", "source_name", "line", "reason"))
# The kinds of row _Runner._set_contents yields.
_SPAN_ROW, _RELATION_ROW, _CHANGE_ROW = "span", "relation", "change"


# COPY text lines for the tables an import writes by the ten thousand, spelled with one
# f-string per row: psycopg's write_row, which looks up a dumper for each value, cost
# twice as much CPU per row, and these rows were a third of an import's Python time.
# Each unpacks its table's row tuple (`_Table.attnames` order, checked below) after the id.


def _copy_json_object(value: Any) -> str:
    # Most attributes and provenance are empty: skip the encoder for them.
    return "{}" if value == {} else _copy_json(value)


def _copy_nullable_json(value: Any) -> str:
    return _COPY_NULL if value is None else _copy_json(value)


def _copy_nullable(value: Any) -> str:
    return _COPY_NULL if value is None else str(value)


def _span_line(row: tuple[Any, ...]) -> str:
    uuid_, set_id, label, start, end, quote, attributes, note, provenance, created_at, updated_at = row
    return (
        f"{uuid_}\t{set_id}\t{_copy_escape(label)}\t{start}\t{end}\t{_copy_escape(quote)}\t"
        f"{_copy_json_object(attributes)}\t{_copy_escape(note)}\t{_copy_json_object(provenance)}\t"
        f"{_copy_isoformat(created_at)}\t{_copy_isoformat(updated_at)}\n"
    )


def _relation_line(row: tuple[Any, ...]) -> str:
    uuid_, set_id, type_key, source_id, target_id, attributes, note, provenance, created_at, updated_at = row
    return (
        f"{uuid_}\t{set_id}\t{_copy_escape(type_key)}\t{source_id}\t{target_id}\t"
        f"{_copy_json_object(attributes)}\t{_copy_escape(note)}\t{_copy_json_object(provenance)}\t"
        f"{_copy_isoformat(created_at)}\t{_copy_isoformat(updated_at)}\n"
    )


def _change_line(row: tuple[Any, ...]) -> str:
    project_id, set_id, object_type, object_uuid, action, before, after, group, version, reverts_id, actor_id, at = row
    return (
        f"{project_id}\t{set_id}\t{object_type}\t{object_uuid}\t{action}\t{_copy_nullable_json(before)}\t"
        f"{_copy_nullable_json(after)}\t{group}\t{version}\t{_copy_nullable(reverts_id)}\t"
        f"{_copy_nullable(actor_id)}\t{_copy_isoformat(at)}\n"
    )


# What each line function unpacks; a table whose columns change fails at import time, not in a job.
_LINE_SPELLERS: dict[str, tuple[Callable[[tuple[Any, ...]], str], tuple[str, ...]]] = {
    _SPANS.table: (_span_line, (
        "uuid", "annotation_set_id", "label", "start", "end", "quote", "attributes", "note", "provenance",
        "created_at", "updated_at",
    )),
    _RELATIONS.table: (_relation_line, (
        "uuid", "annotation_set_id", "type", "source_id", "target_id", "attributes", "note", "provenance",
        "created_at", "updated_at",
    )),
    _CHANGES.table: (_change_line, (
        "project_id", "annotation_set_id", "object_type", "object_uuid", "action", "before", "after", "group",
        "set_version", "reverts_id", "actor_id", "created_at",
    )),
}  # fmt: skip
for _table in (_SPANS, _RELATIONS, _CHANGES):
    if _LINE_SPELLERS[_table.table][1] != _table.attnames:
        raise ImproperlyConfigured(f"the COPY line of {_table.table} is out of date with its columns")
# Lines sent per write: a few hundred kilobytes, never one string for a whole batch.
_LINES_PER_WRITE = 2000


def _copy_spelled(
    copy: Any, line: Callable[[tuple[Any, ...]], str], ids: list[int], rows: list[tuple[Any, ...]]
) -> None:
    """Write rows as COPY text lines, each after its id, a few thousand lines per write."""
    for start in range(0, len(rows), _LINES_PER_WRITE):
        chunk = rows[start : start + _LINES_PER_WRITE]
        copy.write("".join([f"{pk}\t{line(row)}" for pk, row in zip(ids[start:], chunk, strict=False)]))


def _relax_commit_durability() -> None:
    """On PostgreSQL, let this batch's COMMIT return before its WAL reaches the disk, and compress cheaply.

    Waiting for the flush was a third of an import's time. Safe here: a batch
    writes its data and the job's checkpoint in one transaction, so a database
    crash that loses the last fraction of a second of commits loses both
    together, and the redelivered job resumes from the checkpoint that survived
    (dedupe guards the rest). The job's final "done" is committed synchronously,
    which flushes every batch before it.

    Texts of 4 KB are TOAST-compressed as they are written; with the default
    pglz that compression was most of the server's time for an import (COPY of
    2,000 such texts: 0.66–0.91 s with pglz, 0.18–0.22 s with lz4). lz4 values
    read back transparently, so the import asks for lz4 where the server has it.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            if _server_has_lz4(db):
                cursor.execute("SET LOCAL default_toast_compression TO lz4")


def _server_has_lz4(db: Any) -> bool:
    # Asked once per connection: a server built without lz4 refuses the setting.
    known = getattr(db, "_claimbench_has_lz4", None)
    if known is None:
        with db.cursor() as cursor:
            cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            row = cursor.fetchone()
        known = bool(row and row[0])
        db._claimbench_has_lz4 = known
    return known


def _insert(table: _Table, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert row tuples (values in `table.attnames` order) in one round trip; return their new ids in order.

    On PostgreSQL: ids drawn from the table's sequence in one query, so that
    rows of the next table can point at them, then COPY through psycopg's
    write_row with a type per column: no model instances and no per-field
    conversion layer (those were most of an import's time). Elsewhere (SQLite, tests and
    single-machine use): model instances through bulk_create, which returns the keys.
    """
    if not rows:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        attnames = table.attnames
        objects = [table.model(**dict(zip(attnames, row, strict=True))) for row in rows]
        table.model._default_manager.bulk_create(objects, batch_size=BATCH_SIZE)
        return [obj.pk for obj in objects]
    quote = db.ops.quote_name
    conversions = table.conversions
    ids = _reserve_ids(table, len(rows))
    with db.cursor() as cursor:
        columns = ", ".join(quote(column) for column in table.columns)
        with cursor.cursor.copy(f"COPY {quote(table.table)} ({columns}) FROM STDIN") as copy:
            if table.table in _LINE_SPELLERS:
                _copy_spelled(copy, _LINE_SPELLERS[table.table][0], ids, rows)
                return ids
            # write_row spells and escapes in psycopg's C code (a third of the CPU of
            # joining the text format in Python) and sends in buffered chunks.
            copy.set_types(table.copy_types)
            for pk, row in zip(ids, rows, strict=True):
                values = [pk, *row]
                for position, conversion in conversions:
                    if values[position] is not None:
                        values[position] = conversion(values[position])
                copy.write_row(values)
    return ids


def _reserve_ids(table: _Table, count: int) -> list[int]:
    """`count` new ids from the table's sequence in one query (PostgreSQL), for rows that others point at."""
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        # The sequence is named once per connection: pg_get_serial_sequence inside the
        # query ran once per row (nextval is volatile), a tenth of the server's import time.
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [_sequence_name(db, table), count])
        return [pk for (pk,) in cursor.fetchall()]


@contextlib.contextmanager
def _copy_stream(table: _Table, *, with_ids: bool) -> Iterator[Callable[[str], None]]:
    """A COPY into `table` (PostgreSQL) fed one spelled line at a time; yields the function that takes a line.

    Every few thousand lines go to the server, which inserts them while the caller
    spells the next rows (of this table and of others): the two cores work at once,
    where spelling everything first left the server idle for the Python half.
    Lines carry the id first when `with_ids`, else the identity default numbers them.
    """
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    columns = ", ".join(quote(column) for column in (table.columns if with_ids else table.columns[1:]))
    pending: list[str] = []
    with db.cursor() as cursor, cursor.cursor.copy(f"COPY {quote(table.table)} ({columns}) FROM STDIN") as copy:

        def add(line: str) -> None:
            pending.append(line)
            if len(pending) >= _LINES_PER_WRITE:
                copy.write("".join(pending))
                pending.clear()

        yield add
        if pending:
            copy.write("".join(pending))


def _copy_lines(table: _Table, lines: list[str]) -> None:
    """COPY lines spelled by the table's line function, without the id column (identity default)."""
    if not lines:
        return
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    columns = ", ".join(quote(column) for column in table.columns[1:])
    with db.cursor() as cursor, cursor.cursor.copy(f"COPY {quote(table.table)} ({columns}) FROM STDIN") as copy:
        for start in range(0, len(lines), _LINES_PER_WRITE):
            copy.write("".join(lines[start : start + _LINES_PER_WRITE]))


def _insert_unnumbered(table: _Table, rows: list[tuple[Any, ...]]) -> None:
    """`_insert` for rows whose ids nobody reads back (bulk pre-annotations' spans without
    links, relations, history): on PostgreSQL COPY lines leave the id to the identity default,
    which saves reserving ids first; elsewhere `_insert`."""
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        _insert(table, rows)
        return
    line = _LINE_SPELLERS[table.table][0]
    _copy_lines(table, [line(row) for row in rows])


def _with_span_ids(relation_row: tuple[Any, ...], span_ids: list[int]) -> tuple[Any, ...]:
    """A relation row from `_Runner._set_contents`, its ends' span positions replaced by their ids."""
    relation_uuid, set_id, type_key, source, target, *rest = relation_row
    return (relation_uuid, set_id, type_key, span_ids[source], span_ids[target], *rest)


def _sequence_name(db: Any, table: _Table) -> str:
    """The table's id sequence (schema-qualified), asked once per connection."""
    known: dict[str, str] = db.__dict__.setdefault("_claimbench_sequences", {})
    name = known.get(table.table)
    if name is None:
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table.table, table.pk_column])
            (name,) = cursor.fetchone()
        known[table.table] = name
    return name


_COPY_NULL = "\\N"


def _raw_source(parsed: importer_base.ParsedDocument) -> dict[str, Any]:
    """Where a document's raw source is kept: its own bytes, or a line of the kept upload.

    A record of a multi-record file (JSON Lines, CSV, Label Studio: it has a
    line) points into the uploaded file, which stays in storage under the job
    (`Job.parameters["files"]`, never deleted): `raw_source_name` says
    "corpus.jsonl, line 12" and no copy is stored. Copying every line into the
    row doubled what an import wrote. A one-document file (text, HTML, brat)
    keeps its bytes beside the text, as DESIGN asks.
    """
    if parsed.line is None:
        return {"raw_source": parsed.raw_source, "raw_source_name": parsed.source_name}
    return {"raw_source": None, "raw_source_name": f"{parsed.source_name}, line {parsed.line}"}


def _metadata(metadata: Mapping[str, str | None]) -> dict[str, Any]:
    renamed = {("published_date" if key == "published" else key): value for key, value in metadata.items()}
    return {key: value for key, value in renamed.items() if value is not None}


def import_job_run(job_id: int, *, progress: Callable[[Job], None] | None = None) -> Job | None:
    """Run (or resume) an import job; None when this delivery has nothing to do.

    Safe to call twice for the same job: a second delivery while the first is
    alive finds the job claimed and returns; after a crash it resumes from the
    checkpoint. A job whose deliveries keep crashing fails instead of looping.
    """
    job = job_claim(job_id=job_id, kind=JobKind.IMPORT)
    if job is None:
        return None
    if job.deliveries > MAX_DELIVERIES:
        _fail(job, f"gave up after {MAX_DELIVERIES} attempts: the worker stopped each time while running this import")
        return job
    _inject_test_fault(job)
    try:
        _Runner(job, progress).run()
    except Exception as error:
        # A job never stays "running" after an error it can report: say what broke.
        _fail(job, f"the import stopped: {type(error).__name__}: {error}")
        raise
    job.refresh_from_db()
    return job


def _fail(job: Job, reason: str) -> None:
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=reason[:5000], finished_at=now)
    job.refresh_from_db()


def import_job_retry(*, job: Job, actor: Any) -> Job:
    """Queue a failed, cancelled or stalled import again; it resumes from its checkpoint. The caller enqueues it.

    A stalled job (running, no heartbeat for longer than a takeover allows) is
    taken back in the same conditional UPDATE, so a worker that comes back to
    life meanwhile and beats again keeps it instead.
    """
    if actor is not None:
        access.require_can_manage(actor, job.project)
    if job.kind != JobKind.IMPORT:
        raise InvalidInput("only imports can be retried here")
    stale = Q(status=JobStatus.RUNNING, heartbeat_at__lt=timezone.now() - heartbeat_stale_after())
    retryable = Q(status__in=(JobStatus.FAILED, JobStatus.CANCELLED)) | stale
    updated = Job.objects.filter(retryable, pk=job.pk).update(
        status=JobStatus.QUEUED, deliveries=0, error="", finished_at=None
    )
    if not updated:
        raise NotAllowed("only a failed, cancelled or stalled import can be retried")
    job.refresh_from_db()
    return job


def job_is_stalled(job: Job) -> bool:
    """A running job whose worker has not beaten for longer than a takeover allows."""
    if job.status != JobStatus.RUNNING or job.heartbeat_at is None:
        return False
    return timezone.now() - job.heartbeat_at > heartbeat_stale_after()


class QueueUnavailable(ClaimbenchError):
    """The broker (Redis) cannot take the job; the job is marked failed rather than left queued."""

    code = "queue_unavailable"


QUEUE_UNAVAILABLE_MESSAGE = (
    "The job queue is unavailable (the message broker does not answer), so the job could not start "
    "and nothing was done. Retry when the queue is back."
)


def job_send(job: Job, task: Any) -> None:
    """Send `task(job.pk)` to Celery once the transaction that created or re-queued the job commits.

    If the broker cannot take it, the job is marked failed at once (a queued job
    that no worker will ever receive would wait forever) and QueueUnavailable is
    raised; outside a transaction, as in views, straight to the caller.
    """

    def send() -> None:
        from kombu.exceptions import OperationalError as BrokerError

        try:
            task.apply_async((job.pk,))
        except (BrokerError, OSError) as error:
            Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.FAILED, error=QUEUE_UNAVAILABLE_MESSAGE, finished_at=timezone.now()
            )
            job.refresh_from_db()
            raise QueueUnavailable(QUEUE_UNAVAILABLE_MESSAGE) from error

    transaction.on_commit(send, robust=False)


def enqueue(job: Job) -> None:
    """Send the import to Celery once its row is committed (see job_send; may raise QueueUnavailable)."""
    from annotations.tasks import run_import_job

    job_send(job, run_import_job)


WORKER_PING_CACHE_KEY = "claimbench:celery-workers-answering"


def workers_available() -> bool | None:
    """Whether any Celery worker answers a ping (cached a few seconds); None when the broker cannot tell.

    Lets the job page say "no worker is running" instead of spinning. The
    filesystem broker of the single-machine default has no broadcast, so it
    cannot answer: the page then falls back to saying the job is still queued.
    """
    from django.core.cache import cache

    cached = cache.get(WORKER_PING_CACHE_KEY)
    if cached is not None:
        return None if cached == "unknown" else cached == "yes"
    from workbench.celery import app as celery_app

    answer: bool | None
    try:
        answer = bool(celery_app.control.ping(timeout=0.5))
    except Exception:  # noqa: BLE001 - any broker failure means "cannot tell", never a 500
        answer = None
    cache.set(WORKER_PING_CACHE_KEY, {True: "yes", False: "no", None: "unknown"}[answer], 5)
    return answer
