"""Permissions and throttles. Object access (membership, blind mode) is decided in
selectors.py / access.py; here is only "who may call the API at all" and how often."""

from __future__ import annotations

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


class AnonymousRateThrottle(AnonRateThrottle):
    scope = "anon"
