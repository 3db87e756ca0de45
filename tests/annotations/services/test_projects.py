"""Project services: creation with the default schema, members, assignment, schema changes."""

from __future__ import annotations

import pytest

from annotations import access
from annotations.exceptions import InvalidInput, NotAllowed
from annotations.models import AnnotationSet, Membership, Role, SetState, Span
from annotations.schema import default_schema_document
from annotations.services import projects
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_new_project_has_the_default_schema_and_its_creator_as_manager(world):
    assert world.project.schema == default_schema_document()
    assert world.project.parsed_schema.label_keys == ("claim", "attribution", "counter-claim")
    assert access.role_in(world.manager, world.project) == Role.MANAGER
    assert world.project.guidelines.strip()


def test_a_project_needs_a_name_and_a_sane_analyst_count(db):
    owner = UserFactory()
    with pytest.raises(InvalidInput) as refused:
        projects.project_create(name="   ", actor=owner)
    assert refused.value.field == "name"
    with pytest.raises(InvalidInput, match="between 1 and 20"):
        projects.project_create(name="Too many", actor=owner, annotators_per_document=0)


def test_only_managers_change_roles_and_roles_must_exist(world):
    newcomer = UserFactory()
    with pytest.raises(NotAllowed, match="Only project managers"):
        projects.membership_set_role(project=world.project, user=newcomer, role=Role.ANNOTATOR, actor=world.reviewer)
    with pytest.raises(InvalidInput, match="role must be one of"):
        projects.membership_set_role(project=world.project, user=newcomer, role="boss", actor=world.manager)

    projects.membership_set_role(project=world.project, user=newcomer, role=Role.REVIEWER, actor=world.manager)
    assert access.role_in(newcomer, world.project) == Role.REVIEWER


def test_the_last_manager_cannot_remove_themselves(world):
    with pytest.raises(InvalidInput, match="at least one manager"):
        projects.membership_remove(project=world.project, user=world.manager, actor=world.manager)
    projects.membership_remove(project=world.project, user=world.other_analyst, actor=world.manager)
    assert not Membership.objects.filter(project=world.project, user=world.other_analyst).exists()


def test_assigning_is_idempotent_and_only_for_members(world):
    again = projects.annotation_set_assign(document=world.document, annotator=world.analyst, actor=world.manager)
    assert again.pk == world.analyst_set.pk
    assert again.state == SetState.ASSIGNED
    with pytest.raises(InvalidInput, match="is not a member"):
        projects.annotation_set_assign(document=world.document, annotator=world.outsider, actor=world.manager)
    with pytest.raises(NotAllowed):
        projects.annotation_set_assign(document=world.document, annotator=world.analyst, actor=world.analyst)


def test_there_is_one_gold_set_per_document(world):
    first = projects.gold_set_get_or_create(document=world.document)
    second = projects.gold_set_get_or_create(document=world.document)
    assert first.pk == second.pk
    assert AnnotationSet.objects.filter(document=world.document, is_gold=True).count() == 1


def test_a_schema_update_flags_spans_whose_label_disappeared_and_never_deletes_them(world, make_span):
    kept = make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    orphan = make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    schema = default_schema_document()
    schema["labels"] = [label for label in schema["labels"] if label["key"] != "attribution"]
    schema["relation_types"] = [rt for rt in schema["relation_types"] if rt["key"] != "sources"]
    schema["attributes"] = [a for a in schema["attributes"] if a["on"] != ["attribution"]]

    flagged = projects.schema_update(project=world.project, schema=schema, actor=world.manager)

    assert [s.uuid for s in flagged] == [orphan.uuid]
    assert Span.objects.filter(uuid__in=[kept.uuid, orphan.uuid]).count() == 2
    world.project.refresh_from_db()
    assert world.project.parsed_schema.label_keys == ("claim", "counter-claim")


def test_a_broken_schema_is_refused_saying_what_is_wrong(world):
    schema = default_schema_document()
    schema["relation_types"][0]["from"] = ["speaker"]
    with pytest.raises(InvalidInput, match="names unknown labels: speaker") as refused:
        projects.schema_update(project=world.project, schema=schema, actor=world.manager)
    assert refused.value.field == "schema"
    world.project.refresh_from_db()
    assert world.project.schema == default_schema_document()


def test_only_managers_update_the_schema(world):
    with pytest.raises(NotAllowed):
        projects.schema_update(project=world.project, schema=default_schema_document(), actor=world.reviewer)
