"""A set a manager withdrew keeps its work, leaves the analyst's queue, and is read-only."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotations import selectors
from annotations.exceptions import ReadOnlySet
from annotations.services import annotating


def _withdraw(annotation_set):
    annotation_set.withdrawn_at = timezone.now()
    annotation_set.save(update_fields=["withdrawn_at"])


def test_a_withdrawn_set_leaves_the_analysts_queue(world):
    _withdraw(world.analyst_set)
    queue = list(selectors.annotator_queue(project=world.project, user=world.analyst))
    assert world.analyst_set not in queue


def test_a_withdrawn_set_refuses_writes_and_says_why(world):
    text = world.document.text
    _withdraw(world.analyst_set)
    with pytest.raises(ReadOnlySet, match="took this document off your queue"):
        annotating.span_create(
            annotation_set=world.analyst_set, label="claim", start=0, end=3, quote=text[0:3],
            actor=world.analyst, expected_version=world.analyst_set.version,
        )  # fmt: skip
