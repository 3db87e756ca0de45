"""A short, bounded version of bench/load_bench.py: analysts saving spans against a real gunicorn.

Same code as the full run (20 analysts, 5 minutes, in bench/), with 5 analysts for 20 s. It
prepares its own database beside the suite's (PostgreSQL `test_<name>_load`, dropped afterwards) or a
SQLite file in tmp_path, so it needs no pytest-django database.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.load_bench import run_load


def test_five_analysts_for_twenty_seconds_lose_no_acknowledged_span(tmp_path: Path):
    result = run_load(
        users=5,
        seconds=20,
        database_url=os.environ.get("DATABASE_URL"),
        workers=2,
        stale_share=0.2,
        workdir=tmp_path,
        keep_database=False,
        # test_<name>_load, like pytest-django's test_<name>: never the bench's <name>_load.
        database_prefix="test_",
    )
    print(result.report())

    assert result.errors == {}, result.report()
    assert result.unknown_outcomes == 0
    # 5 analysts every 1–2 s for 20 s: dozens of saves, and the stale writer was refused at least once.
    assert result.creates_acknowledged >= 20, result.report()
    assert result.deliberate_conflicts >= 1, result.report()
    assert result.percentile(95) is not None
    assert result.server_spans == result.acknowledged_spans
    assert result.mismatched_sets == []
    assert result.exact
