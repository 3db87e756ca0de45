"""Cursor pagination on every list: a stable order by id, so a client paging
while others write never sees a row twice or skips one that existed when it
started; the client picks the page size up to MAX_PAGE_SIZE (MAX_ROW_PAGE_SIZE for spans,
relations and changes).

Keyset pages on the primary key: one query per page, `WHERE id > last ORDER BY
id LIMIT n + 1` (the extra row says whether there is a next page), walking the
primary-key index: no COUNT, no OFFSET, the same cost on page 1 and page 1,000.
Cursors are opaque (base64 of a direction and an id); `previous` walks back the
same way with `id < first ORDER BY id DESC`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

MAX_PAGE_SIZE = 1000
# Lists of small rows (spans, relations, changes: a few hundred bytes each) page further: a full
# pull of a large project is then fewer, bigger requests (per-request work is a third of a
# 1,000-row page), and a 5,000-span page is about 2 MB. Documents keep 1,000 (texts are large).
MAX_ROW_PAGE_SIZE = 5000
DEFAULT_PAGE_SIZE = 100
CURSOR_PARAM = "cursor"
PAGE_SIZE_PARAM = "page_size"


class IdCursorPagination(CursorPagination):
    """DRF's cursor pagination, for any generic view (settings.DEFAULT_PAGINATION_CLASS); the API's own
    lists use KeysetPage, which has the same envelope and order at one query per page."""

    ordering = "id"
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = PAGE_SIZE_PARAM
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = CURSOR_PARAM


def encode_cursor(direction: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}{position}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> tuple[str, int]:
    """(direction, id) from a cursor: "n" = ids after it, "p" = ids before it. 404 if unreadable."""
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise NotFound("Invalid cursor.") from None
    direction, digits = text[:1], text[1:]
    if direction not in ("n", "p") or not digits.isdigit() or len(digits) > 19:
        raise NotFound("Invalid cursor.")
    return direction, int(digits)


def page_size_from(request: Request, max_size: int = MAX_PAGE_SIZE) -> int:
    # As DRF's paginators: an unreadable or non-positive size means the default; a large one is capped.
    raw = request.query_params.get(PAGE_SIZE_PARAM, "")
    if raw.isdigit() and len(raw) < 10 and int(raw) > 0:
        return min(int(raw), max_size)
    return DEFAULT_PAGE_SIZE


class KeysetPage:
    """One page of a list in id order: `window` narrows a queryset to the page's rows (plus one),
    `links` turns the ids read back into the next / previous URLs and says which rows to keep."""

    def __init__(self, request: Request, max_size: int = MAX_PAGE_SIZE) -> None:
        self.request = request
        self.size = page_size_from(request, max_size)
        raw = request.query_params.get(CURSOR_PARAM)
        self.direction, self.position = decode_cursor(raw) if raw else ("n", 0)
        self.has_cursor = bool(raw)

    def window(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.direction == "n":
            return queryset.filter(pk__gt=self.position).order_by("pk")[: self.size + 1]
        return queryset.filter(pk__lt=self.position).order_by("-pk")[: self.size + 1]

    def links(self, ids: Sequence[int]) -> tuple[int, str | None, str | None]:
        """From the ids the window read, in its order: (rows to keep, next URL, previous URL).

        Backward windows read in descending order; the caller reverses the kept rows.
        """
        more = len(ids) > self.size
        kept = list(ids[: self.size])
        if self.direction == "n":
            has_next, has_previous = more, self.has_cursor
            last = kept[-1] if kept else None
            first = kept[0] if kept else None
            next_at = last if last is not None else self.position
            previous_at = first if first is not None else self.position + 1
        else:
            has_next, has_previous = True, more
            lowest = kept[-1] if kept else None
            highest = kept[0] if kept else None
            next_at = highest if highest is not None else self.position - 1
            previous_at = lowest if lowest is not None else self.position
        url = self.request.build_absolute_uri()
        next_url = replace_query_param(url, CURSOR_PARAM, encode_cursor("n", next_at)) if has_next else None
        previous_url = replace_query_param(url, CURSOR_PARAM, encode_cursor("p", previous_at)) if has_previous else None
        return len(kept), next_url, previous_url
