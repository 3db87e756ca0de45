"""The URL conf as data: every route, its parameters, and a way to fill them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

_ID_PARAMETER = re.compile(r"(^id$|_id$|uuid|^pk$)")


@dataclass(frozen=True)
class Route:
    template: str  # e.g. "annotate/<int:set_id>/spans/<uuid:span_uuid>/"
    name: str  # namespaced, e.g. "annotations:annotate_span_update"
    parameters: tuple[str, ...]

    @property
    def takes_an_id(self) -> bool:
        return any(_ID_PARAMETER.search(name) for name in self.parameters)

    def fill(self, values: dict[str, object]) -> str:
        def replace(match: re.Match[str]) -> str:
            return str(values[match.group("name")])

        path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", replace, self.template)
        return "/" + path


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            pattern = entry.pattern
            names = tuple(getattr(pattern, "converters", {}) or ()) or tuple(pattern.regex.groupindex)
            yield Route(prefix + str(pattern), f"{namespace}{entry.name or ''}", names)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


# Route families that take an id but are not project-scoped, each with the reason.
ALLOW_LIST = {
    "admin/": "Django admin: staff only (is_staff), not project-scoped; a non-staff member is sent to the "
    "admin login (test_the_admin_refuses_project_members_who_are_not_staff)",
}


def allow_listed(route: Route) -> str | None:
    for prefix, reason in ALLOW_LIST.items():
        if route.template.startswith(prefix):
            return reason
    return None
