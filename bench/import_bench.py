"""Import throughput and worker memory, through a real Celery worker on PostgreSQL + Redis.

Three runs, each a fresh project on the same database:

1. 10,000 Claimbench JSONL documents of about 4 KB (no spans);
2. the same 10,000 documents (new texts) with 10 spans each, in one analyst's set;
3. a JSONL file of about 500 MB (generated in /tmp, deleted afterwards).

For each it prints documents/s (from the job's started_at to finished_at,
that is the worker's own time, median of RUNS runs for 1 and 2) and the
worker's peak resident memory (VmHWM of the worker process, which with
--pool=solo is the process that runs the task). Targets: ≥ 4,000 docs/s
without spans, ≥ 2,000 with 10 spans, worker peak < 300 MB.

Run from the project root with your own database and Redis number:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_importbench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/12 .venv/bin/python -m bench.import_bench [--skip-large]

Options: --runs N, --documents N (reduced runs), --large-mb N, --only-large (just the
large file: `--only-large` alone measures the 500 MB run). Besides wall-clock rates it
prints the worker's CPU seconds per import (utime + stime from /proc), which a busy
machine disturbs far less, and, when PostgreSQL runs on the same machine, the CPU
seconds of the worker's database backends (sampled from /proc while the job runs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from annotations.models import Job, Role  # noqa: E402
from annotations.services import jobs, projects  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = 10_000
SPANS = 10
RUNS = 3
LARGE_BYTES = 500 * 1024 * 1024
WORDS = [
    "minister",
    "parliament",
    "budget",
    "grain",
    "exports",
    "council",
    "said",
    "denied",
    "reported",
    "according",
    "sources",
    "claimed",
    "rose",
    "fell",
    "percent",
    "year",
    "government",
    "opposition",
    "court",
    "ruling",
    "election",
    "campaign",
    "statement",
    "interview",
    "press",
    "agency",
]
LABELS = ("attribution", "claim", "claim", "counter-claim", "claim")


def article(rng: random.Random, serial: str, length: int = 4000) -> str:
    words: list[str] = [f"Article {serial}."]
    size = len(words[0])
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:length]


def record(rng: random.Random, serial: str, with_spans: bool) -> dict[str, Any]:
    text = article(rng, serial)
    item: dict[str, Any] = {"text": text, "metadata": {"external_id": serial}}
    if with_spans:
        slot = len(text) // SPANS
        spans = []
        for index in range(SPANS):
            start = index * slot + 20
            end = start + 60
            spans.append({"id": f"s{index}", "label": LABELS[index % len(LABELS)], "start": start, "end": end,
                          "quote": text[start:end]})  # fmt: skip
        relations = [{"type": "sources", "source": "s0", "target": "s1"},
                     {"type": "disputes", "source": "s3", "target": "s2"}]  # fmt: skip
        item["sets"] = [{"annotator": "bench-analyst", "spans": spans, "relations": relations}]
    return item


def write_corpus(path: Path, count: int | None, with_spans: bool, prefix: str, size: int | None = None) -> int:
    rng = random.Random(prefix)
    written = 0
    n = 0
    with path.open("w", encoding="utf-8") as out:
        while (count is not None and n < count) or (size is not None and written < size):
            line = json.dumps(record(rng, f"{prefix}-{n}", with_spans), ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line)
            n += 1
    return n


class Worker:
    def __init__(self, log: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workbench", "worker", "--pool=solo", "--loglevel=WARNING",
             "--without-gossip", "--without-mingle", "-n", f"bench-{os.getpid()}@%h"],
            cwd=ROOT, env={**os.environ, "MEDIA_ROOT": str(settings.MEDIA_ROOT)},
            stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    def cpu_seconds(self) -> float:
        # utime + stime of the worker process (all its threads), in clock ticks.
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class BackendCpu:
    """CPU seconds of this database's PostgreSQL backends other than ours, sampled from /proc.

    The worker's writer thread opens its connection for a job and closes it at the end, so
    the backends are sampled every 20 ms and the last reading of each is kept: at most one
    sampling interval of a backend's last work is lost. None when PostgreSQL's processes
    cannot be read (another machine, another user).
    """

    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (self.own_pid,) = cursor.fetchone()
        self.marker = f" {connection.settings_dict['NAME']} ".encode()
        self.readings: dict[int, float] = {}
        self.stopped = threading.Event()
        self.baseline = self._read()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _read(self) -> dict[int, float]:
        found: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.own_pid:
                continue
            try:
                if not (entry / "cmdline").read_bytes().startswith(b"postgres:"):
                    continue
                if self.marker not in (entry / "cmdline").read_bytes():
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        return found

    def _sample(self) -> None:
        while not self.stopped.wait(0.02):
            self.readings.update(self._read())

    def stop(self) -> float | None:
        self.stopped.set()
        self.thread.join()
        self.readings.update(self._read())
        if not self.readings and not self.baseline:
            return None
        return sum(seconds - self.baseline.get(pid, 0.0) for pid, seconds in self.readings.items())


def import_once(path: Path, manager: Any, name: str, worker: Worker) -> tuple[Job, float, float, float | None]:
    """Import one file through the worker; return the job, documents/s, the worker's and its backends' CPU seconds."""
    project = projects.project_create(name=name, actor=manager)
    analyst = get_user_model().objects.get(username="bench-analyst")
    projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    with path.open("rb") as stream:
        job = jobs.import_job_create(
            project=project, files=[jobs.UploadedInput(path.name, stream)], format="jsonl", actor=manager
        )
    cpu_before = worker.cpu_seconds()
    backends = BackendCpu()
    jobs.enqueue(job)
    while True:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.1)
    database_cpu = backends.stop()
    if job.status != "done" or job.rows_failed:
        raise SystemExit(f"import failed: {job.status} {job.error} {job.rows_failed} rows failed")
    seconds = (job.finished_at - job.started_at).total_seconds()
    return job, job.summary["documents_created"] / seconds, worker.cpu_seconds() - cpu_before, database_cpu


def per_document(seconds: float | None, documents: int) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s = {seconds / documents * 1000:.2f} ms/doc"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-large", action="store_true", help="skip the 500 MB file")
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per corpus (the median is printed)")
    parser.add_argument("--large-mb", type=int, default=LARGE_BYTES // (1024 * 1024), help="size of the large file")
    parser.add_argument("--documents", type=int, default=DOCUMENTS, help="documents per corpus (reduced runs)")
    parser.add_argument("--only-large", action="store_true", help="measure only the large file")
    args = parser.parse_args()
    if (
        not settings.CELERY_BROKER_URL.startswith("redis://")
        or "postgresql" not in settings.DATABASES["default"]["ENGINE"]
    ):
        raise SystemExit("set DATABASE_URL (PostgreSQL, your own database name) and CELERY_BROKER_URL (redis://…)")
    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    manager, _ = user_model.objects.get_or_create(username="bench-manager")
    user_model.objects.get_or_create(username="bench-analyst")
    from workbench.celery import app

    app.control.purge()
    workdir = Path(tempfile.mkdtemp(prefix="claimbench-bench-"))
    settings.MEDIA_ROOT = workdir / "media"
    worker = Worker(workdir / "worker.log")
    stamp = time.strftime("%H%M%S")
    try:
        time.sleep(3)  # let the worker connect
        for with_spans in () if args.only_large else (False, True):
            rates, cpu_rates = [], []
            for run in range(args.runs):
                path = workdir / f"corpus-{with_spans}-{run}.jsonl"
                write_corpus(path, args.documents, with_spans, prefix=f"{stamp}-{with_spans}-{run}")
                job, rate, cpu, db_cpu = import_once(
                    path, manager, f"bench {stamp} spans={with_spans} run={run}", worker
                )
                rates.append(rate)
                cpu_rates.append(args.documents / cpu)
                path.unlink()
                print(f"  run {run + 1}: {rate:,.0f} docs/s ({job.summary['spans_created']:,} spans); worker CPU "
                      f"{per_document(cpu, args.documents)} ({args.documents / cpu:,.0f} docs per worker CPU "
                      f"second); PostgreSQL backends CPU {per_document(db_cpu, args.documents)}",
                      flush=True)  # fmt: skip
            label = f"{SPANS} spans each" if with_spans else "no spans"
            target = 2000 if with_spans else 4000
            median = statistics.median(rates)
            print(f"{args.documents:,} JSONL documents of ~4 KB, {label}: median {median:,.0f} docs/s "
                  f"(target ≥ {target:,}); {statistics.median(cpu_rates):,.0f} docs per worker CPU second; "
                  f"worker peak RSS so far {worker.peak_rss_mb():.0f} MB", flush=True)  # fmt: skip
        if not args.skip_large:
            path = Path(tempfile.gettempdir()) / f"claimbench-bench-{stamp}-large.jsonl"
            try:
                count = write_corpus(path, None, False, prefix=f"{stamp}-large", size=args.large_mb * 1024 * 1024)
                size_mb = path.stat().st_size / 1024 / 1024
                job, rate, cpu, _ = import_once(path, manager, f"bench {stamp} large", worker)
                print(f"{size_mb:,.0f} MB JSONL file ({count:,} documents): {rate:,.0f} docs/s, "
                      f"worker CPU {cpu:.1f} s; "
                      f"worker peak RSS {worker.peak_rss_mb():.0f} MB (target < 300 MB)", flush=True)  # fmt: skip
            finally:
                path.unlink(missing_ok=True)
    finally:
        print(f"worker peak RSS over the whole bench: {worker.peak_rss_mb():.0f} MB")
        worker.stop()
        for leftover in (workdir / "media").rglob("*"):
            if leftover.is_file():
                leftover.unlink()


if __name__ == "__main__":
    main()
