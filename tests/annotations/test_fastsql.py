"""annotations/fastsql.py: hand-written statements must give what the ORM gives, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from annotations import fastsql, selectors
from annotations.auth_backends import ModelBackend
from annotations.models import AnnotationSet, ApiToken, Change, Document, Project, Relation, Span
from annotations.services import tokens

pytestmark = pytest.mark.django_db

MODELS_WRITTEN_BY_FASTSQL = (AnnotationSet, Change, Relation, Span)


def test_no_signal_receiver_is_skipped_by_the_hand_written_writes():
    # fastsql.insert and Batch send no signals: a receiver added for these models would need wiring there.
    for model in MODELS_WRITTEN_BY_FASTSQL:
        assert not pre_save.has_listeners(model), model
        assert not post_save.has_listeners(model), model


def test_a_row_built_by_hand_equals_the_orm_instance_field_by_field(world):
    columns = fastsql.columns(AnnotationSet)
    row = fastsql.fetch_one(
        f"SELECT {columns.select('s')} FROM {fastsql.table(AnnotationSet)} s WHERE s.id = %s", [world.analyst_set.pk]
    )
    built, loaded = columns.build(row), AnnotationSet.objects.get(pk=world.analyst_set.pk)
    for field in AnnotationSet._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(loaded, field.attname), field.name
    assert isinstance(built.uuid, uuid.UUID) and isinstance(built.is_gold, bool)
    assert built.created_at.tzinfo is not None


def test_a_partial_column_list_defers_the_rest_which_loads_on_access(world):
    columns = fastsql.columns(Document, ("id", "project"))
    row = fastsql.fetch_one(
        f"SELECT {columns.select('d')} FROM {fastsql.table(Document)} d WHERE d.id = %s", [world.document.pk]
    )
    document = columns.build(row)
    assert document.get_deferred_fields() >= {"text", "title"}
    assert document.text == world.document.text  # one query of its own, as with .only()


def test_an_unknown_column_name_is_refused():
    with pytest.raises(ValueError, match="no concrete field"):
        fastsql.columns(Project, ("id", "nonexistent"))


def test_a_batch_inserts_and_updates_and_sets_primary_keys(world):
    now = world.analyst_set.updated_at
    span = Span(annotation_set=world.analyst_set, label="claim", start=0, end=3, quote=world.document.text[:3],
                attributes={"certainty": "high"}, created_at=now, updated_at=now)  # fmt: skip
    change = Change(project_id=world.project.pk, annotation_set=world.analyst_set, object_type="span",
                    object_uuid=span.uuid, action="create", after={"quote": "«é»"}, set_version=7)  # fmt: skip
    batch = fastsql.Batch()
    batch.insert(span)
    batch.update(AnnotationSet, world.analyst_set.pk, {"version": 7})
    batch.insert(change)
    with CaptureQueriesContext(connection) as context:
        batch.run()
    assert len(context.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    assert Span.objects.get(pk=span.pk).attributes == {"certainty": "high"}
    assert Change.objects.get(pk=change.pk).after == {"quote": "«é»"}
    assert AnnotationSet.objects.get(pk=world.analyst_set.pk).version == 7
    assert not span._state.adding and span._state.db == connection.alias


def test_a_failing_statement_in_a_batch_raises_and_the_transaction_keeps_nothing(world):
    now = world.analyst_set.updated_at
    taken = Span.objects.create(annotation_set=world.analyst_set, label="claim", start=0, end=3, quote="abc")
    duplicate = Span(uuid=taken.uuid, annotation_set=world.analyst_set, label="claim", start=0, end=3, quote="abc",
                     created_at=now, updated_at=now)  # fmt: skip
    batch = fastsql.Batch()
    batch.update(AnnotationSet, world.analyst_set.pk, {"version": 99})
    batch.insert(duplicate)
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.run()
    assert AnnotationSet.objects.get(pk=world.analyst_set.pk).version != 99


def locked_set(world) -> AnnotationSet:
    return selectors.annotation_set_get_for_write(set_id=world.analyst_set.pk, user=world.analyst, lock=True)


def test_a_lock_mark_holds_only_inside_the_transaction_that_took_it(world):
    with transaction.atomic():
        annotation_set = selectors.annotation_set_get_for_write(
            set_id=world.analyst_set.pk, user=world.analyst, lock=True
        )
        assert fastsql.locked_in_this_transaction(annotation_set)
    # pytest-django wraps each test in a transaction, so "after" is a new inner block, not a new transaction;
    # a set read without lock=True is never taken for locked.
    unlocked = selectors.annotation_set_get_for_write(set_id=world.analyst_set.pk, user=world.analyst)
    assert not fastsql.locked_in_this_transaction(unlocked)


@pytest.mark.django_db(transaction=True)
def test_a_lock_mark_from_a_finished_transaction_is_not_trusted(world):
    with transaction.atomic():
        annotation_set = selectors.annotation_set_get_for_write(
            set_id=world.analyst_set.pk, user=world.analyst, lock=True
        )
    assert not fastsql.locked_in_this_transaction(annotation_set)
    with transaction.atomic():
        assert not fastsql.locked_in_this_transaction(annotation_set)


def test_the_token_lookup_refuses_revoked_expired_and_inactive(world):
    secret = tokens.api_token_create(user=world.analyst, name="sync").secret
    found = tokens.api_token_authenticate(secret)
    assert found is not None and found.user == world.analyst and found.name == "sync"
    ApiToken.objects.filter(pk=found.pk).update(expires_at=found.created_at)
    assert tokens.api_token_authenticate(secret) is None
    ApiToken.objects.filter(pk=found.pk).update(expires_at=None)
    world.analyst.is_active = False
    world.analyst.save()
    assert tokens.api_token_authenticate(secret) is None
    world.analyst.is_active = True
    world.analyst.save()
    tokens.api_token_revoke(token=found, actor=world.analyst)
    assert tokens.api_token_authenticate(secret) is None


def test_an_id_too_large_for_the_column_is_no_such_row_as_with_the_orm(world):
    huge = 2**70  # URLs carry ids of any length; the driver would overflow
    with pytest.raises(Http404):
        selectors.project_get(project_id=huge, user=world.analyst)
    with pytest.raises(Http404):
        selectors.annotation_set_get_for_write(set_id=huge, user=world.analyst)
    assert ModelBackend().get_user(huge) is None
    assert not fastsql.storable_id(Project, -(2**70)) and fastsql.storable_id(Project, world.project.pk)
