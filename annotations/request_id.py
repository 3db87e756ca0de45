"""Structured logs: one JSON object per line, each carrying the request id or the Celery job id.

- RequestIdMiddleware (first in MIDDLEWARE) takes a well-formed incoming `X-Request-ID` (from a
  proxy or a client) or makes one, keeps it in a context variable for the request's duration and
  echoes it in the response header, so a user's report, the proxy log and our log lines meet;
  and says in `Server-Timing: app;dur=…` how long Django took over the request.
- LogContextFilter copies the context (request_id; task_id and job_id inside a Celery task) onto
  every log record; JsonFormatter writes the record as one JSON line.
- Celery's task_prerun/task_postrun signals set the task's context: the job id is the first
  argument of the job tasks (or `job_id=`), and a task published during a request carries that
  request's id in its message headers.

Context variables, not thread locals: correct under threads, gevent and asyncio alike.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import signals
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
SERVER_TIMING_HEADER = "Server-Timing"
# Anything else (too long, spaces, quotes, newlines: log and header injection) is replaced.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

_log_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "claimbench_log_context", default=None
)
logger = logging.getLogger(__name__)


def current_context() -> dict[str, Any]:
    return dict(_log_context.get() or {})


def request_id_from(incoming: str | None) -> str:
    """The caller's id when it is well formed, else a new random one."""
    if incoming and _WELL_FORMED.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_from(request.headers.get(HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _log_context.set({"request_id": request_id})
        try:
            response = self.get_response(request)
        finally:
            _log_context.reset(token)
        response[HEADER] = request_id
        # The time Django spent on the request, every middleware included (this one is first):
        # browsers' developer tools show it beside the network time, and bench/api_bench.py reads it.
        response[SERVER_TIMING_HEADER] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response


class LogContextFilter(logging.Filter):
    """Adds request_id / task_id / job_id to every record (None when outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _log_context.get() or {}
        for key in ("request_id", "task_id", "job_id"):
            if not hasattr(record, key):
                setattr(record, key, context.get(key))
        if getattr(record, "request_id", None) is None:
            # Django logs a 4xx/5xx response after the middleware chain has returned, passing the request.
            record.request_id = getattr(getattr(record, "request", None), "request_id", None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the message is data, so quotes and newlines in it stay escaped."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "task_id", "job_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        status_code = getattr(record, "status_code", None)
        if status_code is not None:
            entry["status"] = status_code
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# --- Celery -------------------------------------------------------------------------------------

_task_tokens: dict[str, contextvars.Token[dict[str, Any] | None]] = {}


def _carry_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = (_log_context.get() or {}).get("request_id")
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


def _job_id(task: Any, args: Any, kwargs: Any) -> Any:
    if kwargs and "job_id" in kwargs:
        return kwargs["job_id"]
    if args and str(getattr(task, "name", "")).endswith("_job"):
        return args[0]
    return None


def _enter_task(task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    context: dict[str, Any] = {"task_id": task_id, "job_id": _job_id(task, args, kwargs)}
    request_id = getattr(getattr(task, "request", None), "request_id", None)
    if request_id:
        context["request_id"] = request_id
    _task_tokens[task_id] = _log_context.set(context)
    logger.info("task %s started", getattr(task, "name", "?"))


def _leave_task(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    logger.info("task %s ended: %s", getattr(task, "name", "?"), state)
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _log_context.reset(token)
        except ValueError:  # set in another context (a retry in a new thread): just clear it
            _log_context.set(None)


# Connected when the logging configuration imports this module, in the web and worker processes alike.
signals.before_task_publish.connect(_carry_request_id)
signals.task_prerun.connect(_enter_task)
signals.task_postrun.connect(_leave_task)
