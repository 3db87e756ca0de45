"""Django's ModelBackend, with the per-request user lookup written once as SQL (annotations/fastsql.py).

AuthenticationMiddleware loads the signed-in user on every request that reads
request.user; this is the same lookup (by primary key, then the backend's own
is_active rule) without compiling an ORM query each time. Passwords, permissions
and everything else are ModelBackend's, unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import backends, get_user_model
from django.core.exceptions import ValidationError

from annotations import fastsql


@fastsql.statement
def _user_sql() -> str:
    user_model = get_user_model()
    return (
        f"SELECT {fastsql.columns(user_model).select('u')} FROM {fastsql.table(user_model)} u"
        f" WHERE u.{fastsql.quote(user_model._meta.pk.column)} = %s"
    )


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        try:
            pk = user_model._meta.pk.to_python(user_id)
        except ValidationError:  # a session holding an id of the wrong shape is no session
            return None
        row = fastsql.fetch_one(_user_sql(), [pk]) if fastsql.storable_id(user_model, pk) else None
        if row is None:
            return None
        user = fastsql.columns(user_model).build(row)
        return user if self.user_can_authenticate(user) else None
