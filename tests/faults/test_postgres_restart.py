"""PostgreSQL stopped, restarted and killed under a live server while an analyst saves spans.

The server (manage.py runserver, production settings: persistent connections
with health checks) runs on an own PostgreSQL cluster, so the test can take the
database away. The client saves spans alternately through the annotation page's
endpoint and the REST API, each span named by a client-chosen uuid, and keeps
every span the server acknowledged (2xx). After each fault: every acknowledged
span exists, every failed save answered 503 JSON, and its retry succeeded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections

from tests.faults.http import (
    Outcome,
    api_session,
    page_session,
    save_by_api,
    save_on_page,
    set_state,
    word_span,
)
from tests.faults.instances import ROOT, PostgresCluster, WebServer, django_env, find_binary, require_services

require_services(binaries=["initdb", "pg_ctl", "pg_dump", "psql"])
DATABASE = "claimbench"


@pytest.fixture
def cluster(transactional_db: Any) -> Iterator[PostgresCluster]:
    """An own cluster holding the test database's schema (copied with pg_dump: quicker than migrating)."""
    instance = PostgresCluster()
    try:
        instance.start()
        psql = [find_binary("psql") or "psql", "-h", "127.0.0.1", "-p", str(instance.port), "-U", "postgres"]
        subprocess.run([*psql, "-q", "-c", f"CREATE DATABASE {DATABASE}"], check=True, capture_output=True)
        db = connections["default"].settings_dict  # the test database pytest-django made
        dump = subprocess.run(
            [find_binary("pg_dump") or "pg_dump", "--schema-only", "--no-owner", "--no-privileges",
             "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"], db["NAME"]],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run([*psql, "-q", "-v", "ON_ERROR_STOP=1", "-d", DATABASE], input=dump.stdout, check=True,
                       capture_output=True)  # fmt: skip
        yield instance
    finally:
        instance.destroy()


def seed(cluster: PostgresCluster) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.faults.seed"],
        cwd=ROOT, env=django_env(DATABASE_URL=cluster.url(DATABASE)), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def stored_uuids(cluster: PostgresCluster) -> set[str]:
    with psycopg.connect(cluster.url(DATABASE)) as connection:
        return {str(row[0]) for row in connection.execute("SELECT uuid FROM annotations_span")}


class Analyst:
    """Saves spans one after another like the page's script: on a failed save, look whether it landed, else retry."""

    def __init__(self, server: WebServer, seeded: dict[str, Any]) -> None:
        self.url = server.url
        self.set_id = seeded["set_id"]
        self.page = page_session(server.url, seeded["session_id"])
        self.api = api_session(seeded["token"])
        self.acknowledged: set[str] = set()
        self.failures: list[Outcome] = []
        self.landed_though_failed = 0
        self.saves = 0

    def try_once(self, span: dict[str, Any]) -> Outcome:
        state = set_state(self.api, self.url, self.set_id)
        version = state[0] if state else 0
        save = save_on_page if self.saves % 2 == 0 else save_by_api
        self.saves += 1
        try:
            outcome = save(self.page if save is save_on_page else self.api, self.url, self.set_id, span, version)
        except OSError as error:  # the server itself never went away; a dropped socket would be a finding
            pytest.fail(f"the server dropped the connection: {error}")
        if outcome.status in (200, 201):
            self.acknowledged.add(span["uuid"])
        else:
            self.failures.append(outcome)
        return outcome

    def save_until_acknowledged(self, span: dict[str, Any], seconds: float = 60) -> int:
        """Retry until the span is acknowledged (or found saved); returns how many tries failed."""
        deadline = time.monotonic() + seconds
        failed = 0
        while time.monotonic() < deadline:
            state = set_state(self.api, self.url, self.set_id)
            if state is not None and span["uuid"] in state[1]:
                self.landed_though_failed += 1  # a failure the server reported, though the commit went through
                self.acknowledged.add(span["uuid"])
                return failed
            if self.try_once(span).status in (200, 201):
                return failed
            failed += 1
            time.sleep(0.2)
        pytest.fail(f"span {span['uuid']} was not saved within {seconds} s; last: {self.failures[-1:]}")


def assert_clean_unavailable(outcome: Outcome) -> None:
    assert outcome.status == 503, outcome
    assert "application/json" in outcome.content_type, outcome
    assert outcome.body["code"] == "database_unavailable"
    assert "not saved" in outcome.body["message"]


def test_a_restarted_database_loses_no_acknowledged_span_and_failed_saves_say_so_then_succeed(
    cluster: PostgresCluster, start_web_server: Callable[..., WebServer]
) -> None:
    seeded = seed(cluster)
    server = start_web_server(DATABASE_URL=cluster.url(DATABASE))
    analyst = Analyst(server, seeded)
    with psycopg.connect(cluster.url(DATABASE)) as connection:
        assert connection.execute("SHOW synchronous_commit").fetchone() == ("on",)
    words = iter(range(400))

    for _ in range(6):
        assert analyst.try_once(word_span(next(words))).status == 201, analyst.failures

    # A fast shutdown while saves are in flight: PostgreSQL ends every session mid-transaction.
    stopping = threading.Thread(target=cluster.pg_ctl, args=("stop", "-m", "fast"))
    stopping.start()
    while stopping.is_alive():
        analyst.try_once(word_span(next(words)))  # acknowledged or 503, whichever the moment gives
    stopping.join()
    # Down: saves through the page and the API fail with a clear 503, and nothing of them lands.
    refused = [word_span(next(words)) for _ in range(4)]
    outcomes = [analyst.try_once(span) for span in refused]
    for outcome in outcomes:
        assert_clean_unavailable(outcome)

    cluster.start()
    for span in refused:  # the retry succeeds once the database is back
        analyst.save_until_acknowledged(span)
    for _ in range(6):
        analyst.save_until_acknowledged(word_span(next(words)))

    assert analyst.acknowledged <= stored_uuids(cluster)
    assert {span["uuid"] for span in refused} <= analyst.acknowledged
    assert len(analyst.failures) >= len(refused)
    for outcome in analyst.failures:
        assert_clean_unavailable(outcome)

    # A crash right after acknowledgments: SIGKILL, no shutdown checkpoint; the WAL must hold every commit.
    for _ in range(8):
        assert analyst.try_once(word_span(next(words))).status == 201, analyst.failures[-1:]
    acknowledged = set(analyst.acknowledged)
    cluster.kill()
    cluster.start()

    assert acknowledged <= stored_uuids(cluster)
    after = word_span(next(words))
    analyst.save_until_acknowledged(after)  # the server reconnects by itself
    state = set_state(analyst.api, analyst.url, analyst.set_id)
    assert state is not None and analyst.acknowledged <= state[1]
    assert server.alive()
    assert "Traceback" not in "".join(str(outcome.body) for outcome in analyst.failures)
