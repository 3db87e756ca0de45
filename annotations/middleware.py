"""Security headers on every response (DESIGN rules 3 and 4); a clean 503 when the database is down."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

# No inline script or style anywhere: the one ES module and the stylesheet are files.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.user.is_authenticated if hasattr(request, "user") else False:
            # Private data: never kept by a shared cache or the back button after logout.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


DATABASE_UNAVAILABLE_MESSAGE = (
    "The database is not answering for a moment, so this change was not saved. "
    "Nothing you saved before is lost; retry in a few seconds."
)


class DatabaseUnavailableMiddleware:
    """A lost database connection answers 503 with a clear message instead of a 500 traceback page.

    JSON for the API and the annotation page's fetch calls (whose script keeps the
    change and retries), a plain page otherwise. Only connection failures qualify:
    the request's transaction was rolled back, so the client knows nothing was saved.
    Rendered without templates or the session, which would need the database too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.db import InterfaceError, OperationalError
        from django.http import JsonResponse

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        # Outer middleware reads request.user; loading it would query the database again and turn this into a 500.
        from django.contrib.auth.models import AnonymousUser

        request.user = AnonymousUser()
        response: HttpResponse
        if _wants_json(request):
            body = {"code": "database_unavailable", "message": DATABASE_UNAVAILABLE_MESSAGE, "field": None}
            response = JsonResponse(body, status=503)
        else:
            page = (
                "<!doctype html><html lang=en><meta charset=utf-8><title>Unavailable</title>"
                f"<h1>Temporarily unavailable</h1><p>{DATABASE_UNAVAILABLE_MESSAGE}</p></html>"
            )
            response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
        response.headers["Retry-After"] = "5"
        response.headers["Cache-Control"] = "no-store"
        return response


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/api/")
        or "json" in request.headers.get("Accept", "")
        or "json" in request.headers.get("Content-Type", "")
    )
