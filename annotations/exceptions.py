"""Errors the service layer raises. Views, the API and the CLI map them to
form errors, 400/403/404/409/412 responses and exit codes; the message is
written for the person who made the request.
"""

from __future__ import annotations


class ClaimbenchError(Exception):
    """Base class: `code` is stable for API clients, `message` is for people."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ClaimbenchError):
    """The request names something impossible: bad offsets, a wrong quote, an unknown label..."""

    code = "invalid"


class QuoteMismatch(InvalidInput):
    code = "quote_mismatch"


class NotAllowed(ClaimbenchError):
    """The actor's role does not permit this action on this object."""

    code = "forbidden"


class ReadOnlySet(NotAllowed):
    code = "read_only"


class StaleVersion(ClaimbenchError):
    """The writer saw an older version of the annotation set than the current one."""

    code = "stale_version"

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(
            f"This annotation set changed since you loaded it (you had version {expected}, it is now {current}). "
            "Reload to see the current state; nothing saved has been lost."
        )
        self.expected = expected
        self.current = current


class NothingToUndo(ClaimbenchError):
    code = "nothing_to_undo"


class UnknownFormat(ClaimbenchError):
    code = "unknown_format"
