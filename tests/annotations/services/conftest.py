"""Helpers for service tests: spans made through the service layer by quoting the document."""

from __future__ import annotations

from typing import Any

import pytest

from annotations.models import AnnotationSet, Span
from annotations.services import annotating


def offsets_of(annotation_set: AnnotationSet, quote: str) -> tuple[int, int]:
    start = annotation_set.document.text.index(quote)
    return start, start + len(quote)


def current_version(annotation_set: AnnotationSet) -> int:
    annotation_set.refresh_from_db()
    return annotation_set.version


@pytest.fixture
def make_span() -> Any:
    """make_span(set, actor, quote, label="claim", **kwargs): a span created with the current version."""

    def make(annotation_set: AnnotationSet, actor: Any, quote: str, label: str = "claim", **kwargs: Any) -> Span:
        start, end = offsets_of(annotation_set, quote)
        return annotating.span_create(
            annotation_set=annotation_set,
            label=label,
            start=start,
            end=end,
            quote=quote,
            actor=actor,
            expected_version=current_version(annotation_set),
            **kwargs,
        )

    return make
