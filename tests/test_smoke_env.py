from __future__ import annotations

from django.conf import settings


def test_the_suite_runs_with_debug_off_as_production_does():
    assert settings.DEBUG is False
