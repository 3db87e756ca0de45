"""factory_boy factories. Text is written for the project, never taken from the corpus."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from annotations.models import AnnotationSet, Document, Membership, Project, Role, SetState, Span
from annotations.schema import default_schema_document
from annotations.text import normalise_text, text_sha256

DEFAULT_TEXT = "The minister said taxes will fall next year. Critics replied that the budget shows a rise of 4 percent."


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-battery")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    schema = factory.LazyFunction(default_schema_document)
    guidelines = "# Guidelines\n\nMark claims."


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    project = factory.SubFactory(ProjectFactory)
    title = factory.Sequence(lambda n: f"Article {n}")
    text = factory.Sequence(lambda n: normalise_text(f"{DEFAULT_TEXT} (No. {n})"))
    text_sha256 = factory.LazyAttribute(lambda o: text_sha256(o.text))


class AnnotationSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnnotationSet

    document = factory.SubFactory(DocumentFactory)
    annotator = factory.SubFactory(UserFactory)
    is_gold = False
    state = SetState.ASSIGNED


class SpanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Span

    annotation_set = factory.SubFactory(AnnotationSetFactory)
    label = "claim"
    start = 0
    end = 12
    quote = factory.LazyAttribute(lambda o: o.annotation_set.document.text[o.start : o.end])
