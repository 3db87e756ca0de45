"""The WSGI entry point every server process loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_loading_the_app_loads_every_view_and_freezes_what_is_alive_then():
    # In a fresh interpreter, as a gunicorn worker loads it: the URLconf (and every view module)
    # is loaded and the objects alive then are out of the collector's reach, so full
    # collections during requests walk only what requests leave behind.
    script = (
        "import gc, sys; import workbench.wsgi; "
        "print(gc.get_freeze_count(), 'annotations.api.views' in sys.modules, len(gc.get_objects(2)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    frozen, views_loaded, oldest_generation = result.stdout.split()
    assert views_loaded == "True"
    assert int(frozen) > 20_000, result.stdout  # a loaded Django app: about 120,000 objects
    assert int(oldest_generation) < int(frozen) // 10, result.stdout
