"""Per-token throttling: the rate's budget per window, then 429 with Retry-After in the one error shape."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache

from annotations.api.permissions import TokenRateThrottle
from annotations.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute(monkeypatch: Any) -> None:
    # The class reads its rate when it is built; DRF's settings are cached at import.
    monkeypatch.setattr(TokenRateThrottle, "rate", "3/min", raising=False)


def history_key(user: Any) -> str:
    return f"throttle_token_t{ApiToken.objects.get(user=user).pk}"


def test_a_token_gets_its_budget_then_429_with_retry_after(world, api_for, three_a_minute):
    client = api_for(world.analyst)
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert refused.json()["field"] is None
    assert 0 < int(refused["Retry-After"]) <= 60


def test_each_token_has_its_own_budget(world, api_for, three_a_minute):
    first, second = api_for(world.analyst), api_for(world.reviewer)
    for _ in range(3):
        first.get("/api/v1/me/")
    assert first.get("/api/v1/me/").status_code == 429
    assert second.get("/api/v1/me/").status_code == 200


def test_requests_older_than_the_window_no_longer_count(world, api_for, three_a_minute):
    client = api_for(world.analyst)
    cache.set(history_key(world.analyst), [time.time() - 61] * 3, 60)
    assert client.get("/api/v1/me/").status_code == 200


def test_a_history_written_as_a_list_by_an_older_process_still_counts(world, api_for, three_a_minute):
    client = api_for(world.analyst)
    now = time.time()
    cache.set(history_key(world.analyst), [now - 1, now - 2, now - 3], 60)
    assert client.get("/api/v1/me/").status_code == 429


def test_the_history_keeps_every_timestamp_newest_first(world, api_for, three_a_minute):
    client = api_for(world.analyst)
    before = time.time()
    client.get("/api/v1/me/")
    client.get("/api/v1/me/")
    history = cache.get(history_key(world.analyst))
    assert len(history) == 2
    assert history[0] >= history[1] >= before
