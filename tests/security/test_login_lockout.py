"""DESIGN rule 14: a real lockout that parallel requests cannot bypass, in one server process with
threads and (on PostgreSQL) across several gunicorn worker processes sharing the database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from axes.models import AccessAttempt
from django.conf import settings

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
PARALLEL_ATTEMPTS = 20
GUNICORN_PORT = 8152
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _login(base_url: str, username: str, password: str, headers: dict[str, str] | None = None,
           barrier: threading.Barrier | None = None) -> requests.Response:  # fmt: skip
    session = requests.Session()
    page = session.get(f"{base_url}/login/", timeout=30)
    token = CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]
    if barrier is not None:
        barrier.wait(timeout=60)  # every thread posts at the same moment
    return session.post(
        f"{base_url}/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/login/", **(headers or {})}, allow_redirects=False, timeout=60,
    )  # fmt: skip


def _fire_in_parallel(base_url: str, username: str, count: int, **kwargs: Any) -> list[int]:
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def attempt(index: int) -> None:
        headers = {"X-Forwarded-For": f"203.0.113.{index}"}  # a spoofed address must not buy new attempts
        statuses.append(_login(base_url, username, f"wrong-{index}", headers=headers, barrier=barrier).status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def _logged_in(response: requests.Response) -> bool:
    return response.status_code == 302 and "sessionid" in response.cookies


def test_the_lockout_counts_in_the_database_shared_by_every_process():
    # A per-process cache (LocMemCache) would give each gunicorn worker its own count.
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    assert settings.AXES_FAILURE_LIMIT <= 10
    assert settings.AXES_IPWARE_META_PRECEDENCE_ORDER == ["REMOTE_ADDR"]


def _require_postgresql(why: str) -> None:
    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    if os.environ.get("CLAIMBENCH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{why} needs a PostgreSQL test database (DATABASE_URL=postgres://…)")
    pytest.skip(f"{why} needs a PostgreSQL test database; CLAIMBENCH_REQUIRE_SERVICES=1 makes this a failure")


@pytest.mark.django_db(transaction=True)
def test_wrong_passwords_lock_the_account_and_the_right_one_is_refused_too(live_server):
    UserFactory(username="target", password=PASSWORD)
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        assert not _logged_in(_login(live_server.url, "target", f"wrong-{attempt}"))
    refused = _login(live_server.url, "target", PASSWORD, headers={"X-Forwarded-For": "198.51.100.7"})
    assert not _logged_in(refused) and refused.status_code in (403, 429)


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_lock_the_account_in_a_threaded_server(live_server):
    # The test run's SQLite lives in memory, where concurrent writers fail at once instead of waiting.
    _require_postgresql("firing parallel logins")
    UserFactory(username="target", password=PASSWORD)
    assert _logged_in(_login(live_server.url, "target", PASSWORD))  # the password works before the attack
    statuses = _fire_in_parallel(live_server.url, "target", PARALLEL_ATTEMPTS)
    assert len(statuses) == PARALLEL_ATTEMPTS and 302 not in statuses and 500 not in statuses
    after = _login(live_server.url, "target", PASSWORD)
    assert not _logged_in(after), f"the right password got in after the parallel attack: {statuses}"
    assert after.status_code in (403, 429)
    # Every parallel failure was counted: none lost to a read-modify-write race.
    counted = AccessAttempt.objects.get(username="target").failures_since_start
    assert counted >= PARALLEL_ATTEMPTS


def _gunicorn_database_url() -> str:
    database = settings.DATABASES["default"]
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_lock_the_account_across_gunicorn_worker_processes():
    _require_postgresql("several server processes sharing the lockout")
    UserFactory(username="target", password=PASSWORD)
    env = {**os.environ, "DATABASE_URL": _gunicorn_database_url(), "DJANGO_SETTINGS_MODULE": "workbench.settings",
           "CONN_MAX_AGE": "0", "PYTHONPATH": str(ROOT),
           # DEBUG only lets {% static %} work without collectstatic; login and lockout do not read it.
           "DEBUG": "True"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "workbench.wsgi:application", "--workers", "3",
         "--bind", f"127.0.0.1:{GUNICORN_PORT}", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{GUNICORN_PORT}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base_url}/login/", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        statuses = _fire_in_parallel(base_url, "target", PARALLEL_ATTEMPTS)
        assert 302 not in statuses and 500 not in statuses, statuses
        assert not _logged_in(_login(base_url, "target", PASSWORD))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
