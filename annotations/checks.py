"""Checks run on submit: warnings an analyst can override with a note.

Pure: takes plain tuples so the page, the API and the service share one rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SpanFacts:
    uuid: str
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class RelationFacts:
    type: str
    source: str
    target: str


@dataclass(frozen=True)
class SubmitWarning:
    code: str
    message: str
    span_uuids: tuple[str, ...]


def submit_warnings(spans: Iterable[SpanFacts], relations: Iterable[RelationFacts]) -> list[SubmitWarning]:
    """Every attribution sources something; every counter-claim disputes something;
    no two spans of the same label overlap (span agreement assumes it)."""
    spans = sorted(spans, key=lambda s: (s.start, s.end, s.uuid))
    relations = list(relations)
    sourcing = {r.source for r in relations if r.type == "sources"}
    disputing = {r.source for r in relations if r.type == "disputes"}
    warnings: list[SubmitWarning] = []
    for span in spans:
        if span.label == "attribution" and span.uuid not in sourcing:
            warnings.append(SubmitWarning("attribution_unlinked", "This attribution sources no claim.", (span.uuid,)))
        if span.label == "counter-claim" and span.uuid not in disputing:
            warnings.append(
                SubmitWarning("counter_claim_unlinked", "This counter-claim disputes nothing.", (span.uuid,))
            )
    # Same-label overlaps: a sweep per label over spans sorted by start.
    last_by_label: dict[str, SpanFacts] = {}
    for span in spans:
        previous = last_by_label.get(span.label)
        if previous is not None and span.start < previous.end:
            warnings.append(
                SubmitWarning(
                    "same_label_overlap",
                    f"Two {span.label} spans overlap; agreement figures assume they do not.",
                    (previous.uuid, span.uuid),
                )
            )
        if previous is None or span.end > previous.end:
            last_by_label[span.label] = span
    return warnings
