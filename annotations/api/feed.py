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
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.utils import timezone

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
