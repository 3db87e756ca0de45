"""Personal API tokens: create (the secret is returned once), revoke, authenticate.

Only the SHA-256 of a token is stored. Tokens carry 256 bits of randomness, so
a plain (unsalted, fast) hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from annotations import fastsql
from annotations.exceptions import InvalidInput, NotAllowed
from annotations.models import ApiToken

TOKEN_PREFIX = "cb_"
MAX_TOKENS_PER_USER = 50
# Writing last_used_at on every request would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = datetime.timedelta(seconds=60)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def api_token_create(*, user: Any, name: str, expires_at: datetime.datetime | None = None) -> NewToken:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a token needs a name, so you can tell your tokens apart", field="name")
    if len(name) > 100:
        raise InvalidInput("a token name has at most 100 characters", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("the expiry date is in the past", field="expires_at")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
        raise InvalidInput(f"you have {MAX_TOKENS_PER_USER} active tokens; revoke one first", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[:10], token_sha256=token_hash(secret), expires_at=expires_at
    )
    return NewToken(token=token, secret=secret)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Any | None) -> ApiToken:
    """Revoke a token. `actor=None` is for the management command (trusted)."""
    if actor is not None and token.user_id != actor.pk:
        raise NotAllowed("You can revoke only your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The usable token with this secret (its user loaded), or None. Records the last use.

    Every API request runs this, so it is one hand-written query (annotations/fastsql.py):
    the ORM would spend more CPU compiling it than PostgreSQL spends answering it.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    now = timezone.now()
    token_columns, user_columns = fastsql.columns(ApiToken, _TOKEN_FIELDS), fastsql.columns(get_user_model())
    expires = ApiToken._meta.get_field("expires_at").get_db_prep_value(now, connection)
    row = fastsql.fetch_one(_token_sql(), [token_hash(secret), expires])
    if row is None:
        return None
    token = token_columns.build(row[: len(token_columns)])
    user = user_columns.build(row[len(token_columns) :])
    if not user.is_active:
        return None
    fastsql.attach(token, "user", user)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# What a request's token carries; the rest (hash, prefix, dates) loads if ever read.
_TOKEN_FIELDS = ("id", "user", "name", "last_used_at")


@fastsql.statement
def _token_sql() -> str:
    q, user_model = fastsql.quote, get_user_model()
    token_columns, user_columns = fastsql.columns(ApiToken, _TOKEN_FIELDS), fastsql.columns(user_model)
    return (
        f"SELECT {token_columns.select('t')}, {user_columns.select('u')} FROM {fastsql.table(ApiToken)} t"
        f" INNER JOIN {fastsql.table(user_model)} u ON u.{q('id')} = t.{q('user_id')}"
        f" WHERE t.{q('token_sha256')} = %s AND t.{q('revoked_at')} IS NULL"
        f" AND (t.{q('expires_at')} IS NULL OR t.{q('expires_at')} > %s)"
    )
