"""API fixtures: a DRF client per user, authenticated by a real personal token."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from annotations.services import tokens


@pytest.fixture(autouse=True)
def _fresh_throttles_and_no_commit_lag(settings: Any) -> None:
    # Each test starts with a fresh throttle budget; on SQLite ids commit in order, so no lag is needed.
    cache.clear()
    settings.CLAIMBENCH_CHANGES_COMMIT_LAG = 0


@pytest.fixture
def api_for(db: Any) -> Any:
    def make(user: Any) -> APIClient:
        client = APIClient()
        secret = tokens.api_token_create(user=user, name="test").secret
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make
