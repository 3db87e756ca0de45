"""Service instances that a fault test owns: started on its own ports, stopped and killed by PID.

Nothing here touches the shared PostgreSQL on 5432 or Redis on 6379 beyond the
test database pytest-django created, which workers and web servers read.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("CLAIMBENCH_REQUIRE_SERVICES") == "1"
REDIS_PORTS = range(6391, 6400)
POSTGRES_PORTS = range(5541, 5550)
HTTP_PORTS = range(8161, 8170)


def find_binary(name: str) -> str | None:
    """A binary on PATH, or in Debian's versioned PostgreSQL directory (initdb and pg_ctl live there)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def require_services(*, binaries: Iterable[str] = ()) -> None:
    """Skip the calling module (or fail, in CI) unless the test database is PostgreSQL and the binaries exist.

    Workers and web servers started as subprocesses must see the data the test
    committed, which the single-machine SQLite file of a test run cannot offer.
    """
    problems = []
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        problems.append("a PostgreSQL test database (DATABASE_URL=postgres://…) that subprocesses can share")
    problems += [f"the {name} binary" for name in binaries if find_binary(name) is None]
    if not problems:
        return
    reason = "fault tests need " + ", ".join(problems)
    if REQUIRED:
        pytest.fail(reason + " (CLAIMBENCH_REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
    pytest.skip(reason + "; set CLAIMBENCH_REQUIRE_SERVICES=1 to make this a failure", allow_module_level=True)


def free_port(ports: range) -> int:
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}–{ports.stop - 1}")


def wait_until(condition: Callable[[], Any], *, seconds: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def shared_test_database_url() -> str:
    """The pytest-django test database (on the shared server), as a URL for subprocesses."""
    from django.db import connections

    db = connections["default"].settings_dict  # the test database pytest-django made
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def django_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "workbench.settings",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **extra,
    }


class Process:
    """A subprocess with its output in a log file; stop() terminates, kill() sends SIGKILL, both by PID."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def kill(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class RedisServer(Process):
    """An own redis-server without persistence; the broker of the processes a test starts."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port(REDIS_PORTS)
        binary = find_binary("redis-server") or "redis-server"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(workdir)]  # fmt: skip
        super().__init__(args, env=None, log=workdir / f"redis-{self.port}.log")
        wait_until(lambda: port_open(self.port), seconds=10, what=f"redis-server on {self.port}")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


class CeleryWorker(Process):
    """`celery -A workbench worker` on the test database and the given broker."""

    def __init__(self, broker_url: str, log: Path, *, pool: str = "solo", **env: str) -> None:
        worker_env = django_env(
            DATABASE_URL=shared_test_database_url(),
            CELERY_BROKER_URL=broker_url,
            CELERY_VISIBILITY_TIMEOUT="3",
            CLAIMBENCH_JOB_STALE_SECONDS="1",
            **env,
        )
        args = [sys.executable, "-m", "celery", "-A", "workbench", "worker", f"--pool={pool}", "--concurrency=1",
                "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"faults-{os.getpid()}-{time.monotonic_ns()}@%h"]  # fmt: skip
        super().__init__(args, env=worker_env, log=log)


class WebServer(Process):
    """`manage.py runserver --noreload` on an own port (threaded, like one gunicorn worker with threads)."""

    def __init__(self, log: Path, **env: str) -> None:
        self.port = free_port(HTTP_PORTS)
        args = [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{self.port}"]
        server_env = {"DATABASE_URL": shared_test_database_url(), **env}
        server_env = django_env(DJANGO_SETTINGS_MODULE="tests.faults.server_settings", **server_env)
        super().__init__(args, env=server_env, log=log)
        wait_until(lambda: port_open(self.port) or not self.alive(), seconds=60, what="the web server")
        if not self.alive():
            pytest.fail(f"the web server exited: {self.tail()}")
        self.url = f"http://127.0.0.1:{self.port}"


def _as_postgres_user(args: list[str]) -> list[str]:
    # initdb refuses to run as root; the cluster belongs to the postgres OS user then.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresCluster:
    """An own PostgreSQL cluster in a temporary directory, on its own port, its socket in that directory."""

    def __init__(self) -> None:
        self.port = free_port(POSTGRES_PORTS)
        self.home = Path(tempfile.mkdtemp(prefix="claimbench-faults-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
        initdb = find_binary("initdb") or "initdb"
        subprocess.run(
            _as_postgres_user([initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                               "--locale=C.UTF-8", "--no-sync", "--no-instructions"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            # Durability is what the tests prove, so the defaults that give it are spelled out.
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.home}'\n"
                "fsync = on\nsynchronous_commit = on\nmax_connections = 30\nshared_buffers = 16MB\n"
            )

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        pg_ctl = find_binary("pg_ctl") or "pg_ctl"
        result = subprocess.run(
            _as_postgres_user([pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "50", *args]),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"pg_ctl {' '.join(args)} failed: {result.stderr}{self.log.read_text()[-2000:]}")

    def start(self) -> None:
        self.pg_ctl("start")

    def restart(self, mode: str = "fast") -> None:
        self.pg_ctl("restart", "-m", mode)

    def postmaster_pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        try:
            return int(pid_file.read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend it started: a crash, no shutdown checkpoint."""
        pid = self.postmaster_pid()
        assert pid is not None, "the cluster is not running"
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        # A new postmaster refuses to start while a backend of the old one still holds shared memory.
        wait_until(lambda: not any(_exists(p) for p in [pid, *children]), seconds=20, what="the killed postgres")
        # Until its parent (PID 1: pg_ctl daemonised it) reaps it, the dead postmaster is a zombie that a new
        # one would take for a live owner of its lock files: remove them, as after any crash.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.home / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if self.postmaster_pid() is not None and _exists(self.postmaster_pid() or 0):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.home, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ValueError):
            continue
    return found


def _exists(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has released everything
