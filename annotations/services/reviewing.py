"""Adjudication: turning several analysts' submitted sets into one gold set.

The decision points come from annotations/adjudication.py (pure). Each reviewer
decision is a `GoldDecision` row keyed by the point's stable key, and the gold
items it produces are written through services/annotating.py, so gold edits get
the same validation, versioning and history as an analyst's. Re-merging
(`gold_build`) only ever adds pre-accepted items for points nobody has decided:
it never deletes a gold item and never changes a decision.
"""

from __future__ import annotations

import string
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotations import access
from annotations.adjudication import (
    RelationPoint,
    RelationVote,
    Rule,
    SpanPoint,
    SpanVote,
    Version,
    merged_extent,
    relation_point_key,
    relation_points,
    span_points,
    split_relation_point_key,
)
from annotations.exceptions import InvalidInput, ReadOnlySet, StaleVersion
from annotations.models import (
    AnnotationSet,
    Change,
    ChangeAction,
    ChangeObject,
    DecisionAction,
    Document,
    GoldDecision,
    Relation,
    SetState,
    Span,
)
from annotations.services import annotating

MAX_RATIONALE_LENGTH = 10_000
# Decision keys of gold items no analyst made: "added:<span uuid>" for a span, and
# "added:rel:<type>:<source key>><target key>" for a link, its ends named by the keys of
# the decisions that produced the two gold spans (so the link can be drawn again when
# the reviewer re-decides one of its spans, like an accepted analyst link).
ADDED_PREFIX = "added:"
ADDED_LINK_PREFIX = "added:rel:"


# --- reading the review state --------------------------------------------------------------


def display_names(sets: Sequence[AnnotationSet], *, hide: bool) -> dict[str, str]:
    """Analyst id (as text) -> what reviewers see: the username, or "Analyst A, B, C" in set order."""
    names: dict[str, str] = {}
    for index, annotation_set in enumerate(sorted(sets, key=lambda s: s.pk)):
        if hide:
            letters = string.ascii_uppercase
            tag = letters[index % 26] + (str(index // 26) if index >= 26 else "")
            names[str(annotation_set.annotator_id)] = f"Analyst {tag}"
        else:
            names[str(annotation_set.annotator_id)] = annotation_set.annotator.get_username()
    return names


@dataclass
class ReviewState:
    """Everything the adjudication page and the services need about one document."""

    document: Document
    gold: AnnotationSet | None
    submitted: list[AnnotationSet]
    pending: list[AnnotationSet]
    names: dict[str, str]
    rule: Rule
    span_points: list[SpanPoint]
    relation_points: list[RelationPoint]
    decisions: dict[str, GoldDecision]
    gold_spans: list[Span]
    gold_relations: list[Relation]
    spans_by_uuid: dict[str, SpanVote] = field(default_factory=dict)

    @property
    def analysts(self) -> tuple[str, ...]:
        return tuple(str(s.annotator_id) for s in self.submitted)

    def gold_span_for(self, point_key: str) -> Span | None:
        decision = self.decisions.get(point_key)
        if decision is None or not decision.result_uuids:
            return None
        wanted = decision.result_uuids[0]
        return next((s for s in self.gold_spans if str(s.uuid) == wanted), None)

    def _gold_overlaps(self, point: SpanPoint) -> bool:
        return any(s.label == point.label and s.start < point.end and point.start < s.end for s in self.gold_spans)

    def span_status(self, point: SpanPoint) -> str:
        """decided | consensus (a merge pre-accepts it) | open. Cached: pages ask for every point more than once."""
        cache: dict[str, str] = self.__dict__.setdefault("_status_cache", {})
        if point.key not in cache:
            if point.key in self.decisions:
                cache[point.key] = "decided"
            elif point.consensus(self.rule) is not None and not self._gold_overlaps(point):
                cache[point.key] = "consensus"
            else:
                cache[point.key] = "open"
        return cache[point.key]

    def relation_status(self, point: RelationPoint) -> str:
        if point.key in self.decisions:
            return "decided"
        if point.consensus(self.rule) and all(
            self._endpoint_settles(key) for key in (point.source_point, point.target_point)
        ):
            return "consensus"
        return "open"

    def _endpoint_settles(self, span_key: str) -> bool:
        point = self._points_by_key.get(span_key)
        if point is None:
            return False
        if point.key in self.decisions:
            return self.gold_span_for(point.key) is not None
        return self.span_status(point) == "consensus"

    @property
    def open_count(self) -> int:
        return sum(1 for p in self.span_points if self.span_status(p) == "open") + sum(
            1 for p in self.relation_points if self.relation_status(p) == "open"
        )

    @property
    def orphan_decisions(self) -> list[GoldDecision]:
        """Decisions whose point no longer exists as it was (an analyst resubmitted): kept, listed apart."""
        current = {p.key for p in self.span_points} | {p.key for p in self.relation_points}
        return [d for key, d in self.decisions.items() if key not in current and not key.startswith("added:")]

    @property
    def added_decisions(self) -> list[GoldDecision]:
        return [d for key, d in self.decisions.items() if key.startswith(ADDED_PREFIX)]

    @property
    def added_links(self) -> list[GoldDecision]:
        """Decisions that drew a gold link no analyst drew, in the order they were made."""
        return [d for key, d in self.decisions.items() if key.startswith(ADDED_LINK_PREFIX)]

    def decision_key_of_gold_span(self, span_uuid: str) -> str | None:
        """The key of the decision whose result is this gold span, or None."""
        cache: dict[str, str] | None = self.__dict__.get("_key_of_result_cache")
        if cache is None:
            cache = self.__dict__["_key_of_result_cache"] = {
                d.result_uuids[0]: key
                for key, d in self.decisions.items()
                if d.result_uuids and not key.startswith(("rel:", ADDED_LINK_PREFIX))
            }
        return cache.get(span_uuid)

    @property
    def _points_by_key(self) -> dict[str, SpanPoint]:
        cached: dict[str, SpanPoint] | None = self.__dict__.get("_points_by_key_cache")
        if cached is None:
            cached = self.__dict__["_points_by_key_cache"] = {p.key: p for p in self.span_points}
        return cached

    def span_point(self, key: str) -> SpanPoint:
        point = self._points_by_key.get(key)
        if point is None:
            raise InvalidInput("this decision point no longer exists; reload the page", field="point")
        return point

    def relation_point(self, key: str) -> RelationPoint:
        point = next((p for p in self.relation_points if p.key == key), None)
        if point is None:
            raise InvalidInput("this relation point no longer exists; reload the page", field="point")
        return point


def review_state_load(*, document: Document, hide_names: bool | None = None) -> ReviewState:
    """Load the review state of one document in seven queries (no per-span queries)."""
    return review_states_load(documents=[document], hide_names=hide_names)[document.pk]


# Documents per round of review_states_load: IN lists of a few thousand ids at most
# (SQLite refuses more than 32,766 parameters in one statement).
REVIEW_STATES_PER_QUERY = 500


def review_states_load(*, documents: Sequence[Document], hide_names: bool | None = None) -> dict[int, ReviewState]:
    """The review states of many documents of one project, by document id, in seven queries per 500 documents.

    The review queue needs one for every ready document; loading them one at a
    time cost seven queries per document (70,000 for a project of 10,000).
    """
    states: dict[int, ReviewState] = {}
    for start in range(0, len(documents), REVIEW_STATES_PER_QUERY):
        states.update(_review_states_chunk(documents[start : start + REVIEW_STATES_PER_QUERY], hide_names))
    return states


def _review_states_chunk(documents: Sequence[Document], hide_names: bool | None) -> dict[int, ReviewState]:
    document_ids = [document.pk for document in documents]
    sets_of: dict[int, list[AnnotationSet]] = defaultdict(list)
    for annotation_set in (
        AnnotationSet.objects.filter(document_id__in=document_ids, is_gold=False, withdrawn_at__isnull=True)
        .select_related("annotator")
        .order_by("pk")
    ):
        sets_of[annotation_set.document_id].append(annotation_set)
    analyst_of_set = {
        s.pk: str(s.annotator_id) for sets in sets_of.values() for s in sets if s.state == SetState.SUBMITTED
    }
    document_of_set = {s.pk: s.document_id for sets in sets_of.values() for s in sets}
    votes_of: dict[int, list[SpanVote]] = defaultdict(list)
    for set_id, u, label, start, end, attributes in Span.objects.filter(
        annotation_set_id__in=analyst_of_set
    ).values_list("annotation_set_id", "uuid", "label", "start", "end", "attributes"):
        votes_of[document_of_set[set_id]].append(
            SpanVote(analyst_of_set[set_id], str(u), label, start, end, attributes or {})
        )
    relation_votes_of: dict[int, list[RelationVote]] = defaultdict(list)
    for set_id, u, type_, source, target in Relation.objects.filter(annotation_set_id__in=analyst_of_set).values_list(
        "annotation_set_id", "uuid", "type", "source__uuid", "target__uuid"
    ):
        relation_votes_of[document_of_set[set_id]].append(
            RelationVote(analyst_of_set[set_id], str(u), type_, str(source), str(target))
        )
    gold_of = {
        gold.document_id: gold
        for gold in AnnotationSet.objects.filter(document_id__in=document_ids, is_gold=True).order_by("pk")
    }
    gold_document = {gold.pk: document_id for document_id, gold in gold_of.items()}
    gold_spans_of: dict[int, list[Span]] = defaultdict(list)
    for span in Span.objects.filter(annotation_set_id__in=gold_document).order_by("start", "-end", "pk"):
        gold_spans_of[gold_document[span.annotation_set_id]].append(span)
    gold_relations_of: dict[int, list[Relation]] = defaultdict(list)
    for relation in Relation.objects.filter(annotation_set_id__in=gold_document).select_related("source", "target"):
        gold_relations_of[gold_document[relation.annotation_set_id]].append(relation)
    decisions_of: dict[int, dict[str, GoldDecision]] = defaultdict(dict)
    for decision in GoldDecision.objects.filter(document_id__in=document_ids).select_related("decided_by"):
        decisions_of[decision.document_id][decision.point_key] = decision
    states: dict[int, ReviewState] = {}
    for document in documents:
        project = document.project
        sets = sets_of.get(document.pk, [])
        submitted = [s for s in sets if s.state == SetState.SUBMITTED]
        analysts = [str(s.annotator_id) for s in submitted]
        votes = votes_of.get(document.pk, [])
        points = span_points(votes, analysts)
        point_of_span = {uuid_: point.key for point in points for uuid_ in point.all_uuids}
        states[document.pk] = ReviewState(
            document=document,
            gold=gold_of.get(document.pk),
            submitted=submitted,
            pending=[s for s in sets if s.state != SetState.SUBMITTED],
            names=display_names(sets, hide=project.hide_annotator_names if hide_names is None else hide_names),
            rule="majority" if project.gold_acceptance == "majority" else "unanimous",
            span_points=points,
            relation_points=relation_points(relation_votes_of.get(document.pk, []), point_of_span, analysts),
            decisions=decisions_of.get(document.pk, {}),
            gold_spans=gold_spans_of.get(document.pk, []),
            gold_relations=gold_relations_of.get(document.pk, []),
            spans_by_uuid={v.uuid: v for v in votes},
        )
    return states


# --- the shared steps of every decision -----------------------------------------------------


def _clean_rationale(text: str, *, required: bool = False, what: str = "rationale") -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"the {what} must be text", field="rationale")
    text = text.strip()
    if required and not text:
        raise InvalidInput(f"a {what} is required", field="rationale")
    if len(text) > MAX_RATIONALE_LENGTH:
        raise InvalidInput(f"the {what} is longer than {MAX_RATIONALE_LENGTH} characters", field="rationale")
    return text


def _begin(document: Document, actor: Any, expected_version: int | None) -> tuple[AnnotationSet, ReviewState]:
    """Check the role, lock (creating if need be) the gold set, check its version, load the state."""
    access.require_can_review(actor, document.project)
    AnnotationSet.objects.get_or_create(
        document=document, is_gold=True, annotator=None, defaults={"state": SetState.OPEN}
    )
    gold = (
        AnnotationSet.objects.select_for_update(of=("self",))
        .select_related("document__project")
        .get(document=document, is_gold=True)
    )
    if gold.state == SetState.ADJUDICATED:
        raise ReadOnlySet("The gold version is finished; reopen it to change it.")
    if expected_version is not None and expected_version != gold.version:
        raise StaleVersion(expected=expected_version, current=gold.version)
    return gold, review_state_load(document=document)


def _provenance(kind: str, actor: Any, sources: Sequence[str], rationale: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "by": actor.get_username() if getattr(actor, "is_authenticated", False) else None,
        "by_id": getattr(actor, "pk", None),
        "from": list(sources),
        "rationale": rationale,
    }


def _discard_results(gold: AnnotationSet, decision: GoldDecision | None, actor: Any, group: uuid.UUID) -> None:
    """Remove the gold items an earlier decision on this point produced (history keeps them)."""
    if decision is None:
        return
    for result in decision.result_uuids:
        span = Span.objects.filter(annotation_set=gold, uuid=result).first()
        if span is not None:
            annotating.span_delete(span=span, actor=actor, expected_version=None, group=group)
            continue
        relation = Relation.objects.filter(annotation_set=gold, uuid=result).first()
        if relation is not None:
            annotating.relation_delete(relation=relation, actor=actor, expected_version=None, group=group)


def _record_decision(
    *,
    document: Document,
    key: str,
    action: str,
    kind: str,
    sources: Sequence[str],
    results: Sequence[str],
    rationale: str,
    actor: Any,
) -> GoldDecision:
    decision, _ = GoldDecision.objects.update_or_create(
        document=document,
        point_key=key,
        defaults={
            "action": action,
            "provenance_kind": kind,
            "source_uuids": list(sources),
            "result_uuids": list(results),
            "rationale": rationale,
            "decided_by": actor if getattr(actor, "is_authenticated", False) else None,
            "decided_at": timezone.now(),
        },
    )
    return decision


def _write_gold_span(
    gold: AnnotationSet,
    *,
    label: str,
    start: int,
    end: int,
    attributes: Mapping[str, Any],
    provenance: dict[str, Any],
    actor: Any,
    group: uuid.UUID,
) -> Span:
    text = gold.document.text
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
        raise InvalidInput(
            f"the span [{start}, {end}) is not inside the text (0 to {len(text)}), or is empty", field="start"
        )
    return annotating.span_create(
        annotation_set=gold,
        label=label,
        start=start,
        end=end,
        quote=text[start:end],
        attributes=dict(attributes),
        provenance=provenance,
        actor=actor,
        expected_version=None,
        group=group,
    )


def _restore_accepted_relations(gold: AnnotationSet, actor: Any, group: uuid.UUID) -> None:
    """Re-link accepted relation decisions whose gold link went with a replaced span.

    A reviewer who re-decides a span keeps their earlier relation decisions: the link
    comes back between the new gold spans.
    """
    state = review_state_load(document=gold.document)
    existing = {str(r.uuid) for r in state.gold_relations}
    for point in state.relation_points:
        decision = state.decisions.get(point.key)
        if decision is None or decision.action == DecisionAction.REJECT:
            continue
        if decision.result_uuids and decision.result_uuids[0] in existing:
            continue
        source, target = state.gold_span_for(point.source_point), state.gold_span_for(point.target_point)
        if source is None or target is None:
            continue
        relation = _write_gold_relation(gold, point, source, target, decision.provenance_kind, decision, actor, group)
        decision.result_uuids = [str(relation.uuid)]
        decision.save(update_fields=["result_uuids"])
    for decision in state.added_links:
        if decision.result_uuids and decision.result_uuids[0] in existing:
            continue
        type_, source_key, target_key = split_relation_point_key(decision.point_key.removeprefix(ADDED_PREFIX))
        source, target = state.gold_span_for(source_key), state.gold_span_for(target_key)
        if source is None or target is None:
            continue  # an end was rejected since: the link has nothing to join (the decision stays, as history)
        relation = annotating.relation_create(
            annotation_set=gold,
            type=type_,
            source=source,
            target=target,
            provenance=_provenance("adjudicated", actor, [], decision.rationale),
            actor=actor,
            expected_version=None,
            group=group,
        )
        decision.result_uuids = [str(relation.uuid)]
        decision.save(update_fields=["result_uuids"])


def _write_gold_relation(
    gold: AnnotationSet,
    point: RelationPoint,
    source: Span,
    target: Span,
    kind: str,
    decision: GoldDecision | None,
    actor: Any,
    group: uuid.UUID,
) -> Relation:
    rationale = decision.rationale if decision else ""
    return annotating.relation_create(
        annotation_set=gold,
        type=point.type,
        source=source,
        target=target,
        provenance=_provenance(kind, actor, [v.uuid for v in point.votes], rationale),
        actor=actor,
        expected_version=None,
        group=group,
    )


def _after_span_decision(gold: AnnotationSet, actor: Any, group: uuid.UUID) -> AnnotationSet:
    _restore_accepted_relations(gold, actor, group)
    gold.refresh_from_db()
    return gold


# --- building and re-merging ----------------------------------------------------------------------


@dataclass(frozen=True)
class BuildResult:
    gold: AnnotationSet
    spans_added: int
    relations_added: int
    open_points: int


@transaction.atomic
def gold_build(*, document: Document, actor: Any, expected_version: int | None = None) -> BuildResult:
    """Create the gold set if needed and pre-accept every undecided point the project's rule
    (unanimous or majority) settles. Safe to run again after an analyst resubmits: decided
    points and existing gold items are left exactly as they are."""
    gold, state = _begin(document, actor, expected_version)
    group = uuid.uuid4()
    spans_added = relations_added = 0
    for point in state.span_points:
        if state.span_status(point) != "consensus":
            continue
        version = point.versions[point.consensus(state.rule) or 0]
        kind = "unanimous" if point.is_unanimous() else "majority"
        span = _write_gold_span(
            gold,
            label=point.label,
            start=version.start,
            end=version.end,
            attributes=version.attributes,
            provenance=_provenance(kind, actor, version.span_uuids, ""),
            actor=actor,
            group=group,
        )
        _record_decision(
            document=document,
            key=point.key,
            action=DecisionAction.AUTO,
            kind=kind,
            sources=version.span_uuids,
            results=[str(span.uuid)],
            rationale="",
            actor=actor,
        )
        spans_added += 1
    state = review_state_load(document=document)
    for relation_point in state.relation_points:
        if state.relation_status(relation_point) != "consensus":
            continue
        source = state.gold_span_for(relation_point.source_point)
        target = state.gold_span_for(relation_point.target_point)
        if source is None or target is None:
            continue
        kind = "unanimous" if len(relation_point.voters) == len(state.analysts) else "majority"
        relation = _write_gold_relation(gold, relation_point, source, target, kind, None, actor, group)
        _record_decision(
            document=document,
            key=relation_point.key,
            action=DecisionAction.AUTO,
            kind=kind,
            sources=[v.uuid for v in relation_point.votes],
            results=[str(relation.uuid)],
            rationale="",
            actor=actor,
        )
        relations_added += 1
    gold.refresh_from_db()
    return BuildResult(gold, spans_added, relations_added, review_state_load(document=document).open_count)


# --- decisions on span points ---------------------------------------------------------------------


def _pick_versions(point: SpanPoint, numbers: Sequence[int]) -> list[Version]:
    chosen = []
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(point.versions):
            raise InvalidInput(
                f"version {number} does not exist; this point has versions 1 to {len(point.versions)}",
                field="version",
            )
        chosen.append(point.versions[number - 1])
    return chosen


@transaction.atomic
def point_accept(
    *, document: Document, point_key: str, version: int, actor: Any, rationale: str = "", expected_version: int | None
) -> GoldDecision:
    """Accept one analyst version (1-based, in the order the page shows) as the gold span."""
    gold, state = _begin(document, actor, expected_version)
    point = state.span_point(point_key)
    (chosen,) = _pick_versions(point, [version])
    rationale = _clean_rationale(rationale)
    return _decide_span(
        gold, state, point, DecisionAction.ACCEPT, chosen.label, chosen.start, chosen.end, chosen.attributes,
        chosen.span_uuids, rationale, actor,
    )  # fmt: skip


@transaction.atomic
def point_merge(
    *,
    document: Document,
    point_key: str,
    actor: Any,
    versions: Sequence[int] | None = None,
    rationale: str = "",
    expected_version: int | None,
) -> GoldDecision:
    """Gold span over the union of the chosen versions' extents (all versions when none are named)."""
    gold, state = _begin(document, actor, expected_version)
    point = state.span_point(point_key)
    chosen = list(point.versions) if not versions else _pick_versions(point, versions)
    start, end = merged_extent(chosen)
    sources = [u for v in chosen for u in v.span_uuids]
    return _decide_span(
        gold, state, point, DecisionAction.MERGE, point.label, start, end, chosen[0].attributes, sources,
        _clean_rationale(rationale), actor,
    )  # fmt: skip


@transaction.atomic
def point_edit(
    *,
    document: Document,
    point_key: str,
    actor: Any,
    start: int,
    end: int,
    label: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    rationale: str = "",
    expected_version: int | None,
) -> GoldDecision:
    """Gold span with edges, label or attributes of the reviewer's own choosing for this point."""
    gold, state = _begin(document, actor, expected_version)
    point = state.span_point(point_key)
    base = point.versions[0]
    return _decide_span(
        gold, state, point, DecisionAction.EDIT, label or point.label, start, end,
        base.attributes if attributes is None else attributes, point.all_uuids, _clean_rationale(rationale), actor,
    )  # fmt: skip


def _decide_span(
    gold: AnnotationSet,
    state: ReviewState,
    point: SpanPoint,
    action: str,
    label: str,
    start: int,
    end: int,
    attributes: Mapping[str, Any],
    sources: Sequence[str],
    rationale: str,
    actor: Any,
) -> GoldDecision:
    group = uuid.uuid4()
    _discard_results(gold, state.decisions.get(point.key), actor, group)
    span = _write_gold_span(
        gold,
        label=label,
        start=start,
        end=end,
        attributes=attributes,
        provenance=_provenance("adjudicated", actor, sources, rationale),
        actor=actor,
        group=group,
    )
    decision = _record_decision(
        document=state.document,
        key=point.key,
        action=action,
        kind="adjudicated",
        sources=sources,
        results=[str(span.uuid)],
        rationale=rationale,
        actor=actor,
    )
    _after_span_decision(gold, actor, group)
    return decision


@transaction.atomic
def point_reject(
    *, document: Document, point_key: str, reason: str, actor: Any, expected_version: int | None
) -> GoldDecision:
    """Reject every version of a span or relation point; the reason is required and shown to analysts."""
    gold, state = _begin(document, actor, expected_version)
    reason = _clean_rationale(reason, required=True, what="reason for rejecting")
    if point_key.startswith("rel:"):
        sources = [v.uuid for v in state.relation_point(point_key).votes]
    else:
        sources = state.span_point(point_key).all_uuids
    _discard_results(gold, state.decisions.get(point_key), actor, uuid.uuid4())
    return _record_decision(
        document=document,
        key=point_key,
        action=DecisionAction.REJECT,
        kind="adjudicated",
        sources=sources,
        results=[],
        rationale=reason,
        actor=actor,
    )


@transaction.atomic
def gold_span_add(
    *,
    document: Document,
    label: str,
    start: int,
    end: int,
    actor: Any,
    attributes: Mapping[str, Any] | None = None,
    rationale: str = "",
    expected_version: int | None,
) -> GoldDecision:
    """A gold span no analyst made."""
    gold, state = _begin(document, actor, expected_version)
    rationale = _clean_rationale(rationale)
    group = uuid.uuid4()
    span = _write_gold_span(
        gold,
        label=label,
        start=start,
        end=end,
        attributes=attributes or {},
        provenance=_provenance("adjudicated", actor, [], rationale),
        actor=actor,
        group=group,
    )
    return _record_decision(
        document=document,
        key=f"added:{span.uuid}",
        action=DecisionAction.ADD,
        kind="adjudicated",
        sources=[],
        results=[str(span.uuid)],
        rationale=rationale,
        actor=actor,
    )


# --- decisions on relation points -----------------------------------------------------------------


@transaction.atomic
def relation_point_accept(
    *, document: Document, point_key: str, actor: Any, rationale: str = "", expected_version: int | None
) -> GoldDecision:
    """Link the gold spans of the two points, as the analysts' link did. Both spans must be in gold."""
    gold, state = _begin(document, actor, expected_version)
    point = state.relation_point(point_key)
    source, target = state.gold_span_for(point.source_point), state.gold_span_for(point.target_point)
    if source is None or target is None:
        raise InvalidInput("accept both linked spans into gold first, then the link", field="point")
    rationale = _clean_rationale(rationale)
    group = uuid.uuid4()
    _discard_results(gold, state.decisions.get(point.key), actor, group)
    provisional = GoldDecision(rationale=rationale)
    relation = _write_gold_relation(gold, point, source, target, "adjudicated", provisional, actor, group)
    return _record_decision(
        document=document,
        key=point.key,
        action=DecisionAction.ACCEPT,
        kind="adjudicated",
        sources=[v.uuid for v in point.votes],
        results=[str(relation.uuid)],
        rationale=rationale,
        actor=actor,
    )


@transaction.atomic
def gold_relation_add(
    *,
    document: Document,
    type: str,
    source_uuid: str,
    target_uuid: str,
    actor: Any,
    rationale: str = "",
    expected_version: int | None,
) -> GoldDecision:
    """A gold link no analyst drew, between two spans already in gold, provenance "adjudicated by <reviewer>".

    The project's label-pair rule applies (a `sources` link goes from an attribution to a
    claim or counter-claim, a `disputes` link from a counter-claim to a claim or
    counter-claim). Raises InvalidInput, with a message for the reviewer, for an end
    that is not a gold span, a wrong label pair, a self-link, a link that already exists,
    or a link an analyst drew (that one is accepted from its relation point instead).
    """
    gold, state = _begin(document, actor, expected_version)
    spans = {str(span.uuid): span for span in state.gold_spans}
    source, target = spans.get(str(source_uuid)), spans.get(str(target_uuid))
    if source is None or target is None:
        raise InvalidInput(
            "both ends of the link must be spans of the gold set: accept or add them first", field="source"
        )
    source_key = state.decision_key_of_gold_span(str(source.uuid))
    target_key = state.decision_key_of_gold_span(str(target.uuid))
    if source_key is None or target_key is None:
        raise InvalidInput("this gold span has no decision behind it; decide its point first", field="source")
    point_key = relation_point_key(type, source_key, target_key)
    if any(point.key == point_key for point in state.relation_points):
        raise InvalidInput("an analyst drew this link: accept it in the list of relation points", field="type")
    rationale = _clean_rationale(rationale)
    relation = annotating.relation_create(
        annotation_set=gold,
        type=type,
        source=source,
        target=target,
        provenance=_provenance("adjudicated", actor, [], rationale),
        actor=actor,
        expected_version=None,
        group=uuid.uuid4(),
    )
    return _record_decision(
        document=document,
        key=ADDED_PREFIX + point_key,
        action=DecisionAction.ADD,
        kind="adjudicated",
        sources=[],
        results=[str(relation.uuid)],
        rationale=rationale,
        actor=actor,
    )


@transaction.atomic
def gold_relation_remove(*, document: Document, point_key: str, actor: Any, expected_version: int | None) -> None:
    """Take back a link the reviewer added (history keeps it); the decision goes with it."""
    gold, state = _begin(document, actor, expected_version)
    decision = state.decisions.get(point_key)
    if decision is None or not point_key.startswith(ADDED_LINK_PREFIX):
        raise InvalidInput("this added link no longer exists; reload the page", field="point")
    _discard_results(gold, decision, actor, uuid.uuid4())
    decision.delete()


# --- finishing ----------------------------------------------------------------------------------------


@transaction.atomic
def gold_finish(
    *, document: Document, actor: Any, note: str = "", expected_version: int | None = None
) -> AnnotationSet:
    """Pre-accept what the rule settles, then mark the gold set adjudicated (who, when).

    A document without disagreement is finished by this one call. Refused while a
    required analyst set is unsubmitted or a decision point is still open.
    """
    state = review_state_load(document=document)
    if state.pending:
        waiting = ", ".join(state.names.get(str(s.annotator_id), "?") for s in state.pending)
        raise InvalidInput(f"not every analyst has submitted yet (waiting for {waiting})")
    if not state.submitted:
        raise InvalidInput("no analyst has submitted this document yet")
    result = gold_build(document=document, actor=actor, expected_version=expected_version)
    if result.open_points:
        raise InvalidInput(f"{result.open_points} decision point(s) are still open; decide them before finishing")
    gold = AnnotationSet.objects.select_for_update().get(pk=result.gold.pk)
    before = {"state": gold.state}
    gold.state = SetState.ADJUDICATED
    gold.finished_by = actor
    gold.submitted_at = timezone.now()
    gold.version += 1
    gold.save(update_fields=["state", "finished_by", "submitted_at", "version", "updated_at"])
    Change.objects.create(
        project_id=document.project_id,
        annotation_set=gold,
        object_type=ChangeObject.SET,
        object_uuid=gold.uuid,
        action=ChangeAction.UPDATE,
        before=before,
        after={"state": gold.state, "note": _clean_rationale(note, what="note")},
        set_version=gold.version,
        actor=actor,
    )
    return gold
