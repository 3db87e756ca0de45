"""One error shape for every API error: {"code", "message", "field"}.

Service errors (annotations.exceptions) map to 400/403/409/412; Http404 and
DRF's own errors (401, 403, 404, 405, 415, 429, parse and validation errors)
are reshaped the same way, so a client handles one format.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from annotations.exceptions import ClaimbenchError, InvalidInput, NotAllowed, NothingToUndo, StaleVersion


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_code = "precondition_required"
    default_detail = 'This write needs an If-Match header with the set version you saw, e.g. If-Match: "3".'


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field, **extra}


def _first_validation_error(detail: Any, prefix: str = "") -> tuple[str | None, str, str]:
    """The first (field, message, code) of a nested DRF ValidationError detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            return _first_validation_error(value, path)
    if isinstance(detail, list) and detail:
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return _first_validation_error(value, f"{prefix}[{index}]")
            return _first_validation_error(value, prefix)
    code = getattr(detail, "code", "invalid") or "invalid"
    return (prefix or None), str(detail), str(code)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ClaimbenchError):
        headers = {}
        http_status: int
        if isinstance(exc, StaleVersion):
            http_status = status.HTTP_412_PRECONDITION_FAILED
            headers["ETag"] = f'"{exc.current}"'
        elif isinstance(exc, NotAllowed):
            http_status = status.HTTP_403_FORBIDDEN
        elif isinstance(exc, NothingToUndo):
            http_status = status.HTTP_409_CONFLICT
        elif isinstance(exc, InvalidInput):
            http_status = status.HTTP_400_BAD_REQUEST
        else:
            http_status = status.HTTP_400_BAD_REQUEST
        extra = {}
        if hasattr(exc, "errors"):
            extra["errors"] = [e.as_dict() for e in exc.errors]
        return Response(error_body(exc.code, exc.message, exc.field, **extra), status=http_status, headers=headers)
    if isinstance(exc, Http404):
        message = str(exc) if str(exc) else "Not found."
        return Response(error_body("not_found", message), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("too_large", "The request body is too large."), status=413)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body("bad_request", str(exc) or "Bad request."), status=400)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_validation_error(exc.detail)
        response.data = error_body(code if code != "invalid" else "invalid", message, field)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else str(exc.default_detail)
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(str(code), message)
    return response
