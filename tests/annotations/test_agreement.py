"""Agreement measures against published worked examples, hand-derived cases and properties.

Provenance, stated per test:
- "published": the value printed in the cited source. Where we read the value
  through an independent re-implementation's test suite (DKPro Statistics,
  Meyer et al. 2014, github.com/dkpro/dkpro-statistics), the test says so.
- "hand-derived": worked out in the test's comment from the formula, step by
  step, for this project; not a published number.
The module is pure, so nothing here touches the database.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotations.agreement import (
    AnnotatedDocument,
    Link,
    Unit,
    attribute_agreement,
    cohen_kappa,
    document_agreement,
    krippendorff_alpha,
    krippendorff_alpha_nominal,
    match_spans,
    project_agreement,
    relation_f1,
    span_f1,
    unitizing_alpha,
    unitizing_alpha_multi,
)

# --------------------------------------------------------------------------- Cohen's kappa


def _from_table(cells: list[tuple[int, str, str]]) -> tuple[list[str], list[str]]:
    """Expand a contingency table [(count, rater a's value, rater b's value)] into two label lists."""
    a: list[str] = []
    b: list[str] = []
    for count, value_a, value_b in cells:
        a += [value_a] * count
        b += [value_b] * count
    return a, b


def test_cohen_kappa_reproduces_the_textbook_two_by_two_example():
    # Published: the 2x2 example in Wikipedia "Cohen's kappa" (50 proposals, two
    # readers): yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 35/50 = 0.7,
    # p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = (0.7 - 0.5) / (1 - 0.5) = 0.40.
    a, b = _from_table([(20, "yes", "yes"), (5, "yes", "no"), (10, "no", "yes"), (15, "no", "no")])
    assert cohen_kappa(a, b) == pytest.approx(0.40, abs=1e-12)


def test_cohen_kappa_reproduces_cohen_1960_three_category_example():
    # Published: Cohen (1960), Educational and Psychological Measurement 20(1), p. 45:
    # 200 items, three categories, p_o = .70, p_e = .41, kappa = .492 (three decimals).
    # Table as transcribed in DKPro Statistics' Cohen1960Test.createExample2.
    a, b = _from_table(
        [
            (88, "1", "1"),
            (14, "1", "2"),
            (18, "1", "3"),
            (10, "2", "1"),
            (40, "2", "2"),
            (10, "2", "3"),
            (2, "3", "1"),
            (6, "3", "2"),
            (12, "3", "3"),
        ]
    )
    assert cohen_kappa(a, b) == pytest.approx(0.492, abs=0.0005)


def test_cohen_kappa_is_nan_when_undefined_and_refuses_unequal_lengths():
    assert math.isnan(cohen_kappa([], []))
    # Both raters say "yes" to everything: p_e = 1, kappa is 0/0.
    assert math.isnan(cohen_kappa(["yes"] * 4, ["yes"] * 4))
    with pytest.raises(ValueError):
        cohen_kappa(["yes"], ["yes", "no"])


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), max_size=40))
def test_cohen_kappa_is_symmetric_in_the_two_raters(pairs):
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    forward, backward = cohen_kappa(a, b), cohen_kappa(b, a)
    assert (math.isnan(forward) and math.isnan(backward)) or forward == pytest.approx(backward)


# --------------------------------------------------------------------------- Krippendorff's alpha

# Published: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": the
# four-observer, twelve-unit reliability data with missing values (None) that the paper
# works through under several metrics. Unit 12 holds a single value, so it is not
# pairable under any metric.
_KRIPPENDORFF_2011_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


@pytest.mark.parametrize(
    ("metric", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_alpha_reproduces_the_four_observer_example_with_missing_values(metric, published):
    # Published to three decimals in Krippendorff (2011) for this data: nominal .743,
    # ordinal .815, interval .849, ratio .797. The nominal and interval values are also
    # asserted by DKPro Statistics' Krippendorff2004Test for the same data, taken from
    # Content Analysis (2004), p. 230.
    assert krippendorff_alpha(_KRIPPENDORFF_2011_C, metric) == pytest.approx(published, abs=0.0005)


def test_krippendorff_alpha_reproduces_the_two_observer_binary_example():
    # Published: Krippendorff (2011), example A: two observers, ten units, binary,
    # no missing values: alpha = 0.095. By hand: o_01 = o_10 = 4, n_0 = 14, n_1 = 6,
    # n = 20, alpha = 1 - (n - 1) * o_01 / (n_0 * n_1) = 1 - 76 / 84 = 0.0952.
    observers = [
        [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
        [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
    ]
    assert krippendorff_alpha_nominal(observers) == pytest.approx(0.095, abs=0.0005)
    assert krippendorff_alpha_nominal(observers) == pytest.approx(1 - 76 / 84, abs=1e-12)


def test_krippendorff_alpha_is_nan_without_pairable_values_or_variation():
    assert math.isnan(krippendorff_alpha_nominal([]))
    assert math.isnan(krippendorff_alpha_nominal([["a", None], [None, "b"]]))  # no unit has two values
    assert math.isnan(krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]))  # D_e = 0
    with pytest.raises(ValueError):
        krippendorff_alpha_nominal([["a", "b"], ["a"]])
    with pytest.raises(ValueError):
        krippendorff_alpha(_KRIPPENDORFF_2011_C, "circular")  # type: ignore[arg-type]


@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.sampled_from("xyz")), min_size=6, max_size=6),
        min_size=2,
        max_size=4,
    ),
    st.randoms(use_true_random=False),
)
def test_krippendorff_alpha_does_not_depend_on_the_order_of_coders(rows, random):
    shuffled = list(rows)
    random.shuffle(shuffled)
    original, reordered = krippendorff_alpha_nominal(rows), krippendorff_alpha_nominal(shuffled)
    assert (math.isnan(original) and math.isnan(reordered)) or original == pytest.approx(reordered)


# --------------------------------------------------------------------------- unitizing alpha


def _krippendorff_2004_figure_2() -> list[Unit]:
    """Krippendorff (2004), Quality & Quantity 38, Figure 2 / appendix: observers i and j,
    categories c and k, continuum [150, 450) of length 300. Offsets shifted by -150
    so the continuum starts at 0. (begin, length) as in the paper; also transcribed in
    DKPro Statistics' unitizing Krippendorff2004Test and zyocum/text-alpha's sample data."""
    sections = [
        ("i", "c", 225, 70),
        ("i", "c", 370, 30),
        ("j", "c", 220, 80),
        ("j", "c", 355, 20),
        ("j", "c", 400, 20),
        ("i", "k", 180, 60),
        ("i", "k", 300, 50),
        ("j", "k", 180, 60),
        ("j", "k", 300, 50),
    ]
    return [Unit(who, label, begin - 150, begin - 150 + length) for who, label, begin, length in sections]


def test_unitizing_alpha_reproduces_krippendorff_2004_worked_example():
    # Published (four decimals): category c: uD_o = .0144, uD_e = .0532, c-u-alpha = .7286;
    # category k: uD_o = 0, uD_e = .0490, k-u-alpha = 1.
    units = _krippendorff_2004_figure_2()
    summary = document_agreement(units, [], 300)
    c, k = summary.unitizing["c"], summary.unitizing["k"]
    assert c.observed == pytest.approx(0.0144, abs=0.00005)
    assert c.expected == pytest.approx(0.0532, abs=0.00005)
    assert c.alpha == pytest.approx(0.7286, abs=0.00005)
    assert k.observed == 0
    assert k.expected == pytest.approx(0.0490, abs=0.00005)
    assert k.alpha == 1.0
    assert unitizing_alpha(units, 300, "c") == c.alpha
    assert (c.annotators, c.spans, k.spans) == (2, 5, 4)


def test_unitizing_alpha_over_all_labels_reproduces_krippendorff_2004_overall_value():
    # Published overall u-alpha = .8591 = 1 - .0144 / (.0532 + .0490), computed in the
    # source from the rounded four-decimal disagreements. Unrounded, the same formula
    # gives .8587, so the agreement is to three decimals (0.859), not four.
    alpha = unitizing_alpha(_krippendorff_2004_figure_2(), 300)
    assert alpha == pytest.approx(0.8591, abs=0.0005)
    assert round(alpha, 3) == 0.859


_KRIPPENDORFF_1995_EXAMPLE = [
    # (begin, length, observer, example) on a continuum of 24, Krippendorff (1995), p. 57,
    # as transcribed in DKPro Statistics' Krippendorff1995Test.createExample.
    (2, 8, "Bertha", "A"), (14, 6, "Bertha", "A"), (4, 4, "Bill", "A"), (15, 2, "Bill", "A"),
    (0, 18, "John", "B"), (0, 2, "Jill", "B"), (2, 1, "Jill", "B"), (3, 1, "Jill", "B"),
    (4, 1, "Jill", "B"), (5, 1, "Jill", "B"), (6, 3, "Jill", "B"), (9, 1, "Jill", "B"),
    (2, 6, "Gerret", "C"), (10, 2, "Gerret", "C"), (14, 4, "Gerret", "C"), (20, 2, "Gerret", "C"),
    (0, 2, "Gill", "C"), (4, 4, "Gill", "C"), (10, 4, "Gill", "C"), (16, 2, "Gill", "C"), (20, 2, "Gill", "C"),
    (0, 2, "Heather", "D"), (2, 8, "Heather", "D"), (10, 4, "Heather", "D"), (14, 6, "Heather", "D"),
    (20, 4, "Heather", "D"), (0, 4, "Hill", "D"), (4, 4, "Hill", "D"), (8, 7, "Hill", "D"),
    (15, 2, "Hill", "D"), (17, 7, "Hill", "D"),
]  # fmt: skip


def _krippendorff_1995(example: str, stretch: int) -> tuple[list[Unit], int]:
    units = [
        Unit(observer, example, begin * stretch, (begin + length) * stretch)
        for begin, length, observer, name in _KRIPPENDORFF_1995_EXAMPLE
        if name == example
    ]
    return units, 24 * stretch


@pytest.mark.parametrize(("example", "published"), [("A", 0.553), ("B", -0.926), ("C", 0.679), ("D", 0.066)])
def test_unitizing_alpha_approaches_krippendorff_1995_values_on_a_fine_continuum(example, published):
    # Published: Krippendorff (1995), Sociological Methodology 25, p. 57, alphas for four
    # pairs of observers (A .553, B -.926, C .679, D .066), derived for continuous data.
    # We stretch the 24-step continuum 50,000-fold to approach it. The 1995 expected
    # disagreement has a small error that the 2004 formula (used here) corrects (noted
    # by DKPro Statistics), so, as DKPro does, we assert agreement within 0.02 only.
    # Example B has touching units (Jill), example D has no gaps at all.
    units, length = _krippendorff_1995(example, 50_000)
    assert unitizing_alpha(units, length, example) == pytest.approx(published, abs=0.02)


def test_unitizing_disagreements_match_an_independent_implementation_on_the_1995_example():
    # Not published: DKPro Statistics' KrippendorffAlphaUnitizingAgreement (an independent
    # Java implementation of the same 2004 formulas) asserts these to five decimals:
    # uD_o for examples A-D on the 24-step continuum, and uD_e for example C at half
    # resolution (every begin and length halved, rounding down).
    observed = {"A": 0.03125, "B": 2.26736, "C": 0.02777, "D": 0.38715}
    for example, expected_observed in observed.items():
        units, length = _krippendorff_1995(example, 1)
        result = document_agreement(units, [], length).unitizing[example]
        assert result.observed == pytest.approx(expected_observed, abs=0.00001)
    halved = [
        Unit(observer, "C", begin // 2, begin // 2 + length // 2)
        for begin, length, observer, name in _KRIPPENDORFF_1995_EXAMPLE
        if name == "C"
    ]
    assert document_agreement(halved, [], 12).unitizing["C"].expected == pytest.approx(0.05494, abs=0.00001)


def test_unitizing_alpha_hand_derived_two_annotators():
    # Hand-derived from Krippendorff (2004): uα = 1 - uD_o / uD_e.
    # L = 10, m = 2. Ana marks claim [2, 6), Ben marks claim [3, 6).
    # Sections: Ana gap[0,2) unit[2,6) gap[6,10); Ben gap[0,3) unit[3,6) gap[6,10).
    # Observed: the only non-zero pair is unit[2,6) with unit[3,6):
    #   (2 - 3)^2 + (6 - 6)^2 = 1 (unit[2,6) is not inside gap[0,3)).
    #   uD_o = 2 * 1 / (m (m - 1) L^2) = 2 / 200 = 1/100.
    # Expected: N = 2 units (l = 4, 3); gaps 2, 4, 3, 4.
    #   l = 4: (N-1)/3 (2*64 - 3*16 + 4) = 28; gaps >= 4: (4-4+1) + (4-4+1) = 2 -> 16 * 2 = 32; 60.
    #   l = 3: (N-1)/3 (2*27 - 3*9 + 3) = 10; gaps >= 3: 2 + 1 + 2 = 5 -> 9 * 5 = 45; 55.
    #   sum = 115; denominator m L (m L - 1) - sum l(l-1) = 20 * 19 - (12 + 6) = 362.
    #   uD_e = (2 / L) * 115 / 362 = 23 / 362.
    # uα = 1 - (1/100) / (23/362) = 1 - 362/2300 = 969/1150 = 0.84261.
    units = [Unit("ana", "claim", 2, 6), Unit("ben", "claim", 3, 6)]
    result = document_agreement(units, [], 10).unitizing["claim"]
    assert result.observed == pytest.approx(1 / 100, abs=1e-15)
    assert result.expected == pytest.approx(23 / 362, abs=1e-15)
    assert result.alpha == pytest.approx(float(Fraction(969, 1150)), abs=1e-12)


def test_unitizing_alpha_counts_an_annotator_who_marked_nothing():
    # Hand-derived. Same as above plus Cai, who submitted no span (m = 3, mL = 30).
    # Observed pair sums: Ana-Ben 1; Ana-Cai 4^2 = 16 (unit[2,6) inside Cai's gap[0,10));
    #   Ben-Cai 3^2 = 9. uD_o = 2 * 26 / (3 * 2 * 100) = 52/600.
    # Expected: gaps 2, 4, 3, 4, 10.
    #   l = 4: 28 + 16 * (1 + 1 + 7) = 172;  l = 3: 10 + 9 * (2 + 1 + 2 + 8) = 127;  sum = 299.
    #   denominator 30 * 29 - 18 = 852;  uD_e = (2/10) * 299 / 852 = 598/8520.
    # uα = 1 - (52/600) / (598/8520) = 1 - 142/115 = -27/115 = -0.23478.
    units = [Unit("ana", "claim", 2, 6), Unit("ben", "claim", 3, 6)]
    assert unitizing_alpha(units, 10, "claim", annotators=["ana", "ben", "cai"]) == pytest.approx(-27 / 115)
    # Without naming Cai, she is invisible: the two-annotator value.
    assert unitizing_alpha(units, 10, "claim") == pytest.approx(969 / 1150)


def test_unitizing_alpha_multi_pools_documents_as_one_continuum():
    # Hand-derived. Document 1 as in the two-annotator case (L = 10); document 2 (L = 5):
    # both mark claim [1, 4). Pooled: L = 15, m L = 30.
    # Observed: 2 * (1 + 0) / (2 * 1) = 1 -> uD_o = 1 / 15^2 = 1/225.
    # Units 4, 3, 3, 3 (N = 4); gaps 2, 4, 3, 4 and 1, 1, 1, 1.
    #   l = 4: 3/3 * 84 = 84 + 16 * 2 = 116;  each l = 3: 3/3 * 30 = 30 + 9 * 5 = 75 (x3 = 225).
    #   sum = 341; denominator 30 * 29 - (12 + 6 + 6 + 6) = 840; uD_e = (2/15) * 341/840.
    # uα = 1 - (1/225) / (682/12600) = 1 - 28/341 = 313/341 = 0.91789.
    first = [Unit("ana", "claim", 2, 6), Unit("ben", "claim", 3, 6)]
    second = [Unit("ana", "claim", 1, 4), Unit("ben", "claim", 1, 4)]
    assert unitizing_alpha_multi([(first, 10), (second, 5)], "claim") == pytest.approx(313 / 341)
    # One document pooled alone is that document's uα.
    assert unitizing_alpha_multi([(first, 10)], "claim") == unitizing_alpha(first, 10, "claim")


def test_unitizing_alpha_is_nan_on_degenerate_input():
    assert math.isnan(unitizing_alpha([], 100))
    assert math.isnan(unitizing_alpha([], 100, "claim", annotators=["ana", "ben"]))  # nobody marked a claim
    assert math.isnan(unitizing_alpha([Unit("ana", "claim", 0, 5)], 100, "claim"))  # one annotator
    assert math.isnan(unitizing_alpha_multi([], "claim"))
    # Everyone marks the single character: no gap and no room to disagree, uD_e = 0.
    assert math.isnan(unitizing_alpha([Unit("ana", "claim", 0, 1), Unit("ben", "claim", 0, 1)], 1, "claim"))


def test_unitizing_alpha_merges_overlapping_spans_of_one_label_by_one_annotator():
    overlapping = [Unit("ana", "claim", 2, 5), Unit("ana", "claim", 4, 8), Unit("ben", "claim", 3, 8)]
    merged = [Unit("ana", "claim", 2, 8), Unit("ben", "claim", 3, 8)]
    assert unitizing_alpha(overlapping, 20, "claim") == unitizing_alpha(merged, 20, "claim")


def test_unitizing_alpha_refuses_spans_past_the_text_or_by_unlisted_annotators():
    with pytest.raises(ValueError):
        unitizing_alpha([Unit("ana", "claim", 5, 12), Unit("ben", "claim", 5, 9)], 10, "claim")
    with pytest.raises(ValueError):
        unitizing_alpha([Unit("ana", "claim", 5, 9)], 10, "claim", annotators=["ben", "cai"])
    with pytest.raises(ValueError):
        Unit("ana", "claim", 5, 5)


def _reference_unitizing_alpha(segmentations: list[list[tuple[int, int, bool]]], length: int) -> float:
    """Krippendorff's (2004) uα written as literally as possible: every pair of sections of
    every pair of observers, every unit against every gap. Slow; for checking the sweep."""
    m = len(segmentations)
    observed = 0
    for g_sections, h_sections in combinations(segmentations, 2):
        for begin_g, end_g, unit_g in g_sections:
            for begin_h, end_h, unit_h in h_sections:
                l_g, l_h = end_g - begin_g, end_h - begin_h
                if unit_g and unit_h and -l_g < begin_g - begin_h < l_h:
                    observed += (begin_g - begin_h) ** 2 + (end_g - end_h) ** 2
                elif unit_g and not unit_h and l_h - l_g >= begin_g - begin_h >= 0:
                    observed += l_g**2
                elif unit_h and not unit_g and l_g - l_h >= begin_h - begin_g >= 0:
                    observed += l_h**2
    units = [end - begin for sections in segmentations for begin, end, is_unit in sections if is_unit]
    gaps = [end - begin for sections in segmentations for begin, end, is_unit in sections if not is_unit]
    n = len(units)
    numerator = Fraction(0)
    for size in units:
        numerator += Fraction(n - 1, 3) * (2 * size**3 - 3 * size**2 + size)
        numerator += size**2 * sum(gap - size + 1 for gap in gaps if gap >= size)
    d_o = Fraction(2 * observed, m * (m - 1) * length**2)
    pairable = m * length * (m * length - 1) - sum(size * (size - 1) for size in units)
    d_e = Fraction(2, length) * numerator / pairable
    return math.nan if d_e == 0 else float(1 - d_o / d_e)


@st.composite
def _claims(draw, annotators=("ana", "ben", "cai")):
    """A text length and, per annotator, non-overlapping claim spans inside it."""
    length = draw(st.integers(min_value=1, max_value=60))
    units = []
    for annotator in annotators:
        cuts = sorted(draw(st.sets(st.integers(min_value=0, max_value=length), max_size=8)))
        units += [Unit(annotator, "claim", start, end) for start, end in zip(cuts[::2], cuts[1::2], strict=False)]
    return units, length


def _segmentation(units, length):
    sections, cursor = [], 0
    for unit in sorted(units, key=lambda u: u.start):
        if unit.start > cursor:
            sections.append((cursor, unit.start, False))
        sections.append((unit.start, unit.end, True))
        cursor = unit.end
    if cursor < length:
        sections.append((cursor, length, False))
    return sections


@given(_claims())
def test_unitizing_alpha_sweep_agrees_with_the_literal_formula(claims):
    units, length = claims
    annotators = ["ana", "ben", "cai"]
    reference = _reference_unitizing_alpha(
        [_segmentation([u for u in units if u.annotator == who], length) for who in annotators], length
    )
    fast = unitizing_alpha(units, length, "claim", annotators=annotators)
    assert (math.isnan(reference) and math.isnan(fast)) or fast == pytest.approx(reference, rel=1e-9, abs=1e-12)


@given(_claims(annotators=("ana",)))
def test_unitizing_alpha_is_one_for_identical_annotators(claims):
    units, length = claims
    copies = units + [Unit("ben", unit.label, unit.start, unit.end) for unit in units]
    alpha = unitizing_alpha(copies, length, "claim", annotators=["ana", "ben"])
    # nan only where uD_e = 0 (no unit at all, or units filling every character with no room to vary).
    assert alpha == 1.0 or math.isnan(alpha)
    if units and any(unit.length > 1 for unit in units):
        assert alpha == 1.0


@given(_claims(annotators=("ana", "ben")))
def test_unitizing_alpha_is_at_most_one_and_symmetric_in_annotators(claims):
    units, length = claims
    swapped = [Unit("ben" if u.annotator == "ana" else "ana", u.label, u.start, u.end) for u in units]
    alpha = unitizing_alpha(units, length, "claim", annotators=["ana", "ben"])
    alpha_swapped = unitizing_alpha(swapped, length, "claim", annotators=["ben", "ana"])
    if math.isnan(alpha):
        assert math.isnan(alpha_swapped)
    else:
        assert alpha <= 1.0
        assert alpha == pytest.approx(alpha_swapped)


# --------------------------------------------------------------------------- span and relation F1

# Written for this project.
TEXT = "Minister Aliyev said unemployment fell by three percent. Opposition leaders called the figure invented."


def _span(annotator: str, label: str, quote: str, key: str) -> Unit:
    start = TEXT.index(quote)
    return Unit(annotator, label, start, start + len(quote), key=key)


# Ana marks the guideline spans. Ben keeps the full stop on the claim, takes "called"
# into the counter-claim and leaves out the second attribution.
ANA = [
    _span("ana", "attribution", "Minister Aliyev said", "a1"),
    _span("ana", "claim", "unemployment fell by three percent", "a2"),
    _span("ana", "attribution", "Opposition leaders called", "a3"),
    _span("ana", "counter-claim", "the figure invented", "a4"),
]
BEN = [
    _span("ben", "attribution", "Minister Aliyev said", "b1"),
    _span("ben", "claim", "unemployment fell by three percent.", "b2"),
    _span("ben", "counter-claim", "called the figure invented", "b3"),
]
ANA_LINKS = [
    Link("ana", "sources", "a1", "a2"),
    Link("ana", "disputes", "a4", "a2"),
    Link("ana", "sources", "a3", "a4"),
]
BEN_LINKS = [
    Link("ben", "sources", "b1", "b2"),
    Link("ben", "disputes", "b3", "b2"),
]


def test_span_f1_exact_counts_only_identical_boundaries():
    # Hand-derived: only "Minister Aliyev said" is identical. P = 1/3, R = 1/4, F1 = 2/7.
    score = span_f1(ANA, BEN, "exact")
    assert (score.matched_pairs, score.a_count, score.b_count) == (1, 4, 3)
    assert (score.precision, score.recall, score.f1) == pytest.approx((1 / 3, 1 / 4, 2 / 7))


def test_span_f1_overlap_matches_shared_characters_within_a_label():
    # Hand-derived: attribution, claim and counter-claim overlap Ana's; Ben's counter-claim also
    # overlaps Ana's "Opposition leaders called", but that one is an attribution, so it cannot
    # match. P = 3/3, R = 3/4, F1 = 6/7.
    score = span_f1(ANA, BEN, "overlap")
    assert (score.precision, score.recall, score.f1) == pytest.approx((1.0, 3 / 4, 6 / 7))
    keys = [(a.key, b.key) for a, b in match_spans(ANA, BEN, "overlap")]
    assert keys == [("a1", "b1"), ("a2", "b2"), ("a4", "b3")]


def test_overlap_matching_is_one_to_one_and_prefers_the_largest_overlap():
    text = "Taxes will fall and wages will rise."
    lumped = [Unit("ana", "claim", 0, text.index("."), key="whole")]
    split = [
        Unit("ben", "claim", 0, text.index(" and"), key="taxes"),
        Unit("ben", "claim", text.index("and"), text.index("."), key="wages"),
    ]
    # Ana lumps both predictions into one claim [0, 35); Ben splits them into "Taxes will fall"
    # [0, 15) and "and wages will rise" [16, 35). Both overlap Ana's claim (15 and 19 characters);
    # the larger overlap wins and Ana's claim is used up, so "taxes" stays unmatched.
    assert [(a.key, b.key) for a, b in match_spans(lumped, split, "overlap")] == [("whole", "wages")]
    score = span_f1(lumped, split, "overlap")
    assert (score.matched_pairs, score.precision, score.recall) == (1, 0.5, 1.0)


def test_overlap_ties_go_to_the_closer_boundaries_then_to_text_order():
    lumped = [Unit("ana", "claim", 0, 35, key="whole")]
    # Both share 15 characters with [0, 35); boundary differences 0 + 20 and 20 + 0 tie too,
    # so the earlier span wins.
    split = [Unit("ben", "claim", 20, 35, key="late"), Unit("ben", "claim", 0, 15, key="early")]
    assert [(a.key, b.key) for a, b in match_spans(lumped, split, "overlap")] == [("whole", "early")]
    # Equal overlap (15 characters of [5, 35)), but [5, 20) differs by 0 + 15 and [0, 20) by
    # 5 + 15: the closer boundaries win even though [0, 20) comes first in the text.
    later = [Unit("ana", "claim", 5, 35, key="whole")]
    closer = [Unit("ben", "claim", 0, 20, key="wide"), Unit("ben", "claim", 5, 20, key="tight")]
    assert [(a.key, b.key) for a, b in match_spans(later, closer, "overlap")] == [("whole", "tight")]


def test_span_f1_is_nan_when_nobody_marked_anything():
    score = span_f1([], [], "overlap")
    assert math.isnan(score.f1) and math.isnan(score.precision) and math.isnan(score.recall)
    assert span_f1(ANA, [], "exact").f1 == 0.0
    with pytest.raises(ValueError):
        span_f1(ANA, BEN, "fuzzy")  # type: ignore[arg-type]


def test_relation_f1_needs_matched_endpoints_and_the_same_type():
    # Hand-derived. Exact: only a1~b1 match, so no relation has both endpoints matched: F1 = 0.
    exact = relation_f1(ANA, ANA_LINKS, BEN, BEN_LINKS, "exact")
    assert (exact.matched_pairs, exact.f1) == (0, 0.0)
    # Overlap: sources a1->a2 ~ b1->b2 and disputes a4->a2 ~ b3->b2 match; sources a3->a4 has an
    # unmatched source. P = 2/2, R = 2/3, F1 = 4/5.
    overlap = relation_f1(ANA, ANA_LINKS, BEN, BEN_LINKS, "overlap")
    assert (overlap.precision, overlap.recall, overlap.f1) == pytest.approx((1.0, 2 / 3, 4 / 5))
    # Same endpoints, different type: no match.
    mistyped = [Link("ben", "sources", "b1", "b2"), Link("ben", "sources", "b3", "b2")]
    assert relation_f1(ANA, ANA_LINKS, BEN, mistyped, "overlap").matched_pairs == 1


def test_relation_f1_refuses_repeated_span_keys():
    with pytest.raises(ValueError):
        relation_f1(ANA + [_span("ana", "claim", "the figure", "a1")], ANA_LINKS, BEN, BEN_LINKS)


@given(_claims(annotators=("ana", "ben")))
def test_exact_matches_never_outnumber_overlap_matches(claims):
    units, _length = claims
    a = [u for u in units if u.annotator == "ana"]
    b = [u for u in units if u.annotator == "ben"]
    assert span_f1(a, b, "exact").matched_pairs <= span_f1(a, b, "overlap").matched_pairs


# --------------------------------------------------------------------------- attributes


def test_attribute_agreement_on_matched_spans_for_two_annotators():
    # Hand-derived. Four matched claims; check_worthy by Ana: yes yes no no, by Ben: yes no no no.
    # kappa: p_o = 3/4, p_e = (2*1 + 2*3)/16 = 1/2, kappa = (3/4 - 1/2) / (1/2) = 0.5.
    # alpha: o_yy = 2, o_yn = o_ny = 1, o_nn = 4; n_y = 3, n_n = 5, n = 8;
    #        alpha = 1 - (n - 1) * 2 / (2 * 3 * 5) = 1 - 14/30 = 0.5333.
    # Ben's extra unmatched claim carries a value that must not count.
    ana_values, ben_values = ["yes", "yes", "no", "no"], ["yes", "no", "no", "no"]
    units = []
    for index, (ana_value, ben_value) in enumerate(zip(ana_values, ben_values, strict=True)):
        units.append(Unit("ana", "claim", index * 20, index * 20 + 10, {"check_worthy": ana_value}))
        units.append(Unit("ben", "claim", index * 20 + 1, index * 20 + 10, {"check_worthy": ben_value}))
    units.append(Unit("ben", "claim", 100, 110, {"check_worthy": "yes"}))
    result = attribute_agreement([units], attributes=["check_worthy"])["check_worthy"]
    assert result.kappa == pytest.approx(0.5)
    assert result.alpha == pytest.approx(1 - 14 / 30)
    assert (result.items, result.annotators) == (4, 2)


def test_attribute_agreement_groups_three_annotators_and_reports_alpha_only():
    units = [
        Unit("ana", "attribution", 0, 20, {"quote": "indirect"}),
        Unit("ben", "attribution", 0, 18, {"quote": "indirect"}),
        Unit("cai", "attribution", 2, 20, {"quote": "direct"}),
        Unit("ana", "attribution", 40, 60, {"quote": "direct"}),
        Unit("ben", "attribution", 40, 60, {"quote": "direct"}),
        Unit("cai", "attribution", 40, 60),  # no value: missing, not a disagreement
    ]
    result = attribute_agreement([units])["quote"]
    assert math.isnan(result.kappa)
    # The same two items as reliability data: columns (indirect, indirect, direct), (direct, direct, -).
    expected = krippendorff_alpha_nominal([["indirect", "direct"], ["indirect", "direct"], ["direct", None]])
    assert result.alpha == pytest.approx(expected)
    assert (result.items, result.annotators) == (2, 3)


def test_project_agreement_reports_attribute_alpha_and_each_pairs_kappa_with_their_counts():
    # Two documents, three annotators. Pooled alpha must equal attribute_agreement over the same
    # units; each pair's kappa must equal cohen_kappa over the values of the spans the pair matched.
    first = [
        Unit("ana", "claim", 0, 10, {"check_worthy": "yes"}),
        Unit("ben", "claim", 1, 10, {"check_worthy": "yes"}),
        Unit("cai", "claim", 0, 9, {"check_worthy": "no"}),
        Unit("ana", "claim", 20, 30, {"check_worthy": "no"}),
        Unit("ben", "claim", 20, 30, {"check_worthy": "no"}),
    ]
    second = [
        Unit("ana", "claim", 0, 10, {"check_worthy": "no"}),
        Unit("ben", "claim", 0, 10, {"check_worthy": "yes"}),
        Unit("cai", "claim", 0, 10, {"check_worthy": "no"}),
        Unit("cai", "claim", 40, 50, {"check_worthy": "yes"}),  # matched by nobody: no item
    ]
    documents = [AnnotatedDocument(units, [], 60, ("ana", "ben", "cai")) for units in (first, second)]
    result = project_agreement(documents, attributes=["check_worthy"])

    pooled = result.attributes["check_worthy"]
    expected = attribute_agreement([first, second], attributes=["check_worthy"])["check_worthy"]
    assert pooled.alpha == pytest.approx(expected.alpha)
    assert (pooled.items, pooled.annotators) == (expected.items, expected.annotators) == (3, 3)
    assert math.isnan(pooled.kappa)  # three annotators: alpha only

    ana_ben = next(p for p in result.pairs if (p.annotator_a, p.annotator_b) == ("ana", "ben"))
    kappa = ana_ben.attributes["check_worthy"]
    # Matched pairs (ana, ben): yes/yes, no/no, no/yes.
    assert kappa.kappa == pytest.approx(cohen_kappa(["yes", "no", "no"], ["yes", "no", "yes"]))
    assert (kappa.items, kappa.annotators) == (3, 2)


def test_project_agreement_leaves_attributes_out_unless_asked():
    documents = [AnnotatedDocument([Unit("ana", "claim", 0, 5, {"hedged": True})], [], 10, ("ana", "ben"))]
    result = project_agreement(documents)
    assert result.attributes == {} and all(pair.attributes == {} for pair in result.pairs)


# --------------------------------------------------------------------------- summaries


def test_document_agreement_reports_every_figure_with_its_counts():
    summary = document_agreement(ANA + BEN, ANA_LINKS + BEN_LINKS, len(TEXT))
    assert summary.annotators == ("ana", "ben")
    assert summary.span_counts == {
        "ana": {"attribution": 2, "claim": 1, "counter-claim": 1},
        "ben": {"attribution": 1, "claim": 1, "counter-claim": 1},
    }
    assert summary.relation_counts == {"ana": 3, "ben": 2}
    assert set(summary.unitizing) == {"attribution", "claim", "counter-claim"}
    assert summary.unitizing["claim"].alpha == unitizing_alpha(ANA + BEN, len(TEXT), "claim")
    (pair,) = summary.pairs
    assert (pair.annotator_a, pair.annotator_b) == ("ana", "ben")
    assert pair.spans_exact == span_f1(ANA, BEN, "exact")
    assert pair.spans_overlap == span_f1(ANA, BEN, "overlap")
    assert pair.relations_overlap == relation_f1(ANA, ANA_LINKS, BEN, BEN_LINKS, "overlap")


def test_document_agreement_with_a_single_annotator_is_nan_and_has_no_pairs():
    summary = document_agreement(ANA, ANA_LINKS, len(TEXT))
    assert summary.pairs == ()
    assert all(math.isnan(result.alpha) for result in summary.unitizing.values())
    assert math.isnan(summary.unitizing_overall.alpha)


def test_project_agreement_pools_unitizing_and_micro_averages_f1():
    first = AnnotatedDocument(ANA + BEN, ANA_LINKS + BEN_LINKS, len(TEXT))
    second_units = [Unit("ana", "claim", 1, 4, key="x"), Unit("ben", "claim", 1, 4, key="y")]
    second = AnnotatedDocument(second_units, [], 30)
    lonely = AnnotatedDocument([Unit("cai", "claim", 0, 3)], [], 10)  # one annotator: no pair, no pooling
    project = project_agreement([first, second, lonely])

    assert len(project.documents) == 3
    assert project.annotators == ("ana", "ben", "cai")
    claim = project.unitizing["claim"]
    assert claim.alpha == unitizing_alpha_multi([(ANA + BEN, len(TEXT)), (second_units, 30)], "claim")
    assert claim.documents == 2
    # Counter-claims: only the first document has any, but the second still pools its silence.
    assert project.unitizing["counter-claim"].documents == 2
    # Micro-average: exact matches 1 + 1 over spans 4 + 1 (Ana) and 3 + 1 (Ben).
    assert (project.spans_exact.matched_pairs, project.spans_exact.a_count, project.spans_exact.b_count) == (2, 5, 4)
    assert project.spans_exact.f1 == pytest.approx(2 * 2 / 9)
    (pair,) = project.pairs
    assert pair.spans_exact == project.spans_exact
    assert project.span_counts["cai"] == {"claim": 1}
