"""Review figures on a real database: project agreement from stored spans, and the adjudication page.

1. Agreement for a project of 1,000 documents × 3 analysts × 20 spans, the way
   the dashboard computes it: load the submitted sets' spans from the database,
   then `project_agreement` (target ≤ 5 s). Printed separately: the database read
   and the pure computation, and the whole dashboard selector.
   The review queue over the same project (every document ready): time and queries.
2. The adjudication page's server render time for one document with 3 × 200
   spans (target ≤ 200 ms), through Django's test client (no network), after
   the gold set was built, so the page shows decided and open points.

Each figure is the median of RUNS runs. Run from the project root with your own database:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_review \\
        .venv/bin/python -m bench.review_bench
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from annotations import review_selectors  # noqa: E402
from annotations.agreement import AnnotatedDocument, project_agreement  # noqa: E402
from annotations.models import AnnotationSet, Document, Project, Role, SetState, Span  # noqa: E402
from annotations.services import projects, reviewing  # noqa: E402
from annotations.text import text_sha256  # noqa: E402

RUNS = 5
DOCUMENTS = 1_000
ANALYSTS = 3
SPANS = 20
PAGE_SPANS = 200
SEED = 7
WORDS = [
    "minister",
    "said",
    "taxes",
    "will",
    "fall",
    "budget",
    "rise",
    "percent",
    "critics",
    "replied",
    "bridge",
    "tender",
    "council",
]


def _text(rng: random.Random, length: int) -> str:
    out: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:length]


def _base_spans(rng: random.Random, text: str, count: int) -> list[tuple[str, int, int]]:
    """The spans all analysts start from: one per slot of the text."""
    slot = len(text) // count
    labels = ("attribution", "claim", "claim", "counter-claim", "claim")
    base = []
    for index in range(count):
        start = index * slot + rng.randrange(0, 6)
        base.append(
            (
                labels[index % len(labels)],
                start,
                min(index * slot + slot - 1, start + rng.randrange(slot // 3, slot - 6)),
            )
        )
    return base


def _spans_for(
    rng: random.Random, annotation_set: AnnotationSet, text: str, base: list[tuple[str, int, int]]
) -> list[Span]:
    """One analyst's reading: three spans in four as the base, the rest with a boundary moved or another label."""
    now = timezone.now()
    spans = []
    for label, start, end in base:
        roll = rng.random()
        if roll < 0.15:
            start = max(0, start + rng.randint(-5, 5))
        elif roll < 0.22:
            end = min(len(text), max(start + 1, end + rng.randint(-5, 5)))
        elif roll < 0.25:
            label = "claim" if label != "claim" else "counter-claim"
        # Attributes as analysts give them, so the dashboard's attribute agreement has values to compare.
        attributes = (
            {"quote": rng.choice(("direct", "indirect"))}
            if label == "attribution"
            else {"check_worthy": rng.choice(("yes", "yes", "no"))}
        )
        spans.append(
            Span(annotation_set=annotation_set, label=label, start=start, end=end, quote=text[start:end],
                 attributes=attributes, created_at=now, updated_at=now)
        )  # fmt: skip
    return spans


_cpu_medians: list[float] = []


def _median(run: Callable[[], object]) -> float:
    """Median wall time of RUNS runs; the median CPU time of this process goes to `_last_cpu()`.

    On a loaded machine wall time measures the neighbours too: compare the CPU figure there.
    """
    times, cpu = [], []
    for _ in range(RUNS):
        began, began_cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    _cpu_medians.append(statistics.median(cpu))
    return statistics.median(times)


def _last_cpu() -> float:
    return _cpu_medians[-1]


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database of your own (see the docstring)")
    call_command("migrate", verbosity=0)
    rng = random.Random(SEED)
    users = get_user_model().objects
    manager, _ = users.get_or_create(username="bench-manager")
    analysts = [users.get_or_create(username=f"bench-analyst-{i}")[0] for i in range(ANALYSTS)]
    Project.objects.filter(name__startswith="Review bench").delete()

    # --- 1. project agreement from the database --------------------------------------------------
    project = projects.project_create(name="Review bench: agreement", actor=manager)
    for analyst in analysts:
        projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    texts = [f"{i} " + _text(rng, 4_000) for i in range(DOCUMENTS)]
    documents = Document.objects.bulk_create(
        [Document(project=project, title=f"Doc {i}", text=t, text_sha256=text_sha256(t)) for i, t in enumerate(texts)]
    )
    sets = AnnotationSet.objects.bulk_create(
        [
            AnnotationSet(document=d, annotator=a, state=SetState.SUBMITTED, submitted_at=timezone.now())
            for d in documents
            for a in analysts
        ]
    )
    base_of = {d.pk: _base_spans(rng, d.text, SPANS) for d in documents}
    text_of = {d.pk: d.text for d in documents}
    spans = [
        s for a_set in sets for s in _spans_for(rng, a_set, text_of[a_set.document_id], base_of[a_set.document_id])
    ]
    Span.objects.bulk_create(spans, batch_size=5_000)
    print(f"agreement project: {DOCUMENTS} documents × {ANALYSTS} analysts × {SPANS} spans = {len(spans)} spans")

    def dashboard() -> object:
        return review_selectors.project_dashboard(project=project, user=manager)

    dashboard()  # warm-up: connection, schema parse
    figure = _median(dashboard)
    board = review_selectors.project_dashboard(project=project, user=manager)
    overall = board.agreement.unitizing_overall
    print(
        f"  dashboard selector (DB read + project_agreement with attributes): median {figure:.2f} s "
        f"(CPU {_last_cpu():.2f} s)  (target ≤ 5 s)  "
        f"αU all labels = {overall.alpha:.3f} over {overall.spans} spans"
    )
    submitted = list(AnnotationSet.objects.filter(document__project=project))
    units = review_selectors._units_by_document(submitted, keys=False)
    by_document: dict[int, list[str]] = {}
    for a_set in submitted:
        by_document.setdefault(a_set.document_id, []).append(str(a_set.annotator_id))
    annotated = [AnnotatedDocument(units[d], [], len(text_of[d]), names) for d, names in by_document.items()]
    read = _median(lambda: review_selectors._units_by_document(submitted, keys=False))
    read_cpu = _last_cpu()
    pure = _median(
        lambda: project_agreement(
            annotated,
            labels=project.parsed_schema.label_keys,
            attributes=review_selectors.categorical_attributes(project),
        )
    )
    print(
        f"  of which: spans read from the database {read:.2f} s (CPU {read_cpu:.2f} s), "
        f"pure project_agreement {pure:.2f} s (CPU {_last_cpu():.2f} s)"
    )

    # The review queue over the same project: every document is ready (all sets submitted).
    def queue() -> object:
        return review_selectors.review_queue(project=project, user=manager)

    with CaptureQueriesContext(connection) as queries:
        rows = queue()
    figure = _median(queue)
    print(
        f"  review queue: {len(rows)} ready documents, median {figure:.2f} s (CPU {_last_cpu():.2f} s), "
        f"{len(queries)} queries"
    )

    # --- 2. the adjudication page --------------------------------------------------------------------
    page_project = projects.project_create(name="Review bench: page", actor=manager)
    reviewer, _ = users.get_or_create(username="bench-reviewer")
    projects.membership_set_role(project=page_project, user=reviewer, role=Role.REVIEWER, actor=manager)
    for analyst in analysts:
        projects.membership_set_role(project=page_project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    long_text = _text(rng, 60_000)
    document = Document.objects.create(
        project=page_project, title="A long article", text=long_text, text_sha256=text_sha256(long_text)
    )
    page_sets = [
        AnnotationSet.objects.create(document=document, annotator=a, state=SetState.SUBMITTED) for a in analysts
    ]
    page_base = _base_spans(rng, long_text, PAGE_SPANS)
    for a_set in page_sets:
        Span.objects.bulk_create(_spans_for(rng, a_set, long_text, page_base))
    began = time.perf_counter()
    built = reviewing.gold_build(document=document, actor=reviewer)
    print(
        f"adjudication document: {len(long_text)} characters, {ANALYSTS} × {PAGE_SPANS} spans; "
        f"gold_build pre-accepted {built.spans_added} spans in {time.perf_counter() - began:.2f} s, "
        f"{built.open_points} points open"
    )
    # Plain static storage: the bench has no collectstatic manifest, and the figure is the view's own time.
    override = override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    override.enable()
    client = Client()
    client.force_login(reviewer)
    url = reverse("annotations:review_document", args=[document.pk])
    first = client.get(url, secure=True)
    assert first.status_code == 200, first.status_code
    figure = _median(lambda: client.get(url, secure=True))
    size = len(client.get(url, secure=True).content)
    print(
        f"  review page render: median {figure * 1000:.0f} ms (CPU {_last_cpu() * 1000:.0f} ms)  (target ≤ 200 ms), "
        f"{size // 1024} KB of HTML"
    )
    print(f"database: {settings.DATABASES['default']['ENGINE']} {settings.DATABASES['default']['NAME']}")


if __name__ == "__main__":
    main()
