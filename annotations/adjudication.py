"""Decision points for adjudication, over plain data. Pure: no ORM.

A span decision point is a cluster of overlapping spans with the same label
across the analysts of one document. Within a point, spans that agree exactly
(same extent and same attributes) form one *version*; its voters are the
analysts who made it. A relation decision point is one (type, source point,
target point) triple, voted for by the analysts who drew such a link.

Point keys are built from what the analysts marked (label and the cluster's
extent), not from database ids, so the same work always gives the same key and
a stored decision finds its point again after a re-merge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Rule = Literal["unanimous", "majority"]


@dataclass(frozen=True)
class SpanVote:
    analyst: str
    uuid: str
    label: str
    start: int
    end: int
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class RelationVote:
    analyst: str
    uuid: str
    type: str
    source_uuid: str
    target_uuid: str


def _attributes_key(attributes: Mapping[str, Any]) -> str:
    return json.dumps(dict(attributes), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Version:
    label: str
    start: int
    end: int
    attributes: Mapping[str, Any]
    spans: tuple[SpanVote, ...]

    @property
    def voters(self) -> tuple[str, ...]:
        return tuple(sorted({span.analyst for span in self.spans}))

    @property
    def votes(self) -> int:
        return len(self.voters)

    @property
    def span_uuids(self) -> list[str]:
        return [span.uuid for span in self.spans]


def _consensus(votes: Sequence[int], analysts: int, rule: Rule) -> int | None:
    """Index of the version the rule accepts without a reviewer, or None."""
    if not votes or analysts == 0:
        return None
    best = max(range(len(votes)), key=lambda i: votes[i])
    if rule == "unanimous":
        return best if len(votes) == 1 and votes[0] == analysts else None
    # Majority: more than half of the analysts made exactly this version.
    return best if votes[best] * 2 > analysts else None


@dataclass(frozen=True)
class SpanPoint:
    key: str
    label: str
    start: int
    end: int
    versions: tuple[Version, ...]
    analysts: tuple[str, ...]

    @property
    def all_uuids(self) -> list[str]:
        return [uuid for version in self.versions for uuid in version.span_uuids]

    @property
    def absent(self) -> tuple[str, ...]:
        """Analysts who marked nothing here: a silent vote against every version."""
        present = {voter for version in self.versions for voter in version.voters}
        return tuple(a for a in self.analysts if a not in present)

    def consensus(self, rule: Rule) -> int | None:
        return _consensus([v.votes for v in self.versions], len(self.analysts), rule)

    def is_unanimous(self) -> bool:
        return self.consensus("unanimous") is not None


@dataclass(frozen=True)
class RelationPoint:
    key: str
    type: str
    source_point: str
    target_point: str
    votes: tuple[RelationVote, ...]
    analysts: tuple[str, ...]

    @property
    def voters(self) -> tuple[str, ...]:
        return tuple(sorted({vote.analyst for vote in self.votes}))

    def consensus(self, rule: Rule) -> bool:
        return _consensus([len(self.voters)], len(self.analysts), rule) is not None


def span_point_key(label: str, start: int, end: int) -> str:
    return f"span:{label}:{start}-{end}"


def relation_point_key(type_: str, source_point: str, target_point: str) -> str:
    return f"rel:{type_}:{source_point}>{target_point}"


def split_relation_point_key(key: str) -> tuple[str, str, str]:
    """(type, source point key, target point key) of a `relation_point_key`.

    Safe to split on ':' and '>' because schema keys are slugs (annotations/schema.py)
    and span point keys hold neither '>' nor anything but slugs, ':' and digits.
    Raises ValueError for anything else.
    """
    kind, _, rest = key.partition(":")
    type_, _, ends = rest.partition(":")
    source, separator, target = ends.partition(">")
    if kind != "rel" or not type_ or not separator or not source or not target:
        raise ValueError(f"not a relation point key: {key!r}")
    return type_, source, target


def span_points(spans: Iterable[SpanVote], analysts: Sequence[str]) -> list[SpanPoint]:
    """Cluster same-label spans that overlap (transitively) into decision points, in reading order.

    O(s log s): one sweep per label over spans sorted by start.
    """
    by_label: dict[str, list[SpanVote]] = {}
    for span in spans:
        by_label.setdefault(span.label, []).append(span)
    analyst_order = tuple(analysts)
    points: list[SpanPoint] = []
    for label, label_spans in by_label.items():
        label_spans.sort(key=lambda s: (s.start, s.end, s.analyst, s.uuid))
        cluster: list[SpanVote] = []
        cluster_end = -1
        for span in label_spans:
            if cluster and span.start >= cluster_end:
                points.append(_point(label, cluster, analyst_order))
                cluster = []
            cluster.append(span)
            cluster_end = max(cluster_end, span.end) if len(cluster) > 1 else span.end
        if cluster:
            points.append(_point(label, cluster, analyst_order))
    points.sort(key=lambda p: (p.start, -p.end, p.label))
    return points


def _point(label: str, cluster: list[SpanVote], analysts: tuple[str, ...]) -> SpanPoint:
    grouped: dict[tuple[int, int, str], list[SpanVote]] = {}
    for span in cluster:
        grouped.setdefault((span.start, span.end, _attributes_key(span.attributes)), []).append(span)
    # Each version with its attributes' JSON key, computed once above (the adjudication page
    # clusters hundreds of spans per request, and json.dumps per comparison showed in profiles).
    keyed = [
        (key, Version(label=label, start=start, end=end, attributes=dict(group[0].attributes), spans=tuple(group)))
        for (start, end, key), group in grouped.items()
    ]
    # Most votes first; ties in reading order, so version numbers are stable for the keyboard.
    keyed.sort(key=lambda pair: (-pair[1].votes, pair[1].start, pair[1].end, pair[0]))
    versions = [version for _key, version in keyed]
    start = min(s.start for s in cluster)
    end = max(s.end for s in cluster)
    return SpanPoint(span_point_key(label, start, end), label, start, end, tuple(versions), analysts)


def relation_points(
    relations: Iterable[RelationVote], point_of_span: Mapping[str, str], analysts: Sequence[str]
) -> list[RelationPoint]:
    """Group analysts' links by (type, source point, target point). Links whose ends are unknown are skipped."""
    grouped: dict[tuple[str, str, str], list[RelationVote]] = {}
    for relation in relations:
        source = point_of_span.get(relation.source_uuid)
        target = point_of_span.get(relation.target_uuid)
        if source is None or target is None or source == target:
            continue
        grouped.setdefault((relation.type, source, target), []).append(relation)
    return [
        RelationPoint(relation_point_key(type_, source, target), type_, source, target, tuple(votes), tuple(analysts))
        for (type_, source, target), votes in sorted(grouped.items())
    ]


def merged_extent(versions: Sequence[Version]) -> tuple[int, int]:
    """The union of the chosen versions' extents (they overlap, so it is contiguous)."""
    if not versions:
        raise ValueError("merging needs at least one version")
    return min(v.start for v in versions), max(v.end for v in versions)
