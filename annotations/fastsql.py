"""Hand-written SQL for the few statements that every single write runs.

The ORM compiles a query afresh on every call: about a millisecond of CPU for
the three-table read a write starts with, several times what PostgreSQL spends
running it, and as much again for each INSERT. A span create runs the same
handful of statements every time (authenticate the token, read the set with its
project and the caller's role, lock it, insert, bump the version, record
history), so those are written here once, as SQL text built at first use from
the models' own metadata (tables, columns, the backend's converters), and run on
Django's cursor: the same connection, transaction and error handling as the ORM.

Rows come back as real model instances (Model.from_db, with related instances
attached to the relation caches), so callers cannot tell them from ORM-loaded
ones: a column not selected is deferred and loads when read. Inserts go through
the fields' own pre_save and get_db_prep_save, so defaults, auto_now and JSON
adaptation are the model's. No signals are sent: no receiver exists for these
models (tests/annotations/test_fastsql.py checks that), and a new one would have
to be wired here too.

Works on PostgreSQL and SQLite (the embedded default); the SQL is plain except
`FOR UPDATE OF`, which is added only where the backend has it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


def _db() -> BaseDatabaseWrapper:
    """The connection itself, looked up once per call instead of through `django.db.connection`.

    The proxy resolves the connection on every attribute read (a context-local lookup); a create
    reads it about fifty times, directly and through the fields' get_db_prep_save and converters.
    """
    return connections[DEFAULT_DB_ALIAS]


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


@dataclass(frozen=True)
class Columns:
    """Some concrete columns of a model, in the model's field order, and how to read them back."""

    model: type[Model]
    fields: tuple[Field, ...]
    converters: tuple[tuple[tuple[Converter, ...], Any], ...]  # per column: (converters, expression)

    def select(self, alias: str) -> str:
        """The column list for a SELECT; callers build their SQL once (see `statement`)."""
        return ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def convert(self, values: Sequence[Any]) -> list[Any]:
        """This column list's values as the ORM would give them (UUIDs, datetimes, JSON on every backend)."""
        return self._convert(values, _db())

    def _convert(self, values: Sequence[Any], db: BaseDatabaseWrapper) -> list[Any]:
        converted = []
        for value, (converters, expression) in zip(values, self.converters, strict=True):
            for converter in converters:
                value = converter(value, expression, db)
            converted.append(value)
        return converted

    def build(self, values: Sequence[Any]) -> Any:
        """A model instance from this column list's values (converted as the ORM would)."""
        db = _db()
        return self.model.from_db(db.alias, self.attnames, self._convert(values, db))

    @functools.cached_property
    def attnames(self) -> tuple[str, ...]:
        return tuple(field.attname for field in self.fields)


@functools.cache
def _columns(model: type[Model], names: tuple[str, ...] | None, vendor: str) -> Columns:
    wanted = None if names is None else set(names)
    fields = tuple(
        field
        for field in model._meta.concrete_fields
        if wanted is None or field.name in wanted or field.attname in wanted
    )
    if wanted is not None and len(fields) != len(wanted):
        known = {field.name for field in fields} | {field.attname for field in fields}
        raise ValueError(f"{model.__name__} has no concrete field(s) {sorted(wanted - known)}")
    converters = []
    for field in fields:
        expression = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        converters.append((tuple(found), expression))
    return Columns(model=model, fields=fields, converters=tuple(converters))


def columns(model: type[Model], names: Iterable[str] | None = None) -> Columns:
    """All concrete columns of `model`, or those named (field names or attnames), in field order."""
    return _columns(model, None if names is None else tuple(sorted(names)), _db().vendor)


def attach(instance: Model, field_name: str, related: Model) -> None:
    """Put `related` in `instance`'s cache for the forward relation `field_name` (as select_related does)."""
    instance._meta.get_field(field_name).set_cached_value(instance, related)  # type: ignore[union-attr]


def storable_id(model: type[Model], value: Any) -> bool:
    """Whether `value` fits the model's integer primary key column on this backend.

    URLs carry ids of any length; the ORM answers "no such row" for one out of range,
    and so must a hand-written lookup, instead of the driver's overflow error.
    """
    low, high = _db().ops.integer_field_range(model._meta.pk.get_internal_type())  # type: ignore[union-attr]
    return isinstance(value, int) and (low is None or value >= low) and (high is None or value <= high)


def for_update_of(alias: str) -> str:
    """` FOR UPDATE OF alias` where the backend locks rows (PostgreSQL); SQLite serialises writers anyway."""
    if not connection.features.has_select_for_update:
        return ""
    if connection.features.has_select_for_update_of:
        return f" FOR UPDATE OF {alias}"
    return " FOR UPDATE"


def statement(build: Callable[..., str]) -> Callable[..., str]:
    """Cache the SQL text `build(*args)` returns, per database vendor: written once, not on every request."""
    cached = functools.cache(lambda vendor, *args: build(*args))
    return lambda *args: cached(_db().vendor, *args)


def mark_locked(instance: Model) -> None:
    """Note that `instance` was read with FOR UPDATE inside the transaction now open."""
    instance._fastsql_locked_by = _db().atomic_blocks[0]  # type: ignore[attr-defined]


def locked_in_this_transaction(instance: Model) -> bool:
    """True when `instance` was read with FOR UPDATE (mark_locked) in the transaction still open.

    The outermost atomic block object identifies the transaction: the instance holds a
    reference to it, so no later transaction can reuse its identity.
    """
    marker = getattr(instance, "_fastsql_locked_by", None)
    if marker is None:
        return False
    db = _db()
    return db.in_atomic_block and db.atomic_blocks[0] is marker


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# --- inserts -------------------------------------------------------------------------------


@functools.cache
def _insert_sql(model: type[Model], vendor: str) -> tuple[str, tuple[Field, ...]]:
    pk = model._meta.pk
    fields = tuple(field for field in model._meta.concrete_fields if field is not pk)
    names = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table(model)} ({names}) VALUES ({placeholders})"
    if connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {quote(pk.column)}"  # type: ignore[union-attr]
    return sql, fields


def insert(instance: Model) -> Model:
    """INSERT a new instance (every concrete field but an auto primary key), as save(force_insert=True) would.

    Each field's pre_save runs first (auto_now, auto_now_add), then get_db_prep_save
    (JSON, UUID and date adaptation for the backend); the new primary key is set on
    the instance, which is then a saved instance like any other.
    """
    batch = Batch()
    batch.insert(instance)
    batch.run()
    return instance


def update(model: type[Model], pk: Any, values: Mapping[str, Any]) -> None:
    """UPDATE one row's named fields by primary key, through the fields' get_db_prep_save."""
    batch = Batch()
    batch.update(model, pk, values)
    batch.run()


class Batch:
    """Statements that need nothing from each other's results, sent in one round trip.

    A span create inserts the span, bumps the set's version and inserts its history
    row: three statements whose parameters are all known in advance. On PostgreSQL
    (client-side binding, Django's default for psycopg 3) they go as one
    multi-statement query, one network round trip instead of three; elsewhere one
    by one. An error in any of them raises as it would alone, inside the caller's
    transaction. Instances inserted get their primary keys when `run` returns.
    """

    def __init__(self) -> None:
        self._statements: list[tuple[str, list[Any], Model | None]] = []

    def insert(self, instance: Model) -> None:
        db = _db()
        sql, fields = _insert_sql(type(instance), db.vendor)
        params = [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]
        self._statements.append((sql, params, instance))

    def update(self, model: type[Model], pk: Any, values: Mapping[str, Any]) -> None:
        db = _db()
        sql, fields = _update_sql(model, tuple(values), db.vendor)
        params = [field.get_db_prep_save(value, db) for field, value in zip(fields, values.values(), strict=True)]
        self._statements.append((sql, [*params, pk], None))

    def run(self) -> None:
        statements, self._statements = self._statements, []
        db = _db()
        returning = db.features.can_return_columns_from_insert
        with db.cursor() as cursor:
            if db.vendor == "postgresql" and len(statements) > 1:
                cursor.execute(
                    ";\n".join(sql for sql, _, _ in statements), [p for _, params, _ in statements for p in params]
                )
                for index, (_, _, instance) in enumerate(statements):
                    if index:
                        cursor.nextset()
                    if instance is not None:
                        _saved(instance, cursor.fetchone()[0], db.alias)
                return
            for sql, params, instance in statements:
                cursor.execute(sql, params)
                if instance is not None:
                    _saved(instance, cursor.fetchone()[0] if returning else cursor.lastrowid, db.alias)


def _saved(instance: Model, pk: Any, alias: str) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = alias


@functools.cache
def _update_sql(model: type[Model], names: tuple[str, ...], vendor: str) -> tuple[str, tuple[Field, ...]]:
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)  # type: ignore[union-attr]
    return f"UPDATE {table(model)} SET {assignments} WHERE {quote(meta.pk.column)} = %s", fields  # type: ignore[union-attr,return-value]
