"""The changes feed's commit-safety rule.

Change ids come from a sequence when the row is inserted, but transactions
commit in any order: a client that read up to id 120 could later find id 119
committed by a slower transaction and never see it. So the feed serves a change
only once every change with a smaller id is settled (committed or rolled back):

    bound = min(now, start of the oldest writing transaction still open) - COMMIT_LAG
    serve changes in id order while created_at < bound; stop at the first younger one.

A change still in flight was created after its transaction started, so its
created_at is >= that start; every change later in id order was created later
still (give or take the lag, which absorbs clock skew between web processes
and the time between creating a row and inserting it). On PostgreSQL the
oldest writing transaction comes from pg_stat_activity (transactions with an
xid, i.e. that have written; long read-only exports do not hold the feed back).
SQLite has one writer at a time, so ids commit in order and only the lag applies.

An import writes one history row per set it brings (`action = "import"`, decision
record 0012), not one per span. The feed serves that row as the set's own entry
followed by a `create` for each span and relation the import wrote, read from
their tables: the same items a client gets for work drawn by hand. Spans changed
since then come in their current state, and their later changes follow with
later ids, so a client that applies the feed in order ends at the same state.
The expanded items share the import row's id (its feed position); a page counts
items, and never splits one imported set across two pages.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from annotations.models import ChangeAction, ChangeObject, Relation, Span
from annotations.services.annotating import relation_snapshot_of, span_snapshot_of

T = TypeVar("T")


def commit_lag() -> datetime.timedelta:
    return datetime.timedelta(seconds=float(getattr(settings, "CLAIMBENCH_CHANGES_COMMIT_LAG", 2.0)))


def oldest_writing_transaction_start() -> datetime.datetime | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def safe_bound(now: datetime.datetime | None = None) -> datetime.datetime:
    now = now or timezone.now()
    oldest = oldest_writing_transaction_start()
    return min(now, oldest or now) - commit_lag()


def settled_prefix(rows: Iterable[T], bound: datetime.datetime, created_at: Any = None) -> tuple[list[T], bool]:
    """The leading rows created before `bound`; True if a younger row cut the list short."""
    get = created_at or (lambda row: row["created_at"])
    taken: list[T] = []
    for row in rows:
        if get(row) >= bound:
            return taken, True
        taken.append(row)
    return taken, False


def last_id(rows: Sequence[dict[str, Any]], default: int) -> int:
    return rows[-1]["id"] if rows else default


def _is_import(row: dict[str, Any]) -> bool:
    return bool(row["action"] == ChangeAction.IMPORT)


def item_count(row: dict[str, Any], object_type: str | None) -> int:
    """How many feed items a history row becomes (an import row: its set, spans and relations)."""
    if not _is_import(row):
        return 1
    counts = row["after"] or {}
    spans, relations = int(counts.get("spans", 0)), int(counts.get("relations", 0))
    return {None: 1 + spans + relations, ChangeObject.SPAN: spans, ChangeObject.RELATION: relations}.get(object_type, 1)


def fill_page(rows: Sequence[dict[str, Any]], page_size: int, object_type: str | None) -> list[dict[str, Any]]:
    """The leading rows whose items fit in `page_size` (always at least one row, so the feed moves on)."""
    taken: list[dict[str, Any]] = []
    items = 0
    for row in rows:
        size = max(1, item_count(row, object_type))
        if taken and items + size > page_size:
            break
        taken.append(row)
        items += size
    return taken


def expand(rows: Sequence[dict[str, Any]], object_type: str | None, entry: Any) -> list[dict[str, Any]]:
    """Feed items for `rows` in order: `entry(row)` for each, an import row followed by what it wrote.

    `entry` spells one row as the API does; the imported spans and relations are
    read in two queries for the whole page, each a set's rows created with its import.
    """
    imports = [row for row in rows if _is_import(row)]
    spans: dict[int, list[dict[str, Any]]] = {}
    relations: dict[int, list[dict[str, Any]]] = {}
    if imports:
        imported_at = {row["annotation_set_id"]: row["created_at"] for row in imports}
        latest = max(imported_at.values())
        if object_type in (None, ChangeObject.SPAN):
            for span in (
                Span.objects.filter(annotation_set_id__in=imported_at, created_at__lte=latest)
                .order_by("pk")
                .values("annotation_set_id", "uuid", "label", "start", "end", "quote", "attributes", "note",
                        "provenance", "created_at")
            ):  # fmt: skip
                if span["created_at"] <= imported_at[span["annotation_set_id"]]:
                    spans.setdefault(span["annotation_set_id"], []).append(
                        span_snapshot_of(str(span["uuid"]), span["label"], span["start"], span["end"], span["quote"],
                                         span["attributes"], span["note"], span["provenance"])
                    )  # fmt: skip
        if object_type in (None, ChangeObject.RELATION):
            for relation in (
                Relation.objects.filter(annotation_set_id__in=imported_at, created_at__lte=latest)
                .order_by("pk")
                .values("annotation_set_id", "uuid", "type", "attributes", "note", "provenance", "created_at",
                        source_uuid=models.F("source__uuid"), target_uuid=models.F("target__uuid"))
            ):  # fmt: skip
                if relation["created_at"] <= imported_at[relation["annotation_set_id"]]:
                    relations.setdefault(relation["annotation_set_id"], []).append(
                        relation_snapshot_of(str(relation["uuid"]), relation["type"], str(relation["source_uuid"]),
                                             str(relation["target_uuid"]), relation["attributes"], relation["note"],
                                             relation["provenance"])
                    )  # fmt: skip
    results: list[dict[str, Any]] = []
    for row in rows:
        if not _is_import(row):
            results.append(entry(row))
            continue
        if object_type in (None, ChangeObject.SET):
            results.append(entry(row))
        for kind, snapshots in ((ChangeObject.SPAN, spans), (ChangeObject.RELATION, relations)):
            for snapshot in snapshots.get(row["annotation_set_id"], ()):
                created = {**row, "object_type": kind.value, "object_uuid": snapshot["uuid"],
                           "action": ChangeAction.CREATE.value, "before": None, "after": snapshot}  # fmt: skip
                results.append(entry(created))
    return results
