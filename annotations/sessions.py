"""The database session store, its per-request read written once as SQL (annotations/fastsql.py).

Every page request and every save on the annotation page reads its session first;
the ORM spends more CPU compiling that lookup than PostgreSQL spends answering it.
Same table, same rules (an expired session is no session), so switching to this
store keeps everyone signed in. Settings: SESSION_ENGINE = "annotations.sessions".
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from annotations import fastsql


@fastsql.statement
def _session_sql() -> str:
    q = fastsql.quote
    return (
        f"SELECT {fastsql.columns(Session).select('s')} FROM {fastsql.table(Session)} s"
        f" WHERE s.{q('session_key')} = %s AND s.{q('expire_date')} > %s"
    )


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        now = Session._meta.get_field("expire_date").get_db_prep_value(timezone.now(), connection)
        row = fastsql.fetch_one(_session_sql(), [self.session_key, now])
        if row is None:
            self._session_key = None
            return None
        return fastsql.columns(Session).build(row)
