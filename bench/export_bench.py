"""Export throughput and peak memory, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_exports_bench DEBUG=1 \\
        .venv/bin/python bench/export_bench.py [--runs 3] [--formats jsonl,csv] [--projects 100k,1m]

Builds two projects once (documents and sets with bulk_create, spans and
relations with INSERT … SELECT, straight into the tables): "bench-100k"
with 10,000 documents and 100,000 spans, and "bench-1m" with 10,000 documents
and 1,000,000 spans (two analyst sets of 50 spans each per document, every
attribution linked to the claim after it: 30,000 and 340,000 relations; a
project of an older build, which had few or none, is relinked). Then runs each export as a real export job
(claim, snapshot transaction, chunked reads, exporter, temp file, storage
save) in a fresh child process, several times, and prints the median spans/s,
the child's own CPU time, its PostgreSQL backends' CPU time (sampled from
/proc: JSONL and CSV are rendered there, on two reader connections) and the
child's peak resident memory (ru_maxrss). `--path python` forces the Python
exporters for comparison. Targets: >= 200,000 spans/s, peak under 300 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
os.environ.setdefault("DEBUG", "1")

WORDS = [
    "the",
    "minister",
    "said",
    "that",
    "taxes",
    "will",
    "fall",
    "next",
    "year",
    "while",
    "critics",
    "replied",
    "budget",
    "shows",
    "rise",
    "of",
    "percent",
    "according",
    "to",
    "sources",
    "parliament",
    "denied",
    "report",
    "claimed",
    "officials",
    "stated",
    "economy",
    "growth",
    "inflation",
]


def _setup() -> None:
    import django

    django.setup()


def _text(n: int) -> str:
    words = [WORDS[(n * 7 + i * 13) % len(WORDS)] for i in range(300)]
    return f"Article {n}. " + " ".join(words) + "."


SPAN_SQL = """
INSERT INTO annotations_span (uuid, annotation_set_id, label, start, "end", quote, attributes, note, provenance,
                              created_at, updated_at)
SELECT gen_random_uuid(), s.id, (ARRAY['attribution', 'claim', 'counter-claim'])[k %% 3 + 1],
       (k * 37) %% (length(d.text) - 40), (k * 37) %% (length(d.text) - 40) + 12 + k %% 20,
       substr(d.text, (k * 37) %% (length(d.text) - 40) + 1, 12 + k %% 20),
       CASE WHEN k %% 3 = 1 THEN '{"check_worthy": "yes"}'::jsonb ELSE '{}'::jsonb END, '', '{}'::jsonb, now(), now()
FROM annotations_annotationset s
JOIN annotations_document d ON d.id = s.document_id
CROSS JOIN generate_series(0, %s) AS k
WHERE s.id = ANY(%s)
"""

# Every attribution sources the claim created right after it in the same set. "Right after" is the next
# span by id within the set (ids follow k there whatever order the INSERT's join produced the sets in):
# `c.id = a.id + 1` found a relation only where the sets' spans happened to be numbered one set at a time,
# which left the 1M project without relations.
RELATION_SQL = """
INSERT INTO annotations_relation (uuid, annotation_set_id, type, source_id, target_id, attributes, note, provenance,
                                  created_at, updated_at)
SELECT gen_random_uuid(), a.annotation_set_id, 'sources', a.id, a.next_id, '{}'::jsonb, '', '{}'::jsonb, now(), now()
FROM (
    SELECT id, annotation_set_id, label,
           lead(id) OVER (PARTITION BY annotation_set_id ORDER BY id) AS next_id,
           lead(label) OVER (PARTITION BY annotation_set_id ORDER BY id) AS next_label
    FROM annotations_span WHERE annotation_set_id = ANY(%s)
) AS a
WHERE a.label = 'attribution' AND a.next_label = 'claim'
"""


def _repair_relations(project_id: int) -> None:
    """Relink a project built by the `id + 1` rule, which left it with few relations or none."""
    from django.db import connection, transaction

    from annotations.models import AnnotationSet, Relation, Span

    sets = AnnotationSet.objects.filter(document__project_id=project_id)
    relations = Relation.objects.filter(annotation_set__in=sets)
    if relations.count() * 10 >= Span.objects.filter(annotation_set__in=sets).count():
        return
    print(f"  project {project_id}: linking every attribution to the claim after it (bench data of an older build)")
    with transaction.atomic():
        relations.delete()
        with connection.cursor() as cursor:
            cursor.execute(RELATION_SQL, [list(sets.values_list("pk", flat=True))])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotations_relation")


def build(name: str, documents: int, sets_per_document: int, spans_per_set: int) -> int:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotations.models import AnnotationSet, Document, Membership, Project, Role, SetState
    from annotations.text import text_sha256

    existing = Project.objects.filter(name=name).first()
    if existing is not None:
        _repair_relations(existing.pk)
        return existing.pk
    user_model = get_user_model()
    analysts = [user_model.objects.get_or_create(username=f"bench-analyst-{i}")[0] for i in range(sets_per_document)]
    started = time.monotonic()
    with transaction.atomic():
        project = Project.objects.create(name=name)
        for analyst in analysts:
            Membership.objects.create(project=project, user=analyst, role=Role.ANNOTATOR)
        for first in range(0, documents, 1000):
            batch = []
            for n in range(first, min(first + 1000, documents)):
                text = _text(n) + f" ({name})"
                batch.append(Document(project=project, title=f"Article {n}", text=text, text_sha256=text_sha256(text)))
            docs = Document.objects.bulk_create(batch)
            sets = AnnotationSet.objects.bulk_create(
                [
                    AnnotationSet(document=doc, annotator=analyst, state=SetState.SUBMITTED)
                    for doc in docs
                    for analyst in analysts
                ]
            )
            # Spans and relations are generated by PostgreSQL itself: a million ORM objects
            # would take the bench longer to build than to measure.
            set_ids = [annotation_set.pk for annotation_set in sets]
            with connection.cursor() as cursor:
                cursor.execute(SPAN_SQL, [spans_per_set - 1, set_ids])
                cursor.execute(RELATION_SQL, [set_ids])
            print(f"  {name}: {first + len(docs)} documents built ({time.monotonic() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        # Fresh tables have no statistics and no visibility map: a real database has autovacuum's work
        # (statistics for the planner; pages marked all-visible, so the first reads of a fresh
        # row do not write its page back). This machine's server runs with autovacuum off.
        cursor.execute(
            "VACUUM (ANALYZE) annotations_document, annotations_annotationset, annotations_span, annotations_relation"
        )
    return project.pk


class BackendCpu:
    """Samples the CPU time of this database's PostgreSQL backends (the export's readers) from /proc.

    Rendering runs in PostgreSQL, so the exporting process's own CPU time tells half the story.
    Sampled every 0.1 s: a backend's last tenth of a second before it exits is missed.
    """

    def __init__(self, database: str) -> None:
        import threading

        self._database = database
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._others: set[str] = set()  # processes that are not, and never become, client backends of this database
        self._sample()
        self._baseline = dict(self._last)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or entry in self._others:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    words = cmdline.read().split()
                # "postgres: [CLUSTER:] USER DATABASE HOST(PORT) STATE": client backends of this database
                # only, not autovacuum's workers ("autovacuum worker DATABASE").
                if not words or words[0] != b"postgres:" or not self._is_client(words):
                    # Not looked at again: reading every process's cmdline ten times a second cost the measured
                    # process about 3% of a core. A backend that has just forked still shows the postmaster's
                    # command line (".../bin/postgres -D …"), so only what can never become ours is skipped.
                    if not words or b"postgres" not in words[0] or words[0] == b"postgres:":
                        self._others.add(entry)
                    continue
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / ticks
            self._first.setdefault(int(entry), seconds)
            self._last[int(entry)] = seconds

    def _is_client(self, words: list[bytes]) -> bool:
        name = self._database.encode()
        return any(
            word == name and (b"(" in following or following == b"[local]")
            for word, following in zip(words, words[1:], strict=False)
        )

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample()
        return sum(self._last[pid] - self._baseline.get(pid, self._first[pid]) for pid in self._last)


def measure(project_id: int, format: str) -> None:
    """Child process: run one export job and print 'spans seconds bytes'."""
    from django.conf import settings
    from django.db import connection

    from annotations.models import Project
    from annotations.services import exporting

    if os.environ.get("EXPORT_BENCH_PATH") == "python":
        settings.CLAIMBENCH_EXPORT_SQL_RENDERING = False
    project = Project.objects.get(pk=project_id)
    job = exporting.export_job_create(project=project, format=format, actor=None)
    backends = BackendCpu(connection.settings_dict["NAME"])
    started, cpu_started = time.monotonic(), time.process_time()
    job = exporting.export_job_run(job.pk)
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    backend_seconds = backends.stop()
    assert job is not None and job.status == "done", job and job.error
    print(job.summary["spans"], seconds, cpu_seconds, backend_seconds, job.summary["bytes"])
    job.output_file.delete(save=False)
    job.delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="jsonl,csv")
    parser.add_argument("--projects", default="100k,1m", help="which bench projects to export: 100k, 1m or both")
    parser.add_argument(
        "--path",
        choices=("auto", "python"),
        default="auto",
        help="auto: SQL rendering for JSONL and CSV on PostgreSQL; python: the generic Python exporters, to compare",
    )
    parser.add_argument("--measure", nargs=2, metavar=("PROJECT_ID", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    _setup()
    if args.measure:
        measure(int(args.measure[0]), args.measure[1])
        return
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("run this on PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_exports_bench")
    call_command("migrate", verbosity=0)
    wanted = set(args.projects.split(","))
    projects = {}
    if "100k" in wanted:
        projects["10,000 documents / 100,000 spans"] = build("bench-100k", 10_000, 1, 10)
    if "1m" in wanted:
        projects["10,000 documents / 1,000,000 spans"] = build("bench-1m", 10_000, 2, 50)
    connection.close()
    # cpu s: the exporting process's own CPU time (median); pg cpu s: its PostgreSQL backends' (sampled), where
    # JSONL and CSV are rendered, on two readers at once. Read with the load average: on a loaded machine wall
    # time grows while CPU time stays put.
    print(f"path: {args.path}; load average before: {os.getloadavg()[0]:.1f}")
    print(
        f"{'project':38} {'format':6} {'spans':>9} {'median s':>9} {'spans/s':>10} {'cpu s':>6} {'pg cpu s':>8} "
        f"{'peak MB':>8} {'file MB':>8}"
    )
    for label, project_id in projects.items():
        for format in args.formats.split(","):
            timings, cpu_timings, backend_timings, peaks = [], [], [], []
            spans = size = 0
            for _ in range(args.runs):
                child = subprocess.Popen(
                    [sys.executable, __file__, "--measure", str(project_id), format],
                    stdout=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "EXPORT_BENCH_PATH": args.path},
                )
                output = child.stdout.read() if child.stdout else ""
                _, status, usage = os.wait4(child.pid, 0)
                if status != 0:
                    sys.exit(f"measurement failed: {output}")
                spans_text, seconds, cpu_seconds, backend_seconds, size_text = output.split()[-5:]
                spans, size = int(spans_text), int(size_text)
                timings.append(float(seconds))
                cpu_timings.append(float(cpu_seconds))
                backend_timings.append(float(backend_seconds))
                peaks.append(usage.ru_maxrss / 1024)  # Linux reports KiB
            median = statistics.median(timings)
            print(
                f"{label:38} {format:6} {spans:>9,} {median:>9.2f} {spans / median:>10,.0f} "
                f"{statistics.median(cpu_timings):>6.2f} {statistics.median(backend_timings):>8.2f} "
                f"{max(peaks):>8.0f} {size / 1e6:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
