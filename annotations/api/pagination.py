"""Cursor pagination on every list: a stable order by id, so a client paging
while others write never sees a row twice or skips one that existed when it
started; the client picks the page size up to MAX_PAGE_SIZE."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 1000


class IdCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = "cursor"
