"""How long project-wide agreement takes on a realistic project.

1,000 documents of 4,000 to 4,400 characters, 3 analysts each, 20 spans per analyst
per document, with the relations the guidelines ask for. Analysts start from the
same underlying spans and drift: boundaries off by a few characters, now and then
a span moved, dropped for another or given another label. The figure printed is
the median of 5 runs of `project_agreement` with attribute agreement on `check_worthy`
(data generation not timed), wall clock and this process's CPU time: on a loaded
machine the CPU figure is the one to compare.

Run from the project root:

    .venv/bin/python -m bench.agreement_bench
"""

from __future__ import annotations

import random
import statistics
import time

from annotations.agreement import AnnotatedDocument, Link, Unit, project_agreement

DOCUMENTS = 1_000
ANNOTATORS = ("ana", "ben", "cai")
SPANS_PER_ANNOTATOR = 20
TEXT_LENGTH = 4_000
RUNS = 5
TARGET_SECONDS = 5.0
SEED = 20240611

# One label per slot of the text; attributions sit before the claim they source.
_LABEL_PATTERN = ("attribution", "claim", "claim", "counter-claim", "claim")
_SLOT = TEXT_LENGTH // SPANS_PER_ANNOTATOR


def _annotator_spans(rng: random.Random, document: int, annotator: str, gold: list[tuple[str, int, int]]) -> list[Unit]:
    units = []
    for index, (label, start, end) in enumerate(gold):
        slot_start = index * _SLOT
        roll = rng.random()
        if roll < 0.08:  # a different reading of the same slot
            start = slot_start + rng.randrange(0, _SLOT // 2)
            end = start + rng.randrange(20, _SLOT // 2)
        elif roll < 0.12:  # the same stretch, another label
            label = rng.choice([other for other in ("claim", "attribution", "counter-claim") if other != label])
        else:  # each boundary agrees with the underlying span 4 times in 5, else drifts a few characters
            start = max(slot_start, start + (rng.randint(-6, 6) if rng.random() < 0.2 else 0))
            end = min(slot_start + _SLOT, end + (rng.randint(-6, 6) if rng.random() < 0.2 else 0))
        units.append(
            Unit(
                annotator,
                label,
                start,
                end,
                {"check_worthy": rng.choice(("yes", "no"))},
                key=f"{document}-{annotator}-{index}",
            )
        )
    return units


def _links(annotator: str, units: list[Unit]) -> list[Link]:
    links = []
    for index, unit in enumerate(units):
        nearest_claim = next((other for other in units[index + 1 :] if other.label == "claim"), None)
        if unit.label == "attribution" and nearest_claim is not None:
            links.append(Link(annotator, "sources", unit.key, nearest_claim.key))
        previous_claim = next((other for other in reversed(units[:index]) if other.label == "claim"), None)
        if unit.label == "counter-claim" and previous_claim is not None:
            links.append(Link(annotator, "disputes", unit.key, previous_claim.key))
    return links


def generate(seed: int = SEED) -> list[AnnotatedDocument]:
    rng = random.Random(seed)
    documents = []
    for document in range(DOCUMENTS):
        gold = []
        for index in range(SPANS_PER_ANNOTATOR):
            start = index * _SLOT + rng.randrange(0, _SLOT // 4)
            gold.append((_LABEL_PATTERN[index % len(_LABEL_PATTERN)], start, start + rng.randrange(40, _SLOT * 3 // 4)))
        units: list[Unit] = []
        links: list[Link] = []
        for annotator in ANNOTATORS:
            own = _annotator_spans(rng, document, annotator, gold)
            units += own
            links += _links(annotator, own)
        documents.append(AnnotatedDocument(units, links, TEXT_LENGTH + rng.randrange(0, 400), ANNOTATORS))
    return documents


def main() -> None:
    documents = generate()
    timings = []
    cpu = []
    for _ in range(RUNS):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = project_agreement(documents, attributes=["check_worthy"])
        timings.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    spans = sum(len(document.units) for document in documents)
    median = statistics.median(timings)
    print(f"project_agreement: {DOCUMENTS} documents x {len(ANNOTATORS)} annotators x {SPANS_PER_ANNOTATOR} spans")
    print(f"  {spans} spans, {sum(len(document.links) for document in documents)} relations")
    print(f"  runs: {', '.join(f'{seconds:.3f}' for seconds in timings)} s")
    print(
        f"  median: {median:.3f} s (CPU {statistics.median(cpu):.3f} s)   target: <= {TARGET_SECONDS:.1f} s   "
        f"{'OK' if median <= TARGET_SECONDS else 'SLOW'}"
    )
    alphas = ", ".join(f"{label} {item.alpha:.3f}" for label, item in result.unitizing.items())
    print(
        f"  pooled uα: {alphas}; span F1 exact {result.spans_exact.f1:.3f}, overlap {result.spans_overlap.f1:.3f}; "
        f"relation F1 overlap {result.relations_overlap.f1:.3f}"
    )
    worthy = result.attributes["check_worthy"]
    print(f"  check_worthy α {worthy.alpha:.3f} over {worthy.items} matched groups")


if __name__ == "__main__":
    main()
