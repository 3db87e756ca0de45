"""Fixtures of the fault tests: own Redis, workers and web servers, all stopped by PID afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from annotations.models import Role
from annotations.services import projects
from tests.factories import UserFactory
from tests.faults.instances import CeleryWorker, RedisServer, WebServer


def _reset_celery_connections(app: Any) -> None:
    # Celery caches its connection pools per app; drop them so the next publish uses broker_url anew.
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def own_broker(redis_server: RedisServer) -> Iterator[RedisServer]:
    """This process's Celery app publishes to the test's own redis-server (jobs.enqueue included)."""
    from workbench.celery import app

    keys = ("broker_url", "broker_write_url", "broker_read_url")
    previous = {key: app.conf[key] for key in keys}
    app.conf.update(dict.fromkeys(keys, redis_server.url()))
    _reset_celery_connections(app)
    yield redis_server
    app.conf.update(previous)
    _reset_celery_connections(app)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    started: list[CeleryWorker] = []

    def start(broker_url: str, **kwargs: Any) -> CeleryWorker:
        worker = CeleryWorker(broker_url, tmp_path / f"worker-{len(started)}.log", **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def start_web_server(tmp_path: Path) -> Iterator[Callable[..., WebServer]]:
    started: list[WebServer] = []

    def start(**env: str) -> WebServer:
        server = WebServer(tmp_path / f"web-{len(started)}.log", **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def team(transactional_db: Any) -> Any:
    """A committed project with a manager and an analyst: worker and server subprocesses must see it."""
    manager = UserFactory(username="manager")
    project = projects.project_create(name="Faults", actor=manager)
    analyst = UserFactory(username="analyst")
    projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    return project, manager, analyst
