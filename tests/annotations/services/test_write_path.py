"""The single-write path: what one span or link write reads and asks, and that cutting it kept every rule."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from annotations import access, selectors
from annotations.exceptions import InvalidInput, QuoteMismatch, StaleVersion
from annotations.models import AnnotationSet, Change, Relation, Role, SetState, Span
from annotations.schema import parse_schema_cached
from annotations.services import annotating, projects, tokens
from tests.annotations.services.conftest import current_version, offsets_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

QUOTE = "taxes will fall next year"
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT", "ROLLBACK")


def round_trips(context: CaptureQueriesContext) -> list[str]:
    """The SQL a request sent, without the transaction control around it (tests run inside a transaction)."""
    return [q["sql"] for q in context.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


def statements(context: CaptureQueriesContext) -> list[str]:
    """Every statement, a batch (fastsql.Batch: several statements in one round trip on PostgreSQL) split up."""
    return [part for sql in round_trips(context) for part in sql.split(";\n")]


def expected_round_trips(statement_count: int, batched: int) -> int:
    """PostgreSQL sends a batch of `batched` statements as one round trip; SQLite sends each alone."""
    return statement_count - batched + 1 if connection.vendor == "postgresql" else statement_count


def set_for_write(world: Any, user: Any = None) -> AnnotationSet:
    return selectors.annotation_set_get_for_write(set_id=world.analyst_set.pk, user=user or world.analyst)


# --- the write-shaped selector ----------------------------------------------------------------


def test_the_write_selector_hides_other_projects_and_blind_sets_as_404(world):
    with pytest.raises(Http404):
        selectors.annotation_set_get_for_write(set_id=world.analyst_set.pk, user=world.outsider)
    with pytest.raises(Http404):  # blind mode: another analyst's set does not exist for you
        selectors.annotation_set_get_for_write(set_id=world.analyst_set.pk, user=world.other_analyst)
    with pytest.raises(Http404):
        selectors.annotation_set_get_for_write(set_id=10**9, user=world.analyst)
    assert set_for_write(world, world.reviewer).pk == world.analyst_set.pk


def test_the_write_selector_reads_the_role_in_the_same_query(world):
    with CaptureQueriesContext(connection) as context:
        annotation_set = set_for_write(world)
        role = access.role_in(world.analyst, annotation_set.document.project)
        annotation_set.document.project.parsed_schema.check_label("claim")
    assert role == "annotator"
    assert len(statements(context)) == 1


def test_a_removed_member_is_refused_at_once_even_with_the_role_read_by_the_selector(world):
    annotation_set = set_for_write(world)
    projects.membership_remove(project=world.project, user=world.analyst, actor=world.manager)
    with pytest.raises(Http404):
        set_for_write(world)
    assert annotation_set.pk == world.analyst_set.pk


# --- span_create without the document text in hand --------------------------------------------


def test_a_write_without_the_text_in_hand_checks_the_quote_with_a_substring(world):
    annotation_set = set_for_write(world)
    start, end = offsets_of(world.analyst_set, QUOTE)
    with pytest.raises(QuoteMismatch):
        annotating.span_create(
            annotation_set=annotation_set, label="claim", start=start, end=end, quote="taxes will rise next year",
            actor=world.analyst, expected_version=annotation_set.version,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="past the end of the text"):
        length = len(world.document.text)
        annotating.span_create(
            annotation_set=annotation_set, label="claim", start=length - 2, end=length + 5, quote="x" * 7,
            actor=world.analyst, expected_version=annotation_set.version,
        )  # fmt: skip
    span = annotating.span_create(
        annotation_set=annotation_set, label="claim", start=start, end=end, quote=QUOTE,
        actor=world.analyst, expected_version=annotation_set.version,
    )  # fmt: skip
    assert Span.objects.get(pk=span.pk).quote == QUOTE


def test_one_span_create_asks_the_lock_and_writes_nothing_else(world):
    annotation_set = set_for_write(world)
    start, end = offsets_of(world.analyst_set, QUOTE)
    with CaptureQueriesContext(connection) as context:
        annotating.span_create(
            annotation_set=annotation_set, label="claim", start=start, end=end, quote=QUOTE,
            actor=world.analyst, expected_version=annotation_set.version,
        )  # fmt: skip
    sql = statements(context)
    # The lock (with the quote's substring), then the span, the version bump and the history row in one batch.
    assert [s.split()[0] for s in sql] == ["SELECT", "INSERT", "UPDATE", "INSERT"]
    assert len(round_trips(context)) == expected_round_trips(4, batched=3)
    assert not [s for s in sql if s.startswith('SELECT "annotations_membership"')]


def test_a_stale_version_is_refused_against_the_locked_row_not_the_callers_copy(world, make_span):
    annotation_set = set_for_write(world)  # read at version 1
    make_span(world.analyst_set, world.analyst, "Critics replied")  # another tab: now version 2
    start, end = offsets_of(world.analyst_set, QUOTE)
    with pytest.raises(StaleVersion) as refused:
        annotating.span_create(
            annotation_set=annotation_set, label="claim", start=start, end=end, quote=QUOTE,
            actor=world.analyst, expected_version=annotation_set.version,
        )  # fmt: skip
    assert refused.value.current == current_version(world.analyst_set)


# --- duplicate ids without a savepoint per INSERT -----------------------------------------------


def test_a_taken_span_id_inside_a_callers_transaction_leaves_that_transaction_usable(world, make_span):
    span = make_span(world.analyst_set, world.analyst, QUOTE)
    with transaction.atomic():
        with pytest.raises(InvalidInput, match="already exists") as refused:
            make_span(world.analyst_set, world.analyst, QUOTE, span_uuid=span.uuid)
        assert refused.value.field == "uuid"
        make_span(world.analyst_set, world.analyst, "Critics replied")  # the same transaction goes on
    assert Span.objects.filter(annotation_set=world.analyst_set).count() == 2
    assert Change.objects.filter(annotation_set=world.analyst_set).count() == 2


def test_a_taken_link_id_is_refused_as_bad_input(world, make_span):
    attribution = make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    claim = make_span(world.analyst_set, world.analyst, QUOTE)
    relation = annotating.relation_create(
        annotation_set=world.analyst_set, type="sources", source=attribution, target=claim,
        actor=world.analyst, expected_version=current_version(world.analyst_set),
    )  # fmt: skip
    other_claim = make_span(world.analyst_set, world.analyst, "budget")
    version = current_version(world.analyst_set)
    with pytest.raises(InvalidInput, match="already exists") as refused:
        annotating.relation_create(
            annotation_set=world.analyst_set, type="sources", source=attribution, target=other_claim,
            actor=world.analyst, expected_version=version, relation_uuid=relation.uuid,
        )  # fmt: skip
    assert refused.value.field == "uuid"
    assert Relation.objects.count() == 1
    assert current_version(world.analyst_set) == version


# --- the parsed schema, cached per project while its document stays the same -----------------


def test_the_parsed_schema_is_reused_while_the_stored_schema_is_unchanged(world):
    first = parse_schema_cached(world.project.pk, world.project.schema)
    assert parse_schema_cached(world.project.pk, json.loads(json.dumps(world.project.schema))) is first


def test_a_schema_edit_is_seen_by_the_next_write(world, make_span):
    with pytest.raises(InvalidInput, match="unknown label"):  # also puts the schema in the cache
        make_span(world.analyst_set, world.analyst, QUOTE, label="opinion")
    schema = json.loads(json.dumps(world.project.schema))
    schema["labels"].append({**schema["labels"][0], "key": "opinion", "name": "Opinion", "hotkey": "9"})
    projects.schema_update(project=world.project, schema=schema, actor=world.manager)
    assert make_span(world.analyst_set, world.analyst, QUOTE, label="opinion").label == "opinion"


def test_an_in_place_edit_of_the_stored_document_is_not_hidden_by_the_cache(world):
    document = json.loads(json.dumps(world.project.schema))
    parse_schema_cached(world.project.pk, document)
    document["labels"][0]["name"] = "Assertion"
    assert parse_schema_cached(world.project.pk, document).labels[0].name == "Assertion"


# --- the request path --------------------------------------------------------------------------


def test_an_api_span_create_reads_twice_and_writes_once(world):
    secret = tokens.api_token_create(user=world.analyst, name="sync").secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/").status_code == 200  # the token's last use is written at most once a minute
    start, end = offsets_of(world.analyst_set, QUOTE)
    version = current_version(world.analyst_set)
    with CaptureQueriesContext(connection) as context:
        response = client.post(
            f"/api/v1/sets/{world.analyst_set.pk}/spans/",
            {"label": "claim", "start": start, "end": end, "quote": QUOTE},
            format="json",
            HTTP_IF_MATCH=f'"{version}"',
        )
    assert response.status_code == 201, response.content
    assert response["ETag"] == f'"{version + 1}"'
    # The token with its user; the set with the caller's role and the quote's substring, which is also
    # the lock; then the span, the version and the history row in one batch.
    sql = statements(context)
    assert [s.split()[0] for s in sql] == ["SELECT", "SELECT", "INSERT", "UPDATE", "INSERT"]
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in sql[1]
    assert len(round_trips(context)) == expected_round_trips(5, batched=3)
    span = Span.objects.get(uuid=response.json()["uuid"])
    assert (span.quote, span.annotation_set.version) == (QUOTE, version + 1)
    assert Change.objects.get(object_uuid=span.uuid).set_version == version + 1


def test_an_api_span_create_keeps_its_refusals_in_order(world, make_span):
    """The pre-locking read keeps every refusal: 404 for a set you cannot see, 412 for a stale
    version, 400 for a wrong quote, and nothing is written by a refused request."""
    secrets = {
        user: tokens.api_token_create(user=user, name="t").secret for user in (world.analyst, world.other_analyst)
    }
    start, end = offsets_of(world.analyst_set, QUOTE)
    url = f"/api/v1/sets/{world.analyst_set.pk}/spans/"

    def post(user: Any, version: int, quote: str = QUOTE) -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secrets[user]}")
        body = {"label": "claim", "start": start, "end": end, "quote": quote}
        return client.post(url, body, format="json", HTTP_IF_MATCH=f'"{version}"')

    version = current_version(world.analyst_set)
    assert post(world.other_analyst, version).status_code == 404  # blind mode: another analyst's set
    assert post(world.analyst, version, quote="taxes will rise next year").status_code == 400
    make_span(world.analyst_set, world.analyst, "Critics replied")  # another tab moves the version on
    assert post(world.analyst, version).status_code == 412
    assert Span.objects.filter(annotation_set=world.analyst_set).count() == 1
    assert post(world.analyst, version + 1).status_code == 201


def test_a_page_span_create_asks_no_membership_query_and_opens_no_savepoint_of_its_own(world, client_for):
    client = client_for(world.analyst)
    start, end = offsets_of(world.analyst_set, QUOTE)
    body = {"label": "claim", "start": start, "end": end, "quote": QUOTE, "uuid": str(uuid.uuid4()),
            "expected_version": current_version(world.analyst_set)}  # fmt: skip
    url = reverse("annotations:annotate_span_create", args=[world.analyst_set.pk])
    with CaptureQueriesContext(connection) as context:
        response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    assert not [s for s in statements(context) if s.startswith('SELECT "annotations_membership"')]
    # Only the view's transaction (its read locks the set): one savepoint here, because the test runs
    # inside a transaction, and none of the service's own.
    assert sum(q["sql"].startswith("SAVEPOINT") for q in context.captured_queries) == 1
    # The set with its text is the lock (after the session and user reads); nothing else is read
    # before the span, the version and the history row go in.
    sql = statements(context)
    first_insert = next(index for index, s in enumerate(sql) if s.startswith("INSERT"))
    assert [s.split()[0] for s in sql[first_insert - 1 : first_insert + 3]] == ["SELECT", "INSERT", "UPDATE", "INSERT"]
    assert sum('FROM "annotations_annotationset"' in s for s in sql[:first_insert]) == 1


# --- history rows without database foreign-key checks on project and actor (decision record 0009) ------


def test_history_keeps_its_rows_when_their_author_is_deleted_and_goes_with_its_project(world, make_span):
    helper = UserFactory(username="temporary-reviewer")
    projects.membership_set_role(project=world.project, user=helper, role=Role.REVIEWER, actor=world.manager)
    gold = AnnotationSet.objects.create(document=world.document, is_gold=True, state=SetState.OPEN)
    make_span(world.analyst_set, world.analyst, QUOTE)
    make_span(gold, helper, QUOTE)
    by_helper = Change.objects.get(annotation_set=gold, actor=helper)
    projects.membership_remove(project=world.project, user=helper, actor=world.manager)
    helper.delete()
    by_helper.refresh_from_db()
    assert by_helper.actor_id is None and by_helper.after["quote"] == QUOTE
    project_id = world.project.pk
    assert Change.objects.filter(project_id=project_id).count() == 2
    world.project.delete()
    assert not Change.objects.filter(project_id=project_id).exists()
