"""Load: N analysts saving spans every 1–2 s against gunicorn + a real database, counted exactly.

The script prepares a fresh database of its own (PostgreSQL `<your database>_load`, or a SQLite
file when DATABASE_URL is unset), starts gunicorn on 127.0.0.1 (a free port in 8171–8179) with
production settings (DEBUG off), and runs locust headless with one user per analyst. Each analyst
has a token and an assigned set; every 1–2 s it creates a span through the REST API (`If-Match`
with the version it last saw) or, now and then, deletes one of its own. A small share of the
analysts write with a stale version on purpose: those 412s are counted as deliberate conflicts,
any other refusal is an error. At the end it compares, set by set, the span ids in the database
with the span ids the clients saw acknowledged (201 minus 204): they must be equal.

With --import-documents N (the full run uses 50,000) a real Celery worker (on CELERY_BROKER_URL,
a redis:// URL) imports a JSONL corpus of N documents into another project while the analysts
work; the import is enqueued after a tenth of the run, and the figures say how much of the run
it overlapped.

Printed: requests, errors by kind, deliberate conflicts, p50/p95/p99 save latency (all of the run,
and while the import ran), the gunicorn processes' CPU seconds per request, and the exactness check.

Full runs (the issue's targets: no errors but deliberate conflicts; server count = acknowledged):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_h9 .venv/bin/python -m bench.load_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_h9 CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m bench.load_bench --import-documents 50000

Options: --users 20 --seconds 300 --workers 4 --stale-share 0.1. tests/load/ runs a short
version (5 users, 20 s) of the same function in CI.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PORTS = range(8171, 8180)
LABELS = ("claim", "claim", "attribution", "counter-claim")
# What the analysts annotate: the project's own article text, with Cyrillic, guillemets and emoji
# so that code-point offsets are exercised under load too.
SENTENCES = [
    "The minister said that grain exports rose by 12 percent last year.",
    "According to «Interfax», the council denied any such agreement.",
    "Критики утверждают, что бюджет был пересмотрен трижды.",
    "However, the opposition claimed the figures were never published 📊.",
    "The court ruling, writes the ex-president, came after the election.",
    "Officials insist the pipeline will open in spring; analysts doubt it.",
]


# --- the orchestrator (no Django, no gevent in this process) --------------------------------------


@dataclass
class LoadResult:
    users: int
    seconds: float
    requests: int = 0
    creates_acknowledged: int = 0
    deletes_acknowledged: int = 0
    deliberate_conflicts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    unknown_outcomes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    latencies_during_import_ms: list[float] = field(default_factory=list)
    server_spans: int = 0
    acknowledged_spans: int = 0
    mismatched_sets: list[int] = field(default_factory=list)
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    import_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        # A run that saved nothing proves nothing.
        return self.requests > 0 and not self.mismatched_sets and self.server_spans == self.acknowledged_spans

    def percentile(self, q: float, values: list[float] | None = None) -> float | None:
        values = sorted(self.latencies_ms if values is None else values)
        if not values:
            return None
        return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]

    def report(self) -> str:
        def ms(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.0f} ms"

        lines = [
            f"{self.users} analysts for {self.seconds:.0f} s: {self.requests} save requests "
            f"({self.creates_acknowledged} spans created, {self.deletes_acknowledged} deleted)",
            f"  errors: {self.errors or 'none'}; deliberate stale-version conflicts (412): "
            f"{self.deliberate_conflicts}; outcomes unknown (no answer): {self.unknown_outcomes}",
            f"  save latency p50 {ms(self.percentile(50))}, p95 {ms(self.percentile(95))}, "
            f"p99 {ms(self.percentile(99))}",
            f"  CPU: gunicorn {self.server_cpu_seconds:.1f} s "
            f"({1000 * self.server_cpu_seconds / max(1, self.requests):.1f} ms per request), "
            f"locust {self.client_cpu_seconds:.1f} s",
        ]
        if self.import_summary:
            during = self.latencies_during_import_ms
            lines.append(
                f"  import beside it: {self.import_summary}; {len(during)} saves while it ran, p50 "
                f"{ms(self.percentile(50, during))}, p95 {ms(self.percentile(95, during))}, "
                f"p99 {ms(self.percentile(99, during))}"
            )
        verdict = "EXACT" if self.exact else f"MISMATCH in sets {self.mismatched_sets}"
        lines.append(
            f"  spans on the server {self.server_spans} = acknowledged to clients {self.acknowledged_spans}: {verdict}"
        )
        return "\n".join(lines)


def free_ports() -> list[int]:
    free = []
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            free.append(port)
    if not free:
        raise RuntimeError(f"no free port in {PORTS.start}–{PORTS.stop - 1}")
    return free


def listens_on(pid: int, port: int) -> bool:
    """Whether our gunicorn itself holds the port (another run's server may answer on a port we lost)."""
    import psutil

    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


def _load_database_url(database_url: str | None, workdir: Path, prefix: str = "") -> str:
    """A fresh database beside the given one: `<prefix><name>_load` on PostgreSQL, a file on SQLite."""
    if not database_url or database_url.startswith("sqlite"):
        return f"sqlite:///{workdir / 'load.sqlite3'}"
    import psycopg

    parts = urlsplit(database_url)
    name = prefix + parts.path.lstrip("/") + "_load"
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_load_database(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        return
    import psycopg

    parts = urlsplit(database_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def _environment(database_url: str, broker_url: str | None, workdir: Path) -> dict[str, str]:
    passed = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    environment = {key: os.environ[key] for key in passed if key in os.environ}
    environment.update(
        DJANGO_SETTINGS_MODULE="workbench.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="False",
        ALLOWED_HOSTS="127.0.0.1",
        HTTPS="False",
        DATABASE_URL=database_url,
        CLAIMBENCH_VAR_DIR=str(workdir / "var"),
        MEDIA_ROOT=str(workdir / "media"),
        CELERY_BROKER_URL=broker_url or "filesystem://",
        # Throttles are a convenience (DESIGN rule 14); this run measures saves, not the throttle.
        API_THROTTLE_TOKEN="100000/min",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return environment


def _run_step(environment: dict[str, str], *arguments: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _wait_until_healthy(url: str, port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> bool:
    """True once our gunicorn holds the port and answers; False if it could not bind the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if "Address already in use" in log.read_text():
                return False
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        if not listens_on(process.pid, port):
            time.sleep(0.3)
            continue
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def _tree_cpu_seconds(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Stop one process we started, by its PID: SIGTERM, then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def run_load(
    *,
    users: int,
    seconds: float,
    database_url: str | None,
    broker_url: str | None = None,
    import_documents: int = 0,
    workers: int = 4,
    stale_share: float = 0.1,
    workdir: Path | None = None,
    keep_database: bool = True,
    database_prefix: str = "",
) -> LoadResult:
    """Prepare a database, serve it with gunicorn, run locust against it, count; stop everything.

    The PostgreSQL database is `<database_prefix><name of DATABASE_URL's database>_load`, created afresh.
    """
    if import_documents and not (broker_url or "").startswith("redis://"):
        raise ValueError("an import beside the load needs a real Celery broker: set CELERY_BROKER_URL=redis://…")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="claimbench-load-"))
    load_url = _load_database_url(database_url, workdir, database_prefix)
    environment = _environment(load_url, broker_url, workdir)
    result = LoadResult(users=users, seconds=seconds)
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        _run_step(environment, "manage.py", "migrate", "--noinput", "-v", "0")
        plan_path = workdir / "plan.json"
        _run_step(environment, "-m", "bench.load_bench", "--step", "prepare", "--users", str(users),
                  "--import-documents", str(import_documents), "--plan", str(plan_path))  # fmt: skip
        web_log = workdir / "gunicorn.log"
        for port in free_ports():  # another run may take a port between our probe and gunicorn's bind
            web_log.write_text("")
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "workbench.wsgi:application", "--bind", f"127.0.0.1:{port}",
                 "--workers", str(workers), "--timeout", "60", "--graceful-timeout", "10"],
                cwd=ROOT, env=environment, stdout=web_log.open("ab"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            base_url = f"http://127.0.0.1:{port}"
            if _wait_until_healthy(f"{base_url}/healthz", port, web, web_log):
                break
            stop_process(web)
        else:
            raise RuntimeError(f"gunicorn found no free port in {PORTS.start}–{PORTS.stop - 1}")
        plan = json.loads(plan_path.read_text())
        plan.update(base_url=base_url, seconds=seconds, stale_share=stale_share, users=users)
        plan_path.write_text(json.dumps(plan))
        if import_documents:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "workbench", "worker", "--pool=solo", "--loglevel=WARNING",
                 "--without-gossip", "--without-mingle", "-n", f"load-{os.getpid()}@%h"],
                cwd=ROOT, env=environment, stdout=(workdir / "worker.log").open("ab"), stderr=subprocess.STDOUT,
            )  # fmt: skip

        cpu_before = _tree_cpu_seconds(web.pid)
        results_path = workdir / "locust.json"
        client = subprocess.Popen(
            [sys.executable, "-m", "bench.load_bench", "--step", "locust", "--plan", str(plan_path),
             "--results", str(results_path)],
            cwd=ROOT, env=environment, stdout=(workdir / "locust.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        import_enqueued_at = None
        if import_documents:
            # A tenth into the run, so the import meets analysts who are already saving.
            time.sleep(max(2.0, seconds / 10))
            _run_step(environment, "-m", "bench.load_bench", "--step", "enqueue", "--plan", str(plan_path))
            import_enqueued_at = time.time()
        client.wait(timeout=seconds + 300)
        if client.returncode != 0:
            raise RuntimeError(f"locust failed:\n{(workdir / 'locust.log').read_text()[-3000:]}")
        result.server_cpu_seconds = _tree_cpu_seconds(web.pid) - cpu_before
        outcome = json.loads(results_path.read_text())

        if import_documents:
            status = json.loads(
                _run_step(
                    environment,
                    "-m",
                    "bench.load_bench",
                    "--step",
                    "job",
                    "--plan",
                    str(plan_path),
                    "--wait",
                    str(max(600.0, seconds)),
                )  # fmt: skip
            )
            started = status.get("started_at") or import_enqueued_at
            finished = status.get("finished_at") or time.time()
            result.latencies_during_import_ms = [
                latency for at, latency in outcome["timed_latencies"] if started <= at <= finished
            ]
            overlap = max(0.0, min(finished, outcome["ended_at"]) - max(started, outcome["started_at"]))
            status["overlap_with_load_s"] = round(overlap, 1)
            result.import_summary = status
        counted = json.loads(_run_step(environment, "-m", "bench.load_bench", "--step", "count", "--plan",
                                       str(plan_path)))  # fmt: skip
    finally:
        stop_process(worker)
        stop_process(web)
    result.requests = outcome["requests"]
    result.creates_acknowledged = outcome["creates"]
    result.deletes_acknowledged = outcome["deletes"]
    result.deliberate_conflicts = outcome["deliberate_conflicts"]
    result.errors = outcome["errors"]
    result.unknown_outcomes = outcome["unknown_outcomes"]
    result.latencies_ms = [latency for _, latency in outcome["timed_latencies"]]
    result.client_cpu_seconds = outcome["cpu_seconds"]
    for set_id, acknowledged in outcome["acknowledged"].items():
        on_server = counted.get(set_id, [])
        result.acknowledged_spans += len(acknowledged)
        if sorted(on_server) != sorted(acknowledged):
            result.mismatched_sets.append(int(set_id))
    result.server_spans = sum(len(ids) for ids in counted.values())
    if not keep_database:
        drop_load_database(load_url)
    return result


# --- steps that run inside Django (subprocesses with the load database's settings) ----------------


def _article(index: int) -> str:
    rng = random.Random(index)
    return f"Article {index}. " + " ".join(rng.choice(SENTENCES) for _ in range(30))


def _step_prepare(users: int, import_documents: int, plan_path: Path) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from annotations.models import Role
    from annotations.services import documents, jobs, projects, tokens

    user_model = get_user_model()
    manager = user_model.objects.create_user(username="load-manager", password=None)
    project = projects.project_create(name="Load test", actor=manager, annotators_per_document=4)
    document_count = max(1, math.ceil(users / 4))
    texts = [_article(index) for index in range(document_count)]
    document_list = [
        documents.document_create(project=project, text=text, title=f"Load article {index}", actor=manager)
        for index, text in enumerate(texts)
    ]
    analysts = []
    for index in range(users):
        analyst = user_model.objects.create_user(username=f"load-analyst-{index}", password=None)
        projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
        document = document_list[index % document_count]
        annotation_set = projects.annotation_set_assign(document=document, annotator=analyst, actor=manager)
        secret = tokens.api_token_create(user=analyst, name="load test").secret
        analysts.append({"token": secret, "set_id": annotation_set.pk, "text": document.text})
    plan: dict[str, Any] = {"project_id": project.pk, "analysts": analysts}
    if import_documents:
        corpus = Path(settings.MEDIA_ROOT) / "load-corpus.jsonl"
        corpus.parent.mkdir(parents=True, exist_ok=True)
        with corpus.open("w", encoding="utf-8") as out:
            for index in range(import_documents):
                record = {"text": _article(1_000_000 + index), "metadata": {"external_id": f"load-{index}"}}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        target = projects.project_create(name="Load test import", actor=manager)
        with corpus.open("rb") as stream:
            job = jobs.import_job_create(
                project=target, files=[jobs.UploadedInput(corpus.name, stream)], format="jsonl", actor=manager
            )
        corpus.unlink()
        plan["import_job_id"] = job.pk
        plan["import_documents"] = import_documents
    plan_path.write_text(json.dumps(plan, ensure_ascii=False))


def _step_enqueue(plan_path: Path) -> None:
    import django

    django.setup()
    from annotations.models import Job
    from annotations.services import jobs

    jobs.enqueue(Job.objects.get(pk=json.loads(plan_path.read_text())["import_job_id"]))


def _step_job(plan_path: Path, wait: float) -> None:
    import django

    django.setup()
    from annotations.models import Job

    job = Job.objects.get(pk=json.loads(plan_path.read_text())["import_job_id"])
    deadline = time.monotonic() + wait
    while not job.is_finished and time.monotonic() < deadline:
        time.sleep(1)
        job.refresh_from_db()
    summary: dict[str, Any] = {"status": job.status, "documents_created": (job.summary or {}).get("documents_created")}
    summary["started_at"] = job.started_at.timestamp() if job.started_at else None
    summary["finished_at"] = job.finished_at.timestamp() if job.finished_at else None
    if job.started_at and job.finished_at and summary["documents_created"]:
        seconds = (job.finished_at - job.started_at).total_seconds()
        summary["docs_per_s"] = round(summary["documents_created"] / seconds)
    print(json.dumps(summary))


def _step_count(plan_path: Path) -> None:
    import django

    django.setup()
    from annotations.models import Span

    plan = json.loads(plan_path.read_text())
    counted: dict[str, list[int]] = {str(analyst["set_id"]): [] for analyst in plan["analysts"]}
    for set_id, span_id in Span.objects.filter(annotation_set__document__project_id=plan["project_id"]).values_list(
        "annotation_set_id", "id"
    ):
        counted.setdefault(str(set_id), []).append(span_id)
    print(json.dumps(counted))


# --- the locust step (gevent: its own process) ----------------------------------------------------


def _step_locust(plan_path: Path, results_path: Path) -> None:
    import gevent
    from locust import FastHttpUser, between, task
    from locust.env import Environment
    from locust.exception import StopUser

    plan = json.loads(plan_path.read_text())
    analysts = plan["analysts"]
    stale_count = max(1, round(len(analysts) * plan["stale_share"])) if plan["stale_share"] > 0 else 0
    outcome: dict[str, Any] = {
        "requests": 0, "creates": 0, "deletes": 0, "deliberate_conflicts": 0, "errors": {},
        "unknown_outcomes": 0, "timed_latencies": [], "acknowledged": {},
    }  # fmt: skip
    next_analyst = iter(range(len(analysts)))

    def error(kind: str) -> None:
        outcome["errors"][kind] = outcome["errors"].get(kind, 0) + 1

    class Analyst(FastHttpUser):
        host = plan["base_url"]
        wait_time = between(1, 2)

        def on_start(self) -> None:
            index = next(next_analyst, None)
            if index is None:  # locust never starts more users than analysts; if it did, say so
                error("more users than analysts")
                raise StopUser
            me = analysts[index]
            self.set_id = me["set_id"]
            self.text = me["text"]
            self.headers = {"Authorization": f"Bearer {me['token']}"}
            self.writes_stale = index < stale_count
            self.rng = random.Random(index)
            self.mine: list[int] = []
            outcome["acknowledged"][str(self.set_id)] = self.mine
            answer = self.client.get(f"/api/v1/sets/{self.set_id}/", headers=self.headers, name="read set")
            if answer.status_code != 200:
                error(f"read set {answer.status_code}")
                raise StopUser
            self.version = int(answer.headers["ETag"].strip('"'))

        def _write(self, method: str, path: str, name: str, body: dict[str, Any] | None) -> tuple[int, Any]:
            stale = self.writes_stale and self.version > 0 and self.rng.random() < 0.25
            headers = {**self.headers, "If-Match": f'"{self.version - 1 if stale else self.version}"'}
            began = time.time()
            clock = time.perf_counter()
            with self.client.request(method, path, headers=headers, json=body, name=name, catch_response=True) as r:
                latency = 1000 * (time.perf_counter() - clock)
                outcome["requests"] += 1
                outcome["timed_latencies"].append((began, latency))
                status = r.status_code or 0
                if "ETag" in (r.headers or {}):
                    self.version = int(r.headers["ETag"].strip('"'))
                if status == 412 and stale:
                    outcome["deliberate_conflicts"] += 1
                    r.success()
                elif status in (200, 201, 204):
                    r.success()
                elif status == 0:
                    # No answer: the write may or may not have landed; the count will tell.
                    outcome["unknown_outcomes"] += 1
                    error(f"no answer ({type(r.error).__name__})")
                    r.failure(str(r.error))
                else:
                    error(f"{method} {status}{' (unexpected stale)' if status == 412 else ''}")
                    r.failure(f"{status}: {(r.text or '')[:200]}")
                return status, (r.json() if status == 201 else None)

        @task(6)
        def save_span(self) -> None:
            start = self.rng.randrange(0, len(self.text) - 80)
            end = start + self.rng.randrange(5, 80)
            body = {"label": self.rng.choice(LABELS), "start": start, "end": end, "quote": self.text[start:end]}
            status, created = self._write("POST", f"/api/v1/sets/{self.set_id}/spans/", "save span", body)
            if status == 201:
                outcome["creates"] += 1
                self.mine.append(created["id"])

        @task(1)
        def delete_span(self) -> None:
            if not self.mine:
                return
            span_id = self.rng.choice(self.mine)
            status, _ = self._write("DELETE", f"/api/v1/spans/{span_id}/", "delete span", None)
            if status == 204:
                outcome["deletes"] += 1
                self.mine.remove(span_id)

    cpu_start = time.process_time()
    environment = Environment(user_classes=[Analyst])
    runner = environment.create_local_runner()
    outcome["started_at"] = time.time()
    runner.start(len(analysts), spawn_rate=max(1, len(analysts) / 2))
    gevent.spawn_later(plan["seconds"], runner.quit)
    runner.greenlet.join()
    outcome["ended_at"] = time.time()
    outcome["cpu_seconds"] = time.process_time() - cpu_start
    results_path.write_text(json.dumps(outcome))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--stale-share", type=float, default=0.1, help="share of analysts who write stale on purpose")
    parser.add_argument("--import-documents", type=int, default=0, help="documents to import beside the load")
    parser.add_argument("--runs", type=int, default=1, help="repeat and print the median p95")
    parser.add_argument("--step", choices=["prepare", "enqueue", "job", "count", "locust"], help=argparse.SUPPRESS)
    parser.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--wait", type=float, default=600, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "prepare":
        return _step_prepare(args.users, args.import_documents, args.plan)
    if args.step == "enqueue":
        return _step_enqueue(args.plan)
    if args.step == "job":
        return _step_job(args.plan, args.wait)
    if args.step == "count":
        return _step_count(args.plan)
    if args.step == "locust":
        return _step_locust(args.plan, args.results)

    database_url = os.environ.get("DATABASE_URL")
    if not database_url or not database_url.startswith("postgres"):
        print("note: DATABASE_URL is not PostgreSQL; measuring against SQLite", flush=True)
    p95s = []
    exact = True
    for run in range(args.runs):
        result = run_load(
            users=args.users, seconds=args.seconds, database_url=database_url,
            broker_url=os.environ.get("CELERY_BROKER_URL"), import_documents=args.import_documents,
            workers=args.workers, stale_share=args.stale_share,
        )  # fmt: skip
        print(f"run {run + 1}:\n{result.report()}", flush=True)
        p95s.append(result.percentile(95) or float("nan"))
        exact = exact and result.exact and not result.errors
    print(f"median p95 save latency over {args.runs} run(s): {statistics.median(p95s):.0f} ms")
    print("targets: no errors but deliberate conflicts, server count = acknowledged:", "MET" if exact else "NOT MET")
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
