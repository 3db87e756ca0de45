"""Production behaviour (issue 8, part 5): error pages that leak nothing, no self-registration,
static files through whitenoise on a live gunicorn with no listing or `..` escape, request ids
in responses and in every JSON log line (web requests and Celery jobs)."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from annotations.request_id import HEADER, JsonFormatter, LogContextFilter
from bench.load_bench import free_ports, listens_on, stop_process

ROOT = Path(__file__).resolve().parent.parent
LEAK_MARKERS = ("pbkdf2_sha256", "leaked-hash", "/srv/claimbench", "<script>alert", "Traceback", "RuntimeError")


# --- error pages with DEBUG off ---------------------------------------------------------------------


def assert_generic(body: str, title: str) -> None:
    assert f"<h1>{title}</h1>" in body
    for marker in LEAK_MARKERS:
        assert marker not in body, f"{marker!r} leaked into the {title!r} page"


@pytest.mark.django_db
@pytest.mark.urls("tests.error_urls")
@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/test-errors/500/", 500, "Something went wrong"),
        ("/test-errors/403/", 403, "Not allowed"),
        ("/test-errors/400/", 400, "Bad request"),
        ("/no-such-page-<script>alert(1)</script>/", 404, "Page not found"),
    ],
)
def test_error_pages_are_generic_with_debug_off(path: str, status: int, title: str):
    assert settings.DEBUG is False
    client = Client(raise_request_exception=False)

    response = client.get(path)

    assert response.status_code == status
    body = response.content.decode()
    assert_generic(body, title)
    assert "no-such-page" not in body, "the 404 page does not echo the path"
    assert "Content-Security-Policy" in response.headers
    assert response[HEADER]


@pytest.mark.django_db
def test_a_bad_host_header_gets_the_generic_400_page():
    response = Client().get("/", HTTP_HOST="evil.example.org<script>")

    assert response.status_code == 400
    body = response.content.decode()
    assert_generic(body, "Bad request")
    assert "evil.example.org" not in body


# --- no self-registration -------------------------------------------------------------------------


def all_routes(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[str]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from all_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def test_no_route_lets_a_visitor_create_an_account():
    routes = list(all_routes())
    assert any("login" in route for route in routes), "the walk over the URL conf found the routes"
    sign_up = re.compile(r"sign.?up|regist|join|create.?account|^accounts?/(?!tokens)", re.IGNORECASE)
    assert [route for route in routes if sign_up.search(route)] == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/signup/", "/accounts/signup/", "/register/", "/accounts/register/"])
def test_posting_to_a_usual_sign_up_address_creates_nobody(path: str):
    response = Client().post(path, {"username": "mallory", "password1": "Xy9!long-pass", "password2": "Xy9!long-pass"})

    assert response.status_code in (403, 404)  # 403: CSRF refuses an anonymous POST first
    assert not get_user_model().objects.filter(username="mallory").exists()


# --- static files on a live gunicorn --------------------------------------------------------------


@pytest.fixture(scope="module")
def static_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """gunicorn with production settings (DEBUG off, whitenoise, collectstatic'd manifest storage).

    tests/static_settings.py only skips pre-compressing the files, which takes minutes in CI.
    """
    workdir = tmp_path_factory.mktemp("static-server")
    environment = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    environment.update(
        DJANGO_SETTINGS_MODULE="tests.static_settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="False",
        HTTPS="False",  # no redirect to https: the test reads the answers themselves
        ALLOWED_HOSTS="127.0.0.1",
        CLAIMBENCH_VAR_DIR=str(workdir / "var"),
        LOG_LEVEL="WARNING",
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    assert (workdir / "var" / "staticfiles" / "staticfiles.json").exists()
    log = workdir / "gunicorn.log"
    for port in free_ports():
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "workbench.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "1"],
            cwd=ROOT, env=environment, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            for _ in range(300):
                if server.poll() is not None or listens_on(server.pid, port):
                    break
                subprocess.run(["sleep", "0.1"], check=True)
            if listens_on(server.pid, port):
                yield port
                return
        finally:
            stop_process(server)
    pytest.fail(f"gunicorn could not listen on any port in 8171–8179:\n{log.read_text()[-2000:]}")


def raw_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET exactly this path: http.client sends it as written, with no normalisation of `..`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_whitenoise_serves_collected_files(static_server: int):
    status, headers, body = raw_get(static_server, "/static/annotations/app.css")
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body.strip()


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static",
        "/static/annotations/",
        "/static/vendor/",
        "/static/vendor/htmx-2.0.11/",
        "/static/../workbench/settings.py",
        "/static/annotations/../../workbench/settings.py",
        "/static/%2e%2e/workbench/settings.py",
        "/static/%2E%2E/workbench/settings.py",
        "/static/..%2fworkbench/settings.py",
        "/static/%2e%2e%2fworkbench%2fsettings.py",
        "/static/..%5cworkbench%5csettings.py",
        "/static/%252e%252e/workbench/settings.py",
        "/static/....//workbench/settings.py",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_no_directory_listing_and_no_escape_from_the_static_root(static_server: int, path: str):
    status, _, body = raw_get(static_server, path)

    assert status == 404, (path, status)
    for secret in (b"SECRET_KEY", b"ImproperlyConfigured", b"root:x:0:0", b"Index of", b"annotate.js"):
        assert secret not in body, (path, secret)


# --- request ids and structured logs --------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The production handler's filter and formatter on a buffer attached to the root logger."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def log_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_the_configured_console_handler_writes_json_with_the_context():
    handler = settings.LOGGING["handlers"]["console"]
    assert settings.LOGGING["formatters"][handler["formatter"]]["()"] == "annotations.request_id.JsonFormatter"
    assert [settings.LOGGING["filters"][name]["()"] for name in handler["filters"]] == [
        "annotations.request_id.LogContextFilter"
    ]
    assert settings.MIDDLEWARE[0] == "annotations.request_id.RequestIdMiddleware"


@pytest.mark.django_db
def test_every_response_gets_a_request_id_and_the_log_line_carries_it(json_log: io.StringIO):
    response = Client().get("/no-such-page/")

    request_id = response[HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = [line for line in log_lines(json_log) if line["logger"] == "django.request"]
    assert lines, "Django logs a 404 as a warning"
    assert lines[-1]["request_id"] == request_id
    assert lines[-1]["level"] == "WARNING"
    assert lines[-1]["status"] == 404
    assert Client().get("/healthz")[HEADER] != request_id, "each request gets its own id"


@pytest.mark.django_db
def test_every_response_says_how_long_django_took_in_server_timing():
    timing = Client().get("/healthz")["Server-Timing"]
    match = re.fullmatch(r"app;dur=(\d+\.\d\d)", timing)
    assert match, timing
    assert 0 < float(match.group(1)) < 60_000


@pytest.mark.django_db
def test_a_well_formed_incoming_request_id_is_kept():
    response = Client().get("/healthz", headers={HEADER: "proxy-1f2e3d4c-0001"})
    assert response[HEADER] == "proxy-1f2e3d4c-0001"


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ['x" injected="1', "short", "a" * 300, "line\\nbreak {}"])
def test_a_malformed_incoming_request_id_is_replaced(incoming: str, json_log: io.StringIO):
    response = Client().get("/no-such-page/", headers={HEADER: incoming})

    assert response[HEADER] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response[HEADER])
    assert all(line.get("request_id") != incoming for line in log_lines(json_log))


def test_a_message_with_quotes_and_newlines_stays_one_json_line(json_log: io.StringIO):
    logging.getLogger("annotations.test").warning('title "%s"', 'Evil"\n{"level": "CRITICAL"}')

    lines = json_log.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["message"] == 'title "Evil"\n{"level": "CRITICAL"}"'
    assert json.loads(lines[0])["level"] == "WARNING"


@pytest.mark.django_db
def test_celery_task_logs_carry_the_job_id(world: Any, json_log: io.StringIO):
    from annotations.services import jobs
    from annotations.tasks import run_import_job

    stream = io.BytesIO(b'{"text": "The minister said grain exports rose.", "metadata": {"external_id": "a1"}}\n')
    job = jobs.import_job_create(
        project=world.project, files=[jobs.UploadedInput("one.jsonl", stream)], format="jsonl", actor=world.manager
    )

    run_import_job.apply(args=[job.pk])

    job.refresh_from_db()
    assert job.status == "done", job.error
    task_lines = [line for line in log_lines(json_log) if line["logger"] == "annotations.request_id"]
    assert [line["message"] for line in task_lines] == [
        "task annotations.tasks.run_import_job started",
        "task annotations.tasks.run_import_job ended: SUCCESS",
    ]
    assert {line["job_id"] for line in task_lines} == {job.pk}
    assert all(line["task_id"] for line in task_lines)
