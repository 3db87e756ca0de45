"""Settings come from the environment; a production start-up without a usable SECRET_KEY stops with a clear message.

Each case runs Django in a subprocess with its own environment, because settings are read once per process.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The subprocess starts from a bare environment: only what Python itself needs, nothing that
# another test (or the CI shell) exported, such as DATABASE_URL or DJANGO_ALLOW_ASYNC_UNSAFE.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
PRINT_DATABASE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE']); print(settings.DATABASES['default'].get('NAME'))"
)


def run(tmp_path: Path, arguments: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
    environment.update(CLAIMBENCH_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="workbench.settings")
    environment.update(variables)
    return subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def strong_key() -> str:
    return secrets.token_urlsafe(50)


def test_production_without_a_secret_key_refuses_to_start(tmp_path: Any):
    result = run(tmp_path, ["manage.py", "check"], DEBUG="False")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr
    assert "see .env.example" in result.stderr


def test_importing_the_settings_directly_fails_the_same_way(tmp_path: Any):
    result = run(tmp_path, ["-c", "import django; django.setup()"], DEBUG="False")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    "bad_key",
    ["short-key", "change-me", "django-insecure-demo-key-for-local-use-only", "django-insecure-" + "x" * 40],
)
def test_production_with_a_short_or_known_key_refuses_to_start(tmp_path: Any, bad_key: str):
    result = run(tmp_path, ["manage.py", "check"], DEBUG="False", SECRET_KEY=bad_key)

    assert result.returncode != 0
    assert "SECRET_KEY is a known, placeholder or short value" in result.stderr
    assert "secrets.token_urlsafe(50)" in result.stderr


def test_debug_mode_runs_without_a_secret_key(tmp_path: Any):
    result = run(tmp_path, ["manage.py", "check"], DEBUG="True")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_nothing_set_means_sqlite_in_the_var_directory(tmp_path: Any):
    result = run(tmp_path, ["-c", PRINT_DATABASE], DEBUG="True")
    engine, name = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "var" / "db.sqlite3")


def test_a_postgres_database_url_switches_the_engine(tmp_path: Any):
    result = run(
        tmp_path,
        ["-c", PRINT_DATABASE],
        DEBUG="False",
        SECRET_KEY=strong_key(),
        DATABASE_URL="postgres://claimbench:pw@db.internal:5432/claimbench",
    )
    assert result.returncode == 0, result.stderr
    engine, name = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert name == "claimbench"


def test_a_redis_broker_url_switches_celery_off_the_filesystem(tmp_path: Any):
    code = "import django; django.setup(); from django.conf import settings; print(settings.CELERY_BROKER_URL)"
    assert run(tmp_path, ["-c", code], DEBUG="True").stdout.strip() == "filesystem://"
    redis = run(tmp_path, ["-c", code], DEBUG="True", CELERY_BROKER_URL="redis://127.0.0.1:6379/5")
    assert redis.stdout.strip() == "redis://127.0.0.1:6379/5"


def test_a_redis_cache_url_gives_every_web_process_one_shared_cache(tmp_path: Any):
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"  # noqa: E501
    )
    assert run(tmp_path, ["-c", code], DEBUG="True").stdout.strip().endswith("LocMemCache")
    redis = run(tmp_path, ["-c", code], DEBUG="True", CACHE_URL="redis://127.0.0.1:6379/1")
    assert redis.stdout.strip().endswith("RedisCache"), redis.stderr


def test_the_deploy_check_passes_with_production_like_variables(tmp_path: Any):
    result = run(
        tmp_path,
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="False",
        SECRET_KEY=strong_key(),
        ALLOWED_HOSTS="claimbench.example.org",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
