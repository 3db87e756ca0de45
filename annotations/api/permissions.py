"""Permissions and throttles. Object access (membership, blind mode) is decided in
selectors.py / access.py; here is only "who may call the API at all" and how often."""

from __future__ import annotations

from array import array
from typing import Any

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from annotations.models import ApiToken


class IsAuthenticatedMember(IsAuthenticated):
    """Authenticated and active; project roles are checked per object by selectors and services."""

    message = "Authentication credentials were not provided or are not valid."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(super().has_permission(request, view) and request.user.is_active)


class TokenRateThrottle(SimpleRateThrottle):
    """Per token (each token has its own budget); per user for browser sessions."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # anonymous requests are AnonRateThrottle's
        ident = f"t{request.auth.pk}" if isinstance(request.auth, ApiToken) else f"u{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: Any) -> bool:
        """SimpleRateThrottle.allow_request, with the history kept as an array of doubles.

        The history holds one timestamp per request in the window (up to the rate, 6,000 by
        default) and goes through the cache, pickled, on every request: a list of floats costs
        about 0.2 ms to unpickle and pickle again at 6,000, an array a copy of its bytes. Same
        timestamps, same order, same decisions; a list left in the cache by an older process
        is read as well.
        """
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        history = self.cache.get(self.key)
        self.history = history if isinstance(history, array) else array("d", history or ())  # type: ignore[assignment]
        self.now = self.timer()
        # Drop the requests that have left the window (newest first, as DRF keeps them).
        while self.history and self.history[-1] <= self.now - self.duration:  # type: ignore[attr-defined]
            self.history.pop()
        if len(self.history) >= self.num_requests:  # type: ignore[attr-defined]
            return self.throttle_failure()
        return self.throttle_success()


class AnonymousRateThrottle(AnonRateThrottle):
    scope = "anon"
