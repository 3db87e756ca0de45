"""Test-run environment, set before Django reads its settings.

The suite runs with DEBUG off, as production does, on SQLite unless CI sets
DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("HTTPS", "False")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost,127.0.0.2")
_var_dir = os.environ.setdefault("CLAIMBENCH_VAR_DIR", tempfile.mkdtemp(prefix="claimbench-test-var-"))
# whitenoise warns at every request when STATIC_ROOT is missing; tests serve no collected files.
os.makedirs(os.path.join(_var_dir, "staticfiles"), exist_ok=True)
