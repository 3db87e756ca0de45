"""Inter-annotator agreement over plain data: kappa, alpha, unitizing alpha, span and relation F1.

DESIGN "Where logic lives": agreement is pure functions over plain data. Callers
turn stored spans and relations into `Unit` and `Link` values; nothing here
imports Django or touches the database, so it is cheap to test and to run from
the command line or a Celery task.

Conventions every function keeps:

- Offsets are code points, half-open ``[start, end)``, as everywhere in Claimbench.
- A coefficient that is undefined for its input (no data, fewer than two
  annotators, zero expected disagreement) is ``math.nan``: never an exception,
  never a division by zero. A page shows "n/a" with the counts beside it.
- Every result carries the counts it was computed from (annotators, spans,
  matched pairs), so no coefficient is ever shown without them.

References (the tests reproduce their worked examples):

- Cohen, J. (1960). A coefficient of agreement for nominal scales.
  Educational and Psychological Measurement 20(1): 37-46.
- Krippendorff, K. (1995). On the reliability of unitizing continuous data.
  Sociological Methodology 25: 47-76.
- Krippendorff, K. (2004). Measuring the reliability of qualitative text
  analysis data. Quality & Quantity 38: 787-800. The unitizing formulas used
  here, as also given in Content Analysis, 2nd ed. (2004), chapter 12.
- Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
  Annenberg School for Communication, departmental paper 43.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from operator import attrgetter
from typing import Literal

MatchMode = Literal["exact", "overlap"]
Metric = Literal["nominal", "ordinal", "interval", "ratio"]
# A difference function of Krippendorff's alpha: delta^2 between two values.
_Delta = Callable[[Hashable, Hashable], float]

_MATCH_MODES: tuple[MatchMode, ...] = ("exact", "overlap")
_NAN = math.nan


# --------------------------------------------------------------------------- plain data


@dataclass(frozen=True)
class Unit:
    """One span marked by one annotator.

    ``start``/``end`` are code-point offsets, half-open, with ``0 <= start < end``
    (raises ValueError otherwise). ``key`` is an opaque id (the span's UUID) that
    `Link` values refer to; it need only be unique within one annotator's spans.
    ``attributes`` holds the span's schema attributes (``check_worthy`` ...);
    `attribute_agreement` compares their values for equality (an unhashable
    value, such as a list, by its repr).
    """

    annotator: str
    label: str
    start: int
    end: int
    # Left out of hashing so that a Unit stays usable in sets and as a dict key.
    attributes: Mapping[str, object] = field(default_factory=dict, hash=False)
    key: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"span [{self.start}, {self.end}) must satisfy 0 <= start < end")

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Link:
    """One directed relation by one annotator, between two of that annotator's spans (by `Unit.key`)."""

    annotator: str
    type: str
    source_key: str
    target_key: str


@dataclass(frozen=True)
class AnnotatedDocument:
    """Everything `project_agreement` needs about one document.

    ``annotators`` lists who annotated the document. Give it whenever an
    analyst may have submitted no spans at all: such an analyst still said
    "nothing here", and that counts as disagreement with those who marked
    something. Left as None, the annotators are those seen in ``units``.
    """

    units: Sequence[Unit]
    links: Sequence[Link]
    text_length: int
    annotators: Collection[str] | None = None


@dataclass(frozen=True)
class F1Score:
    """Precision, recall and F1 of b against a, with the counts behind them.

    ``a`` is the reference: precision = matched / b_count, recall = matched / a_count,
    f1 = 2 * matched / (a_count + b_count), which is symmetric in a and b. A ratio whose
    denominator is zero is nan (both sides empty: all three are nan).
    """

    precision: float
    recall: float
    f1: float
    matched_pairs: int
    a_count: int
    b_count: int

    @classmethod
    def from_counts(cls, matched_pairs: int, a_count: int, b_count: int) -> F1Score:
        return cls(
            precision=matched_pairs / b_count if b_count else _NAN,
            recall=matched_pairs / a_count if a_count else _NAN,
            f1=2 * matched_pairs / (a_count + b_count) if a_count + b_count else _NAN,
            matched_pairs=matched_pairs,
            a_count=a_count,
            b_count=b_count,
        )


def _f1_pooled(scores: Iterable[F1Score]) -> F1Score:
    """Micro-average: add up the counts, then compute the ratios once."""
    matched = a_count = b_count = 0
    for score in scores:
        matched += score.matched_pairs
        a_count += score.a_count
        b_count += score.b_count
    return F1Score.from_counts(matched, a_count, b_count)


# --------------------------------------------------------------------------- coding: kappa, alpha


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's (1960) kappa for two annotators labelling the same items, in the same order.

    kappa = (p_o - p_e) / (1 - p_e), p_e from each annotator's own marginals.
    Raises ValueError when the sequences differ in length. Returns nan for no
    items, or when p_e = 1 (both annotators used one and the same value throughout).
    """
    if len(a) != len(b):
        raise ValueError(f"the two annotators labelled {len(a)} and {len(b)} items; kappa needs the same items")
    n = len(a)
    if n == 0:
        return _NAN
    # Integer arithmetic: kappa = (n * agreed - sum a_v * b_v) / (n^2 - sum a_v * b_v).
    agreed = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    counts_a, counts_b = Counter(a), Counter(b)
    chance = sum(count * counts_b[value] for value, count in counts_a.items())
    denominator = n * n - chance
    if denominator == 0:
        return _NAN
    return (n * agreed - chance) / denominator


def krippendorff_alpha(reliability_data: Sequence[Sequence[Hashable | None]], metric: Metric = "nominal") -> float:
    """Krippendorff's alpha for any number of coders, with missing values.

    ``reliability_data`` is Krippendorff's coders-by-units matrix: one row per
    coder, one column per unit, ``None`` where a coder gave no value. Raises
    ValueError when rows differ in length or ``metric`` is unknown.

    Computed through the coincidence matrix (Krippendorff 2011): a unit with
    m_u values contributes each ordered pair of values from different coders
    with weight 1 / (m_u - 1); units with fewer than two values are not
    pairable and drop out. alpha = 1 - (n - 1) * sum o_ck d_ck / sum n_c n_k d_ck.

    Metrics: ``nominal`` (any hashable values), ``ordinal`` (values must sort),
    ``interval`` and ``ratio`` (values must be numbers). Returns nan when fewer
    than two pairable values exist or the expected disagreement is zero (every
    pairable value is the same).
    """
    if metric not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"unknown metric {metric!r}")
    if not reliability_data:
        return _NAN
    unit_count = len(reliability_data[0])
    if any(len(row) != unit_count for row in reliability_data):
        raise ValueError("every coder's row must have one entry per unit (None where missing)")

    coincidences: defaultdict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for column in zip(*reliability_data, strict=True):
        values = [value for value in column if value is not None]
        pairable = len(values)
        if pairable < 2:
            continue
        if pairable == 2:
            # The common case (two coders gave a value), without a Counter: weight 1 / (2 - 1) = 1,
            # and the two ordered pairs (c, k) and (k, c), which fall on one cell when c == k.
            c, k = values
            coincidences[c, k] += 1
            coincidences[k, c] += 1
            continue
        counts = Counter(values)
        weight = 1 / (pairable - 1)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                # Pairs come from different coders: a value is never paired with itself.
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    coincidences[c, k] += pairs * weight

    marginals: defaultdict[Hashable, float] = defaultdict(float)
    for (c, _k), o_ck in coincidences.items():
        marginals[c] += o_ck
    n = sum(marginals.values())
    if n < 2:
        return _NAN

    delta = _difference_function(metric, marginals)
    observed = sum(o_ck * delta(c, k) for (c, k), o_ck in coincidences.items())
    expected = sum(n_c * n_k * delta(c, k) for c, n_c in marginals.items() for k, n_k in marginals.items())
    if expected == 0:
        return _NAN
    return 1 - (n - 1) * observed / expected


def krippendorff_alpha_nominal(reliability_data: Sequence[Sequence[Hashable | None]]) -> float:
    """Krippendorff's alpha with the nominal metric; see `krippendorff_alpha`."""
    return krippendorff_alpha(reliability_data, "nominal")


def _difference_function(metric: Metric, marginals: Mapping[Hashable, float]) -> _Delta:
    """The squared difference delta^2(c, k) of Krippendorff (2011) for one metric."""
    if metric == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if metric == "interval":
        return lambda c, k: float((c - k) ** 2)  # type: ignore[operator]
    if metric == "ratio":
        return lambda c, k: 0.0 if c + k == 0 else float(((c - k) / (c + k)) ** 2)  # type: ignore[operator]
    # Ordinal: the distance between two ranks is the number of values between
    # them, counting each end value half (Krippendorff 2011, "ordinal metric").
    ranked = sorted(marginals)  # type: ignore[type-var]
    cumulative: dict[Hashable, float] = {}
    running = 0.0
    for value in ranked:
        running += marginals[value]
        cumulative[value] = running

    def ordinal(c: Hashable, k: Hashable) -> float:
        low, high = (c, k) if cumulative[c] <= cumulative[k] else (k, c)
        between = cumulative[high] - cumulative[low] + marginals[low]
        return (between - (marginals[c] + marginals[k]) / 2) ** 2

    return ordinal


# --------------------------------------------------------------------------- unitizing alpha


@dataclass(frozen=True)
class UnitizingResult:
    """Krippendorff's unitizing alpha for one label (``label=None``: all labels at once).

    ``observed`` and ``expected`` are uD_o and uD_e; alpha = 1 - observed / expected.
    ``annotators`` counts distinct annotators, ``spans`` the spans of the label
    they marked, ``documents`` the documents pooled (those with two or more annotators).
    """

    label: str | None
    alpha: float
    observed: float
    expected: float
    annotators: int
    spans: int
    documents: int


@dataclass
class _UnitizingTally:
    """What one label contributes to uD_o and uD_e, additive across documents.

    observed: sum over documents of (sum over ordered annotator pairs of delta^2) / (m_d (m_d - 1)),
    i.e. each document's squared differences averaged over its own annotator pairs.
    length: L, the pooled continuum length. observer_length: sum of m_d * L_d (m * L for one document).
    """

    observed: float = 0.0
    length: int = 0
    observer_length: int = 0
    unit_lengths: list[int] = field(default_factory=list)
    gap_lengths: list[int] = field(default_factory=list)
    spans: int = 0
    documents: int = 0
    annotators: set[str] = field(default_factory=set)

    def add(self, other: _UnitizingTally) -> None:
        self.observed += other.observed
        self.length += other.length
        self.observer_length += other.observer_length
        self.unit_lengths.extend(other.unit_lengths)
        self.gap_lengths.extend(other.gap_lengths)
        self.spans += other.spans
        self.documents += other.documents
        self.annotators |= other.annotators


# A section of one annotator's segmentation of the continuum: (begin, end, is_unit).
_Section = tuple[int, int, bool]


def _sections(units: Iterable[Unit], length: int) -> list[_Section]:
    """Cut [0, length) into one annotator's units of a label and the gaps between them.

    Overlapping units are merged into their union: unitizing treats every
    character as inside a unit or not, and DESIGN lets an analyst override the
    "no overlap within a label" warning. Touching units stay separate units, as
    in Krippendorff's (1995) examples. Raises ValueError for a unit past the end.
    """
    merged: list[list[int]] = []
    for start, end in sorted((unit.start, unit.end) for unit in units):
        if end > length:
            raise ValueError(f"span [{start}, {end}) runs past the end of the text ({length})")
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    sections: list[_Section] = []
    cursor = 0
    for start, end in merged:
        if start > cursor:
            sections.append((cursor, start, False))
        sections.append((start, end, True))
        cursor = end
    if cursor < length:
        sections.append((cursor, length, False))
    return sections


def _pair_disagreement(first: Sequence[_Section], second: Sequence[_Section]) -> int:
    """Sum of Krippendorff's (2004) delta^2 over all pairs of sections of two annotators.

    delta^2 is non-zero only for sections that intersect: two units that overlap
    give (b_g - b_h)^2 + (e_g - e_h)^2; a unit lying wholly inside the other's gap
    gives its length squared; anything else gives 0. Both segmentations cover the
    same continuum, so one merge-like sweep over their boundaries visits every
    intersecting pair exactly once: O(g + h), never per character.
    """
    total = 0
    i = j = 0
    while i < len(first) and j < len(second):
        begin_g, end_g, unit_g = first[i]
        begin_h, end_h, unit_h = second[j]
        if unit_g and unit_h:
            total += (begin_g - begin_h) ** 2 + (end_g - end_h) ** 2
        elif unit_g:
            if begin_h <= begin_g and end_g <= end_h:
                total += (end_g - begin_g) ** 2
        elif unit_h and begin_g <= begin_h and end_h <= end_g:
            total += (end_h - begin_h) ** 2
        if end_g <= end_h:
            i += 1
        if end_h <= end_g:
            j += 1
    return total


def _document_tally(
    units_by_annotator: Mapping[str, Sequence[Unit]], annotators: Sequence[str], length: int
) -> _UnitizingTally:
    """One document's contribution for one label (units already filtered to that label).

    A document with fewer than two annotators, or an empty text, contributes
    nothing: it has no pair of annotators to disagree.
    """
    tally = _UnitizingTally()
    m = len(annotators)
    if m < 2 or length <= 0:
        return tally
    segmentations = [_sections(units_by_annotator.get(annotator, ()), length) for annotator in annotators]
    pair_sum = sum(_pair_disagreement(g, h) for g, h in combinations(segmentations, 2))
    tally.observed = 2 * pair_sum / (m * (m - 1))
    tally.length = length
    tally.observer_length = m * length
    for sections in segmentations:
        for begin, end, is_unit in sections:
            (tally.unit_lengths if is_unit else tally.gap_lengths).append(end - begin)
    tally.spans = sum(len(units_by_annotator.get(annotator, ())) for annotator in annotators)
    tally.documents = 1
    tally.annotators = set(annotators)
    return tally


def _unitizing_result(tally: _UnitizingTally, label: str | None) -> UnitizingResult:
    """uD_o, uD_e and alpha from a tally (Krippendorff 2004, Quality & Quantity 38).

    For m annotators over a continuum of length L, with every annotator's units
    (length l) and gaps (length l_gap) of the label pooled, and N units in all:

        uD_o = sum_{i != j} sum_{g, h} delta^2_{igjh} / (m (m - 1) L^2)
        uD_e = (2 / L) * sum_units [ (N - 1) / 3 * (2 l^3 - 3 l^2 + l)
                                     + l^2 * sum_{gaps with l_gap >= l} (l_gap - l + 1) ]
               / (m L (m L - 1) - sum_units l (l - 1))

    Pooled documents replace m L by sum_d m_d L_d and average each document's
    squared differences over its own annotator pairs; with the same m for every
    document this is exactly the formula on the concatenated continuum, except
    that a gap never runs across a document boundary (no span can either).

    The gap sum is taken over gap lengths sorted once, with suffix sums, so
    uD_e costs O((units + gaps) log gaps) rather than units x gaps.
    """
    if tally.documents == 0 or tally.length == 0:
        return UnitizingResult(label, _NAN, _NAN, _NAN, len(tally.annotators), tally.spans, tally.documents)
    length = tally.length
    unit_count = len(tally.unit_lengths)
    gaps = sorted(tally.gap_lengths)
    suffix = [0] * (len(gaps) + 1)  # suffix[i] = sum(gaps[i:])
    for index in range(len(gaps) - 1, -1, -1):
        suffix[index] = suffix[index + 1] + gaps[index]

    # Python integers keep the numerator exact however long the texts are.
    # l (l - 1) (2 l - 1) is always divisible by 6, so the division by 3 is exact.
    numerator = 0
    within_units = 0
    for unit_length in tally.unit_lengths:
        numerator += (unit_count - 1) * (unit_length * (unit_length - 1) * (2 * unit_length - 1) // 3)
        first_fitting = bisect_left(gaps, unit_length)
        placements = suffix[first_fitting] - (unit_length - 1) * (len(gaps) - first_fitting)
        numerator += unit_length * unit_length * placements
        within_units += unit_length * (unit_length - 1)
    pairable = tally.observer_length * (tally.observer_length - 1) - within_units

    observed = tally.observed / (length * length)
    expected = 2 * numerator / (length * pairable) if pairable > 0 else 0.0
    alpha = 1 - observed / expected if expected > 0 else _NAN
    return UnitizingResult(
        label=label,
        alpha=alpha,
        observed=observed,
        expected=expected,
        annotators=len(tally.annotators),
        spans=tally.spans,
        documents=tally.documents,
    )


def _overall_unitizing(results: Iterable[UnitizingResult]) -> UnitizingResult:
    """alpha over all labels: 1 - sum_c uD_o,c / sum_c uD_e,c (Krippendorff 2004), labels with nan left out."""
    observed = expected = 0.0
    spans = annotators = documents = 0
    for result in results:
        if math.isnan(result.expected):
            continue
        observed += result.observed
        expected += result.expected
        spans += result.spans
        annotators = max(annotators, result.annotators)
        documents = max(documents, result.documents)
    alpha = 1 - observed / expected if expected > 0 else _NAN
    return UnitizingResult(
        None, alpha, observed if documents else _NAN, expected if documents else _NAN, annotators, spans, documents
    )


def _resolve_annotators(units: Sequence[Unit], annotators: Collection[str] | None) -> tuple[str, ...]:
    seen = {unit.annotator for unit in units}
    if annotators is None:
        return tuple(sorted(seen))
    unknown = seen.difference(annotators)
    if unknown:
        raise ValueError(f"spans by annotators not listed as annotating this document: {sorted(unknown)}")
    return tuple(sorted(set(annotators)))


def _group_by_label_and_annotator(units: Iterable[Unit]) -> dict[str, dict[str, list[Unit]]]:
    grouped: dict[str, dict[str, list[Unit]]] = {}
    for unit in units:
        grouped.setdefault(unit.label, {}).setdefault(unit.annotator, []).append(unit)
    return grouped


def _unitizing_tallies(
    units: Sequence[Unit], length: int, annotators: Sequence[str], labels: Iterable[str]
) -> dict[str, _UnitizingTally]:
    grouped = _group_by_label_and_annotator(units)
    return {label: _document_tally(grouped.get(label, {}), annotators, length) for label in labels}


def unitizing_alpha(
    units: Sequence[Unit],
    continuum_length: int,
    label: str | None = None,
    *,
    annotators: Collection[str] | None = None,
) -> float:
    """Krippendorff's unitizing alpha (uα) of one document, for one label or for all.

    The continuum is the document's characters [0, continuum_length). For a
    label, each annotator's spans of that label are the units and everything
    else is gap (Krippendorff 2004: binary, the label against its absence).
    ``label=None`` gives the overall uα across every label present,
    1 - sum uD_o / sum uD_e. Annotators default to those seen in ``units``;
    pass ``annotators`` to include one who marked nothing.

    Spans of one label by one annotator are assumed not to overlap; where they
    do, they are merged into their union before computing (touching spans stay
    two units). Raises ValueError for a span past ``continuum_length`` or by an
    annotator missing from ``annotators``.

    Returns nan with fewer than two annotators, an empty continuum, or zero
    expected disagreement (for instance, nobody marked the label at all).
    """
    return unitizing_alpha_multi([(units, continuum_length)], label, annotators=[annotators])


def unitizing_alpha_multi(
    documents: Sequence[tuple[Sequence[Unit], int]],
    label: str | None = None,
    *,
    annotators: Sequence[Collection[str] | None] | None = None,
) -> float:
    """uα pooled over documents, each given as (units, text_length).

    Observed and expected disagreements are pooled as if the documents were one
    continuum laid end to end (Krippendorff's concatenation), except that a gap
    never runs across a document boundary. Documents may have different
    annotators; each document's disagreement is averaged over its own annotator
    pairs, and documents with fewer than two annotators are left out.
    ``annotators``, if given, holds one entry per document (None: infer from
    its units). Same conventions, errors and nan cases as `unitizing_alpha`.
    """
    if annotators is not None and len(annotators) != len(documents):
        raise ValueError("annotators must have one entry per document")
    resolved = [
        (units, length, _resolve_annotators(units, annotators[index] if annotators is not None else None))
        for index, (units, length) in enumerate(documents)
    ]
    labels = sorted({unit.label for units, _length, _who in resolved for unit in units}) if label is None else [label]
    pooled = {name: _UnitizingTally() for name in labels}
    for units, length, who in resolved:
        for name, tally in _unitizing_tallies(units, length, who, labels).items():
            pooled[name].add(tally)
    if label is not None:
        return _unitizing_result(pooled[label], label).alpha
    return _overall_unitizing(_unitizing_result(tally, name) for name, tally in pooled.items()).alpha


# --------------------------------------------------------------------------- span and relation F1


# (start, end, key): text order. attrgetter, not a function: match_spans sorts every
# annotator's spans of every document by it, and a Python-level key call per span showed in profiles.
_position: Callable[[Unit], tuple[int, int, str]] = attrgetter("start", "end", "key")


def _pair_position(pair: tuple[Unit, Unit]) -> tuple[int, int, str, str]:
    first = pair[0]
    return (first.start, first.end, first.key, first.label)


def match_spans(a: Sequence[Unit], b: Sequence[Unit], mode: MatchMode = "overlap") -> list[tuple[Unit, Unit]]:
    """Pair spans of a with spans of b, one-to-one, only within the same label.

    ``exact``: same label, start and end.
    ``overlap``: same label and at least one shared character. Candidate pairs
    are taken greedily, most shared characters first; ties go to the pair whose
    boundaries differ least (|start difference| + |end difference|), then to
    the earlier span of a, then of b. A span joins at most one pair. Greedy is
    not always the largest possible matching, but it is deterministic and each
    pair is explainable to a reviewer ("these two overlap most").

    Returns (span of a, span of b) pairs in text order of the a span.
    Raises ValueError for an unknown mode.
    """
    if mode not in _MATCH_MODES:
        raise ValueError(f"unknown match mode {mode!r}; expected one of {_MATCH_MODES}")
    pairs: list[tuple[Unit, Unit]] = []
    if mode == "exact":
        # Reverse order, so that pop() hands out identical spans earliest key first.
        waiting: dict[tuple[str, int, int], list[Unit]] = {}
        for unit in sorted(b, key=_position, reverse=True):
            waiting.setdefault((unit.label, unit.start, unit.end), []).append(unit)
        for unit in sorted(a, key=_position):
            same = waiting.get((unit.label, unit.start, unit.end))
            if same:
                pairs.append((unit, same.pop()))
        return pairs

    b_by_label: dict[str, list[Unit]] = {}
    for unit in sorted(b, key=_position):
        b_by_label.setdefault(unit.label, []).append(unit)
    a_by_label: dict[str, list[Unit]] = {}
    for unit in sorted(a, key=_position):
        a_by_label.setdefault(unit.label, []).append(unit)
    for label, a_units in a_by_label.items():
        b_units = b_by_label.get(label)
        if not b_units:
            continue
        b_starts = [unit.start for unit in b_units]
        # Running maximum of ends: lets the scan below stop early even when an
        # annotator's spans of one label overlap (so ends are not sorted).
        b_max_end: list[int] = []
        for unit in b_units:
            b_max_end.append(max(unit.end, b_max_end[-1]) if b_max_end else unit.end)
        candidates: list[tuple[int, int, int, int]] = []
        for index_a, unit_a in enumerate(a_units):
            index_b = bisect_left(b_starts, unit_a.end) - 1  # last b span starting before unit_a ends
            while index_b >= 0 and b_max_end[index_b] > unit_a.start:
                unit_b = b_units[index_b]
                shared = min(unit_a.end, unit_b.end) - max(unit_a.start, unit_b.start)
                if shared > 0:
                    boundary_gap = abs(unit_a.start - unit_b.start) + abs(unit_a.end - unit_b.end)
                    candidates.append((-shared, boundary_gap, index_a, index_b))
                index_b -= 1
        candidates.sort()
        taken_a: set[int] = set()
        taken_b: set[int] = set()
        for _shared, _gap, index_a, index_b in candidates:
            if index_a in taken_a or index_b in taken_b:
                continue
            taken_a.add(index_a)
            taken_b.add(index_b)
            pairs.append((a_units[index_a], b_units[index_b]))
    pairs.sort(key=_pair_position)
    return pairs


def span_f1(a: Sequence[Unit], b: Sequence[Unit], mode: MatchMode = "overlap") -> F1Score:
    """Span F1 of annotator b against annotator a, over all labels, matched by `match_spans`."""
    return F1Score.from_counts(len(match_spans(a, b, mode)), len(a), len(b))


def _relation_score(pairs: Sequence[tuple[Unit, Unit]], links_a: Sequence[Link], links_b: Sequence[Link]) -> F1Score:
    counterpart = {unit_a.key: unit_b.key for unit_a, unit_b in pairs}
    waiting = Counter((link.type, link.source_key, link.target_key) for link in links_b)
    matched = 0
    for link in links_a:
        source, target = counterpart.get(link.source_key), counterpart.get(link.target_key)
        if source is None or target is None:
            continue
        wanted = (link.type, source, target)
        if waiting[wanted] > 0:
            waiting[wanted] -= 1
            matched += 1
    return F1Score.from_counts(matched, len(links_a), len(links_b))


def _require_unique_keys(units: Sequence[Unit]) -> None:
    keys = [unit.key for unit in units]
    if len(set(keys)) != len(keys):
        raise ValueError("relation agreement needs a unique key on every span of an annotator")


def relation_f1(
    units_a: Sequence[Unit],
    links_a: Sequence[Link],
    units_b: Sequence[Unit],
    links_b: Sequence[Link],
    mode: MatchMode = "overlap",
) -> F1Score:
    """Relation F1 of annotator b against annotator a.

    A relation of a matches one of b when both endpoints are matched spans
    (`match_spans` in ``mode``) and the types are equal; matching is one-to-one.
    A relation whose endpoint is not among the given units never matches but
    still counts. Raises ValueError when span keys repeat within an annotator who made relations.
    """
    if links_a:
        _require_unique_keys(units_a)
    if links_b:
        _require_unique_keys(units_b)
    return _relation_score(match_spans(units_a, units_b, mode), links_a, links_b)


# --------------------------------------------------------------------------- attributes


@dataclass(frozen=True)
class AttributeAgreement:
    """Agreement on one attribute over spans that annotators matched.

    ``items`` counts matched span groups with at least two values of the
    attribute. ``kappa`` is Cohen's kappa when exactly two annotators are
    involved (over groups where both gave a value), else nan; ``alpha`` is
    Krippendorff's nominal alpha for any number of annotators.
    """

    attribute: str
    alpha: float
    kappa: float
    items: int
    annotators: int


def _matched_groups(units: Sequence[Unit], mode: MatchMode) -> list[dict[str, Unit]]:
    """Groups of spans, one per annotator at most, joined by pairwise `match_spans`.

    Pairwise matches are chained (a~b and b~c put a, b and c in one group). A
    chain that reaches two spans of the same annotator is ambiguous and left out.
    """
    by_annotator: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_annotator[unit.annotator].append(unit)
    matches = [
        match_spans(by_annotator[first], by_annotator[second], mode)
        for first, second in combinations(sorted(by_annotator), 2)
    ]
    return _groups_from_matches(units, matches)


def _groups_from_matches(
    units: Sequence[Unit], matches: Iterable[Sequence[tuple[Unit, Unit]]]
) -> list[dict[str, Unit]]:
    """Chain pairwise matches into groups (union-find over the units); see `_matched_groups`."""
    index = {id(unit): position for position, unit in enumerate(units)}
    parent = list(range(len(units)))

    def root(position: int) -> int:
        while parent[position] != position:
            parent[position] = parent[parent[position]]
            position = parent[position]
        return position

    for pairs in matches:
        for unit_a, unit_b in pairs:
            parent[root(index[id(unit_a)])] = root(index[id(unit_b)])

    members: dict[int, list[Unit]] = defaultdict(list)
    for position, unit in enumerate(units):
        members[root(position)].append(unit)
    groups: list[dict[str, Unit]] = []
    for group in members.values():
        if len(group) < 2:
            continue
        by_name = {unit.annotator: unit for unit in group}
        if len(by_name) == len(group):
            groups.append(by_name)
    return groups


def attribute_agreement(
    documents: Iterable[Sequence[Unit]],
    *,
    mode: MatchMode = "overlap",
    attributes: Collection[str] | None = None,
) -> dict[str, AttributeAgreement]:
    """Agreement on span attributes, over spans matched across annotators, pooled over documents.

    ``documents`` holds each document's units (all annotators). Within a
    document, spans are matched pairwise (`match_spans` in ``mode``) and
    chained into groups; each group is one item whose values are the
    annotators' values of the attribute (absent or None: missing). Values are
    compared for equality (nominal). ``attributes`` defaults to every
    attribute name present; pass the schema's categorical attributes to leave
    free text (``note``, ``source_entity``) out.
    """
    groups: list[dict[str, Unit]] = []
    for units in documents:
        groups.extend(_matched_groups(list(units), mode))
    return _attribute_results(groups, attributes)


def _attribute_results(
    groups: Sequence[Mapping[str, Unit]], attributes: Collection[str] | None
) -> dict[str, AttributeAgreement]:
    """`attribute_agreement` over groups already matched (annotator -> span).

    One pass over the groups keeps, per attribute, only the items with two or more
    values: the others are unpairable (alpha drops them) and have no pair for kappa,
    so the figures are those of the full coders-by-groups matrix, at a fraction of
    the cost when most spans carry few of the schema's attributes.
    """
    wanted_only = None if attributes is None else set(attributes)
    names: set[str] = set()
    items_by_attribute: dict[str, list[dict[str, Hashable]]] = defaultdict(list)
    for group in groups:
        values: dict[str, dict[str, Hashable]] = {}
        for annotator, unit in group.items():
            for name in unit.attributes:
                if wanted_only is None:
                    names.add(name)
                elif name not in wanted_only:
                    continue
                value = _attribute_value(unit, name)
                if value is not None:
                    values.setdefault(name, {})[annotator] = value
        for name, by_annotator in values.items():
            if len(by_annotator) >= 2:
                items_by_attribute[name].append(by_annotator)
    wanted = sorted(attributes) if attributes is not None else sorted(names)
    annotators = sorted(set().union(*groups)) if groups else []

    results: dict[str, AttributeAgreement] = {}
    for attribute in wanted:
        items = items_by_attribute.get(attribute, [])
        rows: list[list[Hashable | None]] = [[item.get(annotator) for item in items] for annotator in annotators]
        kappa = _NAN
        if len(annotators) == 2:
            # Two annotators and two values per item: both gave a value on every item kept.
            kappa = cohen_kappa(rows[0], rows[1])
        results[attribute] = AttributeAgreement(
            attribute=attribute,
            alpha=krippendorff_alpha(rows) if rows else _NAN,
            kappa=kappa,
            items=len(items),
            annotators=len(annotators),
        )
    return results


def _pair_attribute_results(
    matched: Sequence[tuple[Unit, Unit]], attributes: Collection[str]
) -> dict[str, AttributeAgreement]:
    """`_attribute_results` for the groups of one pair's matches, without building the groups:
    the pair's values side by side, where both gave one."""
    wanted = sorted(attributes)
    values: dict[str, tuple[list[Hashable], list[Hashable]]] = {name: ([], []) for name in wanted}
    for unit_a, unit_b in matched:
        for name in unit_a.attributes.keys() & unit_b.attributes.keys():
            side_by_side = values.get(name)
            if side_by_side is None:
                continue
            value_a, value_b = _attribute_value(unit_a, name), _attribute_value(unit_b, name)
            if value_a is not None and value_b is not None:
                side_by_side[0].append(value_a)
                side_by_side[1].append(value_b)
    annotators = 2 if matched else 0
    return {
        name: AttributeAgreement(
            attribute=name,
            alpha=krippendorff_alpha([first, second]) if annotators else _NAN,
            kappa=cohen_kappa(first, second) if annotators else _NAN,
            items=len(first),
            annotators=annotators,
        )
        for name, (first, second) in values.items()
    }


_PLAIN_VALUES = (str, bool, int, float, type(None))


def _attribute_value(unit: Unit | None, attribute: str) -> Hashable | None:
    if unit is None:
        return None
    value = unit.attributes.get(attribute)
    # Schema values are str, bool or numbers: skip the (slow, ABC-based) Hashable check for them.
    if type(value) in _PLAIN_VALUES:
        return value
    return value if isinstance(value, Hashable) else repr(value)


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class PairAgreement:
    """Span and relation F1 between two annotators (``annotator_a`` is the reference, and sorts first)."""

    annotator_a: str
    annotator_b: str
    spans_exact: F1Score
    spans_overlap: F1Score
    relations_exact: F1Score
    relations_overlap: F1Score
    # attribute -> Cohen's kappa (and alpha) of the two over their overlap-matched spans; filled by
    # `project_agreement` when asked for attributes, pooled over the documents both annotated.
    attributes: Mapping[str, AttributeAgreement] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentAgreement:
    """Agreement within one document.

    ``span_counts``: annotator -> label -> spans; ``relation_counts``: annotator -> relations.
    ``unitizing``: label -> uα; ``unitizing_overall``: uα across labels.
    ``pairs``: one entry per pair of annotators, in name order.
    """

    text_length: int
    annotators: tuple[str, ...]
    span_counts: Mapping[str, Mapping[str, int]]
    relation_counts: Mapping[str, int]
    unitizing: Mapping[str, UnitizingResult]
    unitizing_overall: UnitizingResult
    pairs: tuple[PairAgreement, ...]


@dataclass(frozen=True)
class ProjectAgreement:
    """Agreement pooled over a project's documents.

    ``unitizing`` pools uα per label over all documents (see `unitizing_alpha_multi`).
    ``pairs`` micro-averages each annotator pair over the documents both annotated;
    ``spans_exact`` ... ``relations_overlap`` micro-average over every pair of every
    document. Their f1 is symmetric; their precision and recall follow the name
    order of each pair, so read f1 there.
    """

    documents: tuple[DocumentAgreement, ...]
    annotators: tuple[str, ...]
    span_counts: Mapping[str, Mapping[str, int]]
    unitizing: Mapping[str, UnitizingResult]
    unitizing_overall: UnitizingResult
    pairs: tuple[PairAgreement, ...]
    spans_exact: F1Score
    spans_overlap: F1Score
    relations_exact: F1Score
    relations_overlap: F1Score
    # attribute -> Krippendorff's alpha over every analyst's overlap-matched spans (see
    # `attribute_agreement`); empty unless `project_agreement` was given attributes.
    attributes: Mapping[str, AttributeAgreement] = field(default_factory=dict)


_PairMatches = dict[tuple[str, str], list[tuple[Unit, Unit]]]


def _document_agreement(
    document: AnnotatedDocument, labels: Collection[str] | None
) -> tuple[DocumentAgreement, dict[str, _UnitizingTally], _PairMatches]:
    """The document's summary, its uα tallies per label (for pooling) and each pair's overlap matches
    (for attribute agreement, so spans are matched once)."""
    units, links, length = document.units, document.links, document.text_length
    if length < 0:
        raise ValueError(f"text_length must not be negative, got {length}")
    annotators = _resolve_annotators(units, document.annotators)
    known = set(annotators)
    units_by_annotator: dict[str, list[Unit]] = {annotator: [] for annotator in annotators}
    for unit in units:
        if unit.end > length:
            raise ValueError(f"span [{unit.start}, {unit.end}) runs past the end of the text ({length})")
        units_by_annotator[unit.annotator].append(unit)
    links_by_annotator: dict[str, list[Link]] = {annotator: [] for annotator in annotators}
    for link in links:
        if link.annotator not in known:
            raise ValueError(f"relation by {link.annotator!r}, who is not an annotator of this document")
        links_by_annotator[link.annotator].append(link)
    for annotator, own_links in links_by_annotator.items():
        if own_links:
            _require_unique_keys(units_by_annotator[annotator])

    report_labels = sorted({unit.label for unit in units} if labels is None else set(labels))
    tallies = _unitizing_tallies(units, length, annotators, report_labels)
    unitizing = {label: _unitizing_result(tally, label) for label, tally in tallies.items()}

    pairs: list[PairAgreement] = []
    overlap_matches: _PairMatches = {}
    for first, second in combinations(annotators, 2):
        scores: dict[str, tuple[F1Score, F1Score]] = {}
        for mode in _MATCH_MODES:
            matched = match_spans(units_by_annotator[first], units_by_annotator[second], mode)
            spans = F1Score.from_counts(len(matched), len(units_by_annotator[first]), len(units_by_annotator[second]))
            relations = _relation_score(matched, links_by_annotator[first], links_by_annotator[second])
            scores[mode] = (spans, relations)
        overlap_matches[first, second] = matched  # the loop's last mode is "overlap"
        pairs.append(
            PairAgreement(
                annotator_a=first,
                annotator_b=second,
                spans_exact=scores["exact"][0],
                spans_overlap=scores["overlap"][0],
                relations_exact=scores["exact"][1],
                relations_overlap=scores["overlap"][1],
            )
        )

    span_counts = {
        annotator: dict(Counter(unit.label for unit in own)) for annotator, own in units_by_annotator.items()
    }
    summary = DocumentAgreement(
        text_length=length,
        annotators=annotators,
        span_counts=span_counts,
        relation_counts={annotator: len(own) for annotator, own in links_by_annotator.items()},
        unitizing=unitizing,
        unitizing_overall=_overall_unitizing(unitizing.values()),
        pairs=tuple(pairs),
    )
    return summary, tallies, overlap_matches


def document_agreement(
    units: Sequence[Unit],
    links: Sequence[Link],
    text_length: int,
    *,
    annotators: Collection[str] | None = None,
    labels: Collection[str] | None = None,
) -> DocumentAgreement:
    """Every agreement figure for one document.

    uα per label (``labels`` defaults to every label present), span F1 exact and
    overlap and relation F1 for each pair of annotators, and the counts behind
    them. ``annotators`` defaults to those seen in ``units``; give it to count
    an analyst who marked nothing. Raises ValueError for a span past the end of
    the text, a span or relation by an unlisted annotator, or repeated span keys
    within an annotator who made relations.
    """
    summary, _tallies, _matches = _document_agreement(AnnotatedDocument(units, links, text_length, annotators), labels)
    return summary


def project_agreement(
    documents: Iterable[AnnotatedDocument],
    *,
    labels: Collection[str] | None = None,
    attributes: Collection[str] | None = None,
) -> ProjectAgreement:
    """Agreement over many documents: per-document summaries plus pooled figures.

    uα per label is pooled over all documents (a document where nobody marked a
    label still counts, as agreement on its absence); F1 is micro-averaged, by
    adding matched and marked counts before dividing. Same errors as
    `document_agreement`.

    With ``attributes`` (names; give the schema's categorical ones, free text
    makes no sense here), agreement on those attributes of overlap-matched spans
    as well: ``ProjectAgreement.attributes`` holds Krippendorff's alpha over all
    annotators, pooled over documents (exactly `attribute_agreement` over the
    documents' units), and each pair's ``attributes`` Cohen's kappa over the
    spans the two matched. Without it both are empty and nothing extra is computed.
    """
    # Two passes: every document reports (and pools) every label of the project.
    collected = list(documents)
    report_labels = (
        sorted({unit.label for document in collected for unit in document.units}) if labels is None else sorted(labels)
    )
    summaries: list[DocumentAgreement] = []
    pooled = {label: _UnitizingTally() for label in report_labels}
    groups: list[dict[str, Unit]] = []
    matched_by_pair: _PairMatches = defaultdict(list)
    for document in collected:
        summary, tallies, matches = _document_agreement(document, report_labels)
        summaries.append(summary)
        for label, tally in tallies.items():
            pooled[label].add(tally)
        if attributes is not None:
            groups.extend(_groups_from_matches(document.units, matches.values()))
            for pair_names, matched in matches.items():
                matched_by_pair[pair_names].extend(matched)
    unitizing = {label: _unitizing_result(tally, label) for label, tally in pooled.items()}

    by_pair: dict[tuple[str, str], list[PairAgreement]] = defaultdict(list)
    span_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for summary in summaries:
        for pair in summary.pairs:
            by_pair[pair.annotator_a, pair.annotator_b].append(pair)
        for annotator, counts in summary.span_counts.items():
            span_counts[annotator].update(counts)
    pairs = tuple(
        PairAgreement(
            annotator_a=first,
            annotator_b=second,
            spans_exact=_f1_pooled(pair.spans_exact for pair in group),
            spans_overlap=_f1_pooled(pair.spans_overlap for pair in group),
            relations_exact=_f1_pooled(pair.relations_exact for pair in group),
            relations_overlap=_f1_pooled(pair.relations_overlap for pair in group),
            attributes={}
            if attributes is None
            else _pair_attribute_results(matched_by_pair[first, second], attributes),
        )
        for (first, second), group in sorted(by_pair.items())
    )
    every_pair = [pair for summary in summaries for pair in summary.pairs]
    return ProjectAgreement(
        documents=tuple(summaries),
        annotators=tuple(sorted({name for summary in summaries for name in summary.annotators})),
        span_counts={annotator: dict(counts) for annotator, counts in sorted(span_counts.items())},
        unitizing=unitizing,
        unitizing_overall=_overall_unitizing(unitizing.values()),
        pairs=pairs,
        spans_exact=_f1_pooled(pair.spans_exact for pair in every_pair),
        spans_overlap=_f1_pooled(pair.spans_overlap for pair in every_pair),
        relations_exact=_f1_pooled(pair.relations_exact for pair in every_pair),
        relations_overlap=_f1_pooled(pair.relations_overlap for pair in every_pair),
        attributes={} if attributes is None else _attribute_results(groups, attributes),
    )
