"""The annotation page on a long article: server time and time until usable in Chromium.

A 200 KB article (English with Cyrillic, guillemets and emoji) with 1,000 spans
in one analyst's set, all made through the service layer. Prints:

1. server time to render the annotation page (median of RUNS requests through
   Django's test client: URL routing, middleware, queries, rendering), read from the
   response's Server-Timing header, which the first middleware writes; the time the
   in-process client saw (its own request building added) is printed beside it;
2. server time to create one span through the page's JSON endpoint (median of
   RUNS creates, each with the version the previous answer returned);
3. in headless Chromium: time from navigation start until the page is usable
   (every span drawn, sidebar built, handlers attached: the "annotate-ready"
   mark) and until the next frame after that ("annotate-drawn"), median of
   BROWSER_RUNS loads against a live server thread.

Targets (issue 3): page ≤ 150 ms, span create ≤ 15 ms, usable ≤ 0.5 s.

Run from the project root with your own database:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_annotate .venv/bin/python -m bench.annotate_bench
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("HTTPS", "False")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
django.setup()

import json  # noqa: E402

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from annotations.models import AnnotationSet, Role  # noqa: E402
from annotations.services import annotating, documents, projects  # noqa: E402

RUNS = 20
BROWSER_RUNS = 7
SPANS = 1000
TARGET_BYTES = 200 * 1024
CHROMIUM = "/usr/bin/chromium"
PARAGRAPH = (
    "The ministry said on Monday that wheat exports rose by 12 percent in the first quarter, while critics argued "
    "that the figure hides a fall in barley shipments «по данным таможни» 🌾 and that smaller farms lost money. "
    "According to the opposition deputy, the real price of the subsidy programme is far higher than reported."
)


def _article() -> str:
    paragraphs = []
    size = 0
    n = 0
    while size < TARGET_BYTES:
        paragraph = f"{PARAGRAPH} (Paragraph {n}.)"
        paragraphs.append(paragraph)
        size += len(paragraph.encode("utf-8")) + 1
        n += 1
    return "\n".join(paragraphs)


def _setup() -> tuple[Any, AnnotationSet]:
    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    stamp = str(time.time_ns())
    manager = user_model.objects.create_user(f"bench-manager-{stamp}")
    analyst = user_model.objects.create_user(f"bench-analyst-{stamp}")
    project = projects.project_create(name=f"Annotate bench {stamp}", actor=manager)
    projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    text = _article() + f"\n{stamp}"
    document = documents.document_create(project=project, text=text, title="A long article", actor=manager)
    annotation_set = projects.annotation_set_assign(document=document, annotator=analyst, actor=manager)
    labels = ("claim", "attribution", "counter-claim")
    step = (len(document.text) - 100) // SPANS
    for i in range(SPANS):
        start = i * step
        while document.text[start].isspace():
            start += 1
        # Every fifth span nests inside the one before it, as attributions around claims do.
        length = 40 if i % 5 else 90
        end = start + length
        annotating.span_create(
            annotation_set=annotation_set, label=labels[i % 3], start=start, end=end,
            quote=document.text[start:end], actor=analyst, expected_version=None,
        )  # fmt: skip
    annotation_set.refresh_from_db()
    print(f"article: {len(document.text.encode('utf-8')) / 1024:.0f} KB, {SPANS} spans, set {annotation_set.pk}")
    return analyst, annotation_set


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms (min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})"


def _server_seconds(response: Any) -> float:
    """Django's own time for the request, from the Server-Timing header the first middleware writes."""
    return float(response["Server-Timing"].split("dur=")[1]) / 1000


def bench_server(analyst: Any, annotation_set: AnnotationSet) -> None:
    client = Client()
    client.force_login(analyst)
    url = reverse("annotations:document_annotate", args=[annotation_set.pk])
    assert client.get(url).status_code == 200  # warm-up: templates, schema, connections
    page_times, page_server, page_cpu = [], [], []
    for _ in range(RUNS):
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        page_times.append(time.perf_counter() - started)
        page_cpu.append(time.process_time() - cpu)
        assert response.status_code == 200
        page_server.append(_server_seconds(response))
    print(f"server: annotation page   median {_median_ms(page_server)}  [{len(response.content) / 1024:.0f} KB HTML]")
    print(f"        (seen by the in-process client, median {_median_ms(page_times)})")
    # On a shared, loaded machine wall time includes waiting for a CPU; Python's own CPU time does not.
    print(f"        (Python CPU time  median {_median_ms(page_cpu)})")

    text = annotation_set.document.text
    create_url = reverse("annotations:annotate_span_create", args=[annotation_set.pk])
    version = AnnotationSet.objects.get(pk=annotation_set.pk).version
    create_times, create_server, create_cpu = [], [], []
    for i in range(RUNS + 1):
        start = text.index("smaller farms", 500 + i * 9000)
        end = start + len("smaller farms lost money")
        body = json.dumps(
            {"label": "claim", "start": start, "end": end, "quote": text[start:end], "expected_version": version}
        )
        started, cpu = time.perf_counter(), time.process_time()
        response = client.post(create_url, data=body, content_type="application/json")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert response.status_code == 201, response.content
        version = response.json()["version"]
        if i:  # the first one warms up
            create_times.append(elapsed)
            create_server.append(_server_seconds(response))
            create_cpu.append(cpu)
    print(f"server: create one span   median {_median_ms(create_server)}")
    print(f"        (seen by the in-process client, median {_median_ms(create_times)})")
    print(f"        (Python CPU time  median {_median_ms(create_cpu)})")
    # What one create asks the database, statement by statement (their count is what a busy machine can't blur).
    start = text.index("smaller farms", 1000)
    end = start + len("smaller farms lost money")
    fields = {"label": "claim", "start": start, "end": end, "quote": text[start:end], "expected_version": version}
    body = json.dumps(fields)
    with CaptureQueriesContext(connection) as queries:
        assert client.post(create_url, data=body, content_type="application/json").status_code == 201
    print(f"        ({len(queries.captured_queries)} SQL round trips per create, BEGIN and COMMIT included)")
    if os.environ.get("BENCH_SHOW_SQL"):
        for query in queries.captured_queries:
            print(f"          {query['time']} {query['sql'][:140]}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def bench_browser(analyst: Any, annotation_set: AnnotationSet) -> None:
    if not os.path.exists(CHROMIUM):
        print(f"browser: skipped, {CHROMIUM} is missing")
        return
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread
    from playwright.sync_api import sync_playwright

    server = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override={}, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    base = f"http://127.0.0.1:{server.port}"
    client = Client()
    client.force_login(analyst)
    url = base + reverse("annotations:document_annotate", args=[annotation_set.pk])
    ready, drawn, started, received = [], [], [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                      "--disable-sync", "--disable-gpu"],
            )  # fmt: skip
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
            page = context.new_page()
            page.goto(url)  # warm-up: static files into the cache, as on an analyst's second document
            for _ in range(BROWSER_RUNS):
                page.goto(url)
                page.wait_for_function("performance.getEntriesByName('annotate-drawn').length > 0")
                marks = page.evaluate(
                    "['annotate-ready', 'annotate-drawn', 'annotate-start'].map("
                    "n => performance.getEntriesByName(n)[0].startTime)"
                    ".concat([performance.getEntriesByType('navigation')[0].responseEnd])"
                )
                started.append(marks[2] / 1000)
                received.append(marks[3] / 1000)
                assert page.locator("li.span-item").count() >= SPANS
                ready.append(marks[0] / 1000)
                drawn.append(marks[1] / 1000)
            browser.close()
    finally:
        server.terminate()
    print(f"chromium: navigation → HTML received                               median {_median_ms(received)}")
    print(f"chromium: navigation → script starts (HTML parsed)                 median {_median_ms(started)}")
    print(f"chromium: navigation → usable (all spans drawn, sidebar, handlers)  median {_median_ms(ready)}")
    print(f"chromium: navigation → next frame painted                          median {_median_ms(drawn)}")


def main() -> None:
    # No collectstatic run here: plain static storage, so {% static %} needs no manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    database = settings.DATABASES["default"]
    print(f"database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}")
    analyst, annotation_set = _setup()
    bench_server(analyst, annotation_set)
    bench_browser(analyst, annotation_set)


if __name__ == "__main__":
    main()
