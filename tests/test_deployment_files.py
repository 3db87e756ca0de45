"""docker-compose.yml cannot be run here (no Docker engine), so read it: it must
describe the services DESIGN.md names and run the same commands as the Makefile."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _makefile_variable(name: str) -> list[str]:
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile defines {name}"
    return shlex.split(match.group(1))


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_describes_postgres_redis_web_and_worker():
    services = _compose()["services"]
    assert {"db", "redis", "web", "worker"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_compose_runs_the_commands_the_makefile_runs():
    services = _compose()["services"]
    assert services["web"]["command"] == _makefile_variable("WEB_CMD")
    assert services["worker"]["command"] == _makefile_variable("WORKER_CMD")
    assert services["migrate"]["command"] == _makefile_variable("MIGRATE_CMD")
    assert services["beat"]["command"] == _makefile_variable("BEAT_CMD")


def test_the_makefile_targets_use_those_commands():
    makefile = (ROOT / "Makefile").read_text()
    assert "$(VENV)/bin/$(WEB_CMD)" in makefile
    assert "$(VENV)/bin/$(WORKER_CMD)" in makefile
    assert "$(VENV)/bin/$(MIGRATE_CMD)" in makefile
    assert "$(VENV)/bin/$(BEAT_CMD)" in makefile


def test_compose_has_no_default_secrets():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "SECRET_KEY" not in text, "the secret key comes from .env, never from the compose file"
    assert "${POSTGRES_PASSWORD:?" in text, "the database password must be required, not defaulted"
    for service in ("db", "redis", "web"):
        assert "healthcheck" in _compose()["services"][service]


def test_dockerfile_starts_the_same_web_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd is not None
    assert yaml.safe_load(cmd.group(1)) == _makefile_variable("WEB_CMD")


def test_env_example_lists_every_variable_settings_reads():
    settings_source = (ROOT / "workbench" / "settings.py").read_text()
    read = set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z_]+)\"", settings_source))
    read |= set(re.findall(r"Env\(\)\.str\(\"([A-Z_]+)\"", settings_source))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read, "the regex found the variables settings.py reads"
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"
