"""REST API benchmark (issue 4). Prints figures; run it on PostgreSQL with your own database:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_api_bench .venv/bin/python bench/api_bench.py

Runs requests through Django's WSGI handler in-process (the test client: no network, no
gunicorn), with real token authentication, throttling and serialisation:
- page through N spans (default 1,000,000) at the largest page size for spans (5,000, what a
  full pull uses) and at 1,000, report spans/s as the client sees them (its parsing included);
- page through 10,000 documents with their text (include=text, page_size=1000);
- create 500 spans one request at a time, report p50/p95/p99 server time: the response's
  Server-Timing header, which the first middleware writes (Django's whole handling, every
  middleware, authentication, the database round trips and the COMMIT included); the
  client-side figure, which adds the test client's own request building, is printed beside it;
- bulk-create 10,000 spans in one request (server time, and as the client sees it).
Each figure is the median of --runs runs. The data is created once and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
# DEBUG off, as in production (DEBUG on would also keep every SQL query in memory).
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("HTTPS", "False")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("API_THROTTLE_TOKEN", "1000000/min")
os.environ.setdefault("AXES_ENABLED", "False")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from annotations.api.pagination import MAX_ROW_PAGE_SIZE  # noqa: E402
from annotations.models import AnnotationSet, Document, Project, Role, SetState, Span  # noqa: E402
from annotations.services import projects, tokens  # noqa: E402
from annotations.text import text_sha256  # noqa: E402

WORDS = [
    "the",
    "minister",
    "said",
    "taxes",
    "will",
    "fall",
    "next",
    "year",
    "while",
    "critics",
    "replied",
    "that",
    "the",
    "budget",
    "shows",
    "a",
    "rise",
]


def article(n: int, words: int) -> str:
    body = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(words))
    return f"Article {n}. {body}."


def setup_data(span_total: int, doc_total: int) -> tuple[Project, AnnotationSet, str]:
    user_model = get_user_model()
    manager, _ = user_model.objects.get_or_create(username="bench-manager")
    analyst, _ = user_model.objects.get_or_create(username="bench-analyst")
    project = Project.objects.filter(name="API bench").first()
    if project is None:
        project = projects.project_create(name="API bench", actor=manager)
        projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    have_docs = Document.objects.filter(project=project).count()
    if have_docs < doc_total:
        print(f"creating {doc_total - have_docs} documents…", flush=True)
        batch = []
        for n in range(have_docs, doc_total):
            text = article(n, 500)  # about 3 KB each
            batch.append(Document(project=project, title=f"Article {n}", text=text, text_sha256=text_sha256(text)))
        Document.objects.bulk_create(batch, batch_size=1000)
    # One long document holds the bulk and single-create spans; one analyst set per run.
    big_text = article(10**9, 12_000)
    big, _ = Document.objects.get_or_create(
        project=project, text_sha256=text_sha256(big_text), defaults={"title": "Long article", "text": big_text}
    )
    pull_set, _ = AnnotationSet.objects.get_or_create(
        document=Document.objects.filter(project=project).order_by("pk").first(), annotator=analyst,
        defaults={"state": SetState.IN_PROGRESS},
    )  # fmt: skip
    have_spans = Span.objects.filter(annotation_set=pull_set).count()
    if have_spans < span_total:
        print(f"creating {span_total - have_spans} spans to pull…", flush=True)
        text = pull_set.document.text
        quote = text[0:7]
        remaining = span_total - have_spans
        while remaining:
            count = min(remaining, 20_000)
            Span.objects.bulk_create(
                [Span(annotation_set=pull_set, label="claim", start=0, end=7, quote=quote) for _ in range(count)],
                batch_size=20_000,
            )
            remaining -= count
    if connection.vendor == "postgresql":
        # Fresh bulk-loaded tables have no statistics yet; autovacuum would get there, the bench should not wait.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    secret = tokens.api_token_create(user=analyst, name=f"bench {uuid.uuid4().hex[:6]}").secret
    return project, big, secret


def fresh_set(big: Document, analyst_name: str) -> AnnotationSet:
    user_model = get_user_model()
    analyst = user_model.objects.get(username="bench-analyst")
    AnnotationSet.objects.filter(document=big, annotator=analyst).delete()
    return AnnotationSet.objects.create(document=big, annotator=analyst)


def page_all(client: APIClient, url: str) -> tuple[int, float, float, float]:
    """Follow `next` to the end: (rows, wall seconds, this process's CPU seconds, stdlib-parse seconds).

    The client parses each page with orjson, as a client pulling a million rows would; what
    the standard library's json.loads would have added is timed apart and reported, not counted.
    """
    count, started, cpu_started, stdlib_parse = 0, time.perf_counter(), time.process_time(), 0.0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        body = orjson.loads(response.content)
        count += len(body["results"])
        url = body["next"]
        paused, cpu_paused = time.perf_counter(), time.process_time()
        json.loads(response.content)
        stdlib_parse += time.perf_counter() - paused
        started += time.perf_counter() - paused  # leave the stdlib parse out of the figures
        cpu_started += time.process_time() - cpu_paused
    return count, time.perf_counter() - started, time.process_time() - cpu_started, stdlib_parse


def server_time(response: Any) -> float:
    """Milliseconds from the response's Server-Timing header (annotations/request_id.py)."""
    return float(response["Server-Timing"].split("dur=")[1])


def word_offsets(text: str) -> list[tuple[int, int]]:
    offsets, position = [], 0
    for word in text.split(" "):
        offsets.append((position, position + len(word)))
        position += len(word) + 1
    return offsets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")
    call_command("migrate", verbosity=0)
    project, big, secret = setup_data(args.spans, args.documents)
    # Load the app as a gunicorn worker does (workbench/wsgi.py), which also moves the loaded
    # process's objects out of the garbage collector's reach (its freeze_startup_objects).
    import workbench.wsgi  # noqa: F401, E402

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    # The largest page a client may ask for spans (what a full pull uses, as docs/api.md advises),
    # and 1,000 for comparison with the other lists' bound.
    for page_size in (MAX_ROW_PAGE_SIZE, 1000):
        rates, cpu_rates, parse_extra = [], [], []
        for _ in range(args.runs):
            url = f"/api/v1/projects/{project.pk}/spans/?page_size={page_size}"
            count, seconds, cpu, stdlib_parse = page_all(client, url)
            rates.append(count / seconds)
            cpu_rates.append(count / cpu)
            parse_extra.append(stdlib_parse)
        print(f"pull spans, page_size={page_size}: {count} spans, median {statistics.median(rates):,.0f} spans/s "
              f"(target >= 50,000); per CPU second of this process {statistics.median(cpu_rates):,.0f} spans/s; "
              f"json.loads instead of orjson would add {statistics.median(parse_extra):.2f} s")  # fmt: skip

    times, cpus = [], []
    for _ in range(args.runs):
        count, seconds, cpu, _ = page_all(
            client, f"/api/v1/projects/{project.pk}/documents/?include=text&page_size=1000"
        )
        times.append(seconds)
        cpus.append(cpu)
    print(f"pull documents with text: {count} documents, median {statistics.median(times):.2f} s (target <= 3 s), "
          f"CPU {statistics.median(cpus):.2f} s")  # fmt: skip

    timings: list[float] = []  # as the in-process client sees it (its own request building included)
    server_timings: list[float] = []  # Server-Timing: Django's own time, first middleware to last
    cpu_timings: list[float] = []  # Python's own CPU time: a loaded machine's waiting for a core is not in it
    offsets = word_offsets(big.text)
    for _ in range(args.runs):
        annotation_set = fresh_set(big, "bench-analyst")
        version = annotation_set.version
        for start, end in offsets[:500]:
            body = {"label": "claim", "start": start, "end": end, "quote": big.text[start:end]}
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.post(
                f"/api/v1/sets/{annotation_set.pk}/spans/", body, format="json", HTTP_IF_MATCH=f'"{version}"'
            )
            timings.append((time.perf_counter() - started) * 1000)
            cpu_timings.append((time.process_time() - cpu_started) * 1000)
            assert response.status_code == 201, response.content[:300]
            server_timings.append(server_time(response))
            version += 1
    q = statistics.quantiles(server_timings, n=100)
    print(f"single create: {len(timings)} requests, server time p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
          f"p99 {q[98]:.1f} ms (targets p50 <= 8, p99 <= 20)")  # fmt: skip
    q = statistics.quantiles(timings, n=100)
    print(
        f"               as the in-process client sees it: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"
    )
    q = statistics.quantiles(cpu_timings, n=100)
    start, end = offsets[500]
    body = {"label": "claim", "start": start, "end": end, "quote": big.text[start:end]}
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/api/v1/sets/{annotation_set.pk}/spans/", body, format="json", HTTP_IF_MATCH=f'"{version}"'
        )
        assert response.status_code == 201, response.content[:300]
    print(f"               Python CPU p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms; "
          f"{len(queries.captured_queries)} SQL statements per create, BEGIN and COMMIT included")  # fmt: skip

    bulk_times, bulk_cpus, bulk_server = [], [], []
    for _ in range(args.runs):
        annotation_set = fresh_set(big, "bench-analyst")
        spans = [{"label": "claim", "start": s, "end": e, "quote": big.text[s:e]} for s, e in offsets[:10_000]]
        body = json.dumps({"spans": spans})  # encoded before the clock starts: the client's work, not the server's
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.post(
            f"/api/v1/sets/{annotation_set.pk}/bulk/", body, content_type="application/json", HTTP_IF_MATCH='"1"'
        )
        bulk_times.append(time.perf_counter() - started)
        bulk_cpus.append(time.process_time() - cpu_started)
        assert response.status_code == 201, response.content[:300]
        bulk_server.append(server_time(response) / 1000)
    print(f"bulk create: 10,000 spans, server time median {statistics.median(bulk_server):.2f} s (target <= 1 s); "
          f"by the client {statistics.median(bulk_times):.2f} s, CPU {statistics.median(bulk_cpus):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
