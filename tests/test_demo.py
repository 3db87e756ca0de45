"""The demo: loaded once through the service layer, with logins that work."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from annotations import access
from annotations.demo import DEMO_PROJECT_NAME, DEMO_USERS
from annotations.models import AnnotationSet, Change, Document, Membership, Project, Relation, SetState, Span

pytestmark = pytest.mark.django_db


def load() -> str:
    out = io.StringIO()
    call_command("load_demo", "--allow-production", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (get_user_model(), Project, Membership, Document, AnnotationSet, Span, Relation, Change)
    return {model.__name__: model.objects.count() for model in models}


def test_the_demo_has_users_for_each_role_one_project_five_articles_and_annotations():
    output = load()

    assert "Demo loaded." in output
    project = Project.objects.get(name=DEMO_PROJECT_NAME)
    roles = {m.user.username: m.role for m in Membership.objects.filter(project=project).select_related("user")}
    assert roles == {"maria": "manager", "rita": "reviewer", "ana": "annotator", "ben": "annotator"}
    assert project.parsed_schema.label_keys == ("claim", "attribution", "counter-claim")
    assert project.guidelines.strip()
    documents = list(project.documents.all())
    assert len(documents) == 5
    assert any("🌾" in d.text for d in documents)
    assert any(re.search("[А-Яа-я]", d.text) for d in documents)
    spans = Span.objects.filter(annotation_set__document__project=project)
    assert spans.count() > 10
    assert Relation.objects.filter(annotation_set__document__project=project).count() > 5
    assert {s.annotation_set.annotator.username for s in spans.select_related("annotation_set__annotator")} == {
        "ana",
        "ben",
    }
    for span in spans.select_related("annotation_set__document"):
        assert span.annotation_set.document.text[span.start : span.end] == span.quote
    assert AnnotationSet.objects.filter(document__project=project, state=SetState.SUBMITTED).exists()


def test_the_demo_includes_a_nested_span_pair():
    load()
    spans = list(Span.objects.all())
    assert any(
        a.annotation_set_id == b.annotation_set_id and a.pk != b.pk and a.start <= b.start and b.end <= a.end
        for a in spans
        for b in spans
    )


def test_a_second_run_changes_nothing():
    load()
    before = counts()

    output = load()

    assert "Demo already present; nothing changed." in output
    assert counts() == before


def test_the_printed_logins_work():
    output = load()
    printed = dict(re.findall(r"^\s+(\w+)\s+/\s+(\S+)\s+\w+$", output, re.MULTILINE))
    assert set(printed) == {user.username for user in DEMO_USERS}

    for username, password in printed.items():
        client = Client()
        response = client.post(reverse("login"), {"username": username, "password": password})
        assert response.status_code == 302, username
        page = client.get(reverse("annotations:project_list"))
        assert DEMO_PROJECT_NAME.encode() in page.content, username


def test_each_demo_role_can_open_a_demo_document_page():
    load()
    document = Document.objects.get(title__startswith="Mayor defends bridge budget")
    for user in get_user_model().objects.filter(username__in=["maria", "rita", "ana", "ben"]):
        client = Client()
        client.force_login(user)
        response = client.get(reverse("annotations:document_detail", args=[document.pk]))
        assert response.status_code == 200
        assert access.is_member(user, document.project)
        if user.username in ("ana", "ben"):
            assert b'data-span="' in response.content


def test_the_demo_refuses_to_load_on_a_production_site_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="published passwords"):
        call_command("load_demo", stdout=io.StringIO())
    assert not Project.objects.filter(name=DEMO_PROJECT_NAME).exists()
