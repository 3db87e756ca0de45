"""Profile a single span create through the API (issue 4: p50 <= 8 ms, p99 <= 20 ms server time).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cb_h2_profile \
        .venv/bin/python bench/create_profile.py 2>/dev/null

Same setup as bench/api_bench.py (its setup_data, on a small dataset by default) and the same
request: POST /api/v1/sets/<id>/spans/ with token auth and If-Match, in-process through DRF's
APIClient. Prints, for --requests creates after a short warm-up:
- server time (the Server-Timing header), wall and this process's CPU per request: p50/p95/p99;
- the garbage collector's pauses during the timed run (count, total, longest, by generation),
  and each request at or over p99: its CPU, its waiting (wall minus CPU: the database, the
  fsync of COMMIT, a busy core) and any collection inside it;
- unless --no-profile, the same creates again under cProfile with a CPU clock
  (time.process_time), so waiting for the database or a core is left out: the top entries by
  cumulative and by own time (--dump FILE keeps the profile for pstats).
--gc-freeze moves everything alive after the warm-up out of the collector's reach (gc.freeze),
as workbench/wsgi.py does in every server process after loading the app: the long full
collections go. Without it, the figures show what a process without that step would see.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")

# isort: off
# api_bench sets the benchmark's environment (DEBUG off, a high throttle rate…) and sets up Django: first.
from bench.api_bench import fresh_set, server_time, setup_data, word_offsets  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

# isort: on


class GcPauses:
    """Every collection's duration and generation, from gc.callbacks."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, float]] = []  # (generation, start, seconds)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], self._started, time.perf_counter() - self._started))


def quantiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49]:.2f}  p95 {q[94]:.2f}  p99 {q[98]:.2f}  max {max(values):.2f} ms"


def run_creates(client: APIClient, big: Any, count: int, offset: int = 0) -> list[tuple[float, float, float, float]]:
    """`count` creates in a fresh set: (start, server ms, wall ms, CPU ms) for each."""
    annotation_set = fresh_set(big, "bench-analyst")
    version, url = annotation_set.version, f"/api/v1/sets/{annotation_set.pk}/spans/"
    offsets = word_offsets(big.text)[offset : offset + count]
    results = []
    for start, end in offsets:
        body = {"label": "claim", "start": start, "end": end, "quote": big.text[start:end]}
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.post(url, body, format="json", HTTP_IF_MATCH=f'"{version}"')
        wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000
        assert response.status_code == 201, response.content[:300]
        results.append((started, server_time(response), wall, cpu))
        version += 1
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=3000)
    parser.add_argument("--documents", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1, help="timed runs of --requests creates (no profiler)")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the warm-up (as wsgi.py does)")
    parser.add_argument("--dump", help="also write the profile here (pstats format), to explore with pstats")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    _, big, secret = setup_data(args.spans, args.documents)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    run_creates(client, big, 50)  # warm-up: caches, SQL text, the connection
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    print(f"objects the collector tracks: {[len(gc.get_objects(g)) for g in range(3)]}, frozen {gc.get_freeze_count()}")

    results, gc_monitor = [], GcPauses()
    gc.callbacks.append(gc_monitor)
    try:
        for _ in range(args.runs):
            results += run_creates(client, big, args.requests)
    finally:
        gc.callbacks.remove(gc_monitor)
    server = [r[1] for r in results]
    print(f"{len(results)} creates; load average {os.getloadavg()[0]:.2f}")
    print(f"  server time  {quantiles(server)}")
    print(f"  wall         {quantiles([r[2] for r in results])}")
    print(f"  CPU          {quantiles([r[3] for r in results])}")
    pauses = gc_monitor.pauses
    if pauses:
        by_generation = {g: [p for gen, _, p in pauses if gen == g] for g in sorted({gen for gen, _, _ in pauses})}
        summary = ", ".join(
            f"gen{g}: {len(p)} totalling {sum(p) * 1000:.1f} ms, longest {max(p) * 1000:.2f} ms"
            for g, p in by_generation.items()
        )
        print(f"  GC pauses    {summary}")
    slow = statistics.quantiles(server, n=100)[98]
    slow_requests = [r for r in results if r[1] >= slow]
    with_gc = [
        r for r in slow_requests if any(r[0] <= start <= r[0] + r[2] / 1000 for _, start, _ in pauses)
    ]  # a collection started inside the request
    print(f"  requests at or over p99 ({slow:.2f} ms): {len(slow_requests)}, {len(with_gc)} with a GC pause inside")
    for started, server_ms, wall_ms, cpu_ms in sorted(slow_requests, key=lambda r: -r[1]):
        inside = [(g, p) for g, start, p in pauses if started <= start <= started + wall_ms / 1000]
        collections = ", ".join(f"gen{g} {p * 1000:.1f} ms" for g, p in inside) or "no collection"
        print(
            f"    server {server_ms:6.2f} ms, CPU {cpu_ms:5.2f} ms, waiting {wall_ms - cpu_ms:6.2f} ms; {collections}"
        )

    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        run_creates(client, big, args.requests)
        profiler.disable()
        stats = pstats.Stats(profiler)
        if args.dump:
            stats.dump_stats(args.dump)
        for order in ("cumulative", "tottime"):
            print(f"\n--- cProfile (CPU clock), {args.requests} creates, by {order} ---")
            stats.sort_stats(order).print_stats(args.top)


if __name__ == "__main__":
    main()
