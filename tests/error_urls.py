"""A URL conf for tests/test_production.py: the site's routes plus views that fail on purpose."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path

from workbench.urls import urlpatterns as site_urlpatterns

# What an exception message may hold: a stored title, a path, a password hash. None of it may reach the page.
SECRET_DETAIL = "pbkdf2_sha256$leaked-hash /srv/claimbench/media <script>alert(1)</script>"


def fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied(SECRET_DETAIL)


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation(SECRET_DETAIL)


urlpatterns = [
    path("test-errors/500/", fails),
    path("test-errors/403/", forbidden),
    path("test-errors/400/", suspicious),
    *site_urlpatterns,
]
