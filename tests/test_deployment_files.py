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


def test_compose_gives_the_web_workers_a_shared_redis_cache():
    # Several gunicorn workers: the API throttles must count in one place, not once per worker.
    environment = _compose()["x-app"]["environment"]
    assert environment["CACHE_URL"].startswith("redis://redis:6379/")
    assert environment["CACHE_URL"] != environment["CELERY_BROKER_URL"]


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
    # Required (`${NAME:?message}`): compose refuses to start without them; never a default (`:-`, `-`).
    for required in ("SECRET_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS"):
        assert f"${{{required}:?" in text, f"{required} must be required, not defaulted"
        assert not re.search(rf"\$\{{{required}:?-", text), f"{required} has a default"
    assert not re.search(r"SECRET_KEY:\s*[\"']?[A-Za-z0-9]", text), "no literal secret key"
    app = _compose()["x-app"]["environment"]
    assert app["DEBUG"] == "False"


def test_every_long_running_service_has_a_health_check():
    services = _compose()["services"]
    for name in ("db", "redis", "web", "worker", "beat"):
        check = services[name].get("healthcheck")
        assert check and check["test"], f"{name} has a health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    # The web check must name an allowed host: Django answers 400 to any other Host header.
    assert "ALLOWED_HOSTS" in " ".join(services["web"]["healthcheck"]["test"])


def test_the_web_health_check_command_is_valid_python():
    test = _compose()["services"]["web"]["healthcheck"]["test"]
    compile(test[test.index("-c") + 1], "healthcheck", "exec")
    beat = _compose()["services"]["beat"]["healthcheck"]["test"]
    compile(beat[beat.index("-c") + 1], "healthcheck", "exec")


def test_nothing_but_the_web_server_publishes_a_port():
    services = _compose()["services"]
    assert [name for name, service in services.items() if service.get("ports")] == ["web"]


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


def test_ci_runs_the_deploy_check_and_the_dependency_audit():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "manage.py check --deploy --fail-level WARNING" in ci
    assert "DEBUG=False" in ci
    assert "pip-audit --strict" in ci and "--requirement requirements.txt" in ci
    assert ci.index("check --deploy") < ci.index("make test"), "the cheap checks run before the suite"
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^pip-audit==[\d.]+$", dev, re.MULTILINE)
    assert re.search(r"^locust==[\d.]+$", dev, re.MULTILINE)
    # Exceptions live in SECURITY.md, in the form CI reads.
    assert "audit exception" in (ROOT / "SECURITY.md").read_text()
