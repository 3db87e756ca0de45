"""JSON out through orjson: the same JSON DRF's JSONRenderer writes for the API's
plain data (dicts, lists, str, int, float, bool, None), about ten times faster,
which matters on 1,000-row pages (bench/api_bench.py). It also takes
orjson.Fragment: JSON the database already wrote (the PostgreSQL list path in
views.py), embedded as is.

Anything orjson does not write the way DRF does goes through DRF's own encoder:
datetimes (DRF writes `Z`) and other non-JSON types via `default`; non-string
keys and integers beyond 64 bits by falling back to DRF's renderer whole. NaN
has no JSON spelling: the views send null for undefined figures already.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

# JSON allows U+2028 and U+2029 raw; JavaScript string literals did not, so DRF escapes them.
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()
_ENCODER = JSONEncoder()


def dumps(data: Any) -> bytes:
    """Compact JSON with DRF's spelling of non-JSON types; TypeError if orjson cannot write it."""
    rendered = orjson.dumps(data, default=_ENCODER.default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    if _LINE_SEPARATOR in rendered or _PARAGRAPH_SEPARATOR in rendered:
        rendered = rendered.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
    return rendered


class FastJSONRenderer(JSONRenderer):
    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        if data is None:
            return b""
        try:
            rendered = dumps(data)
        except TypeError:  # a dict key that is not a string, an integer past 64 bits: DRF's spelling
            return super().render(data, accepted_media_type, renderer_context)  # type: ignore[no-any-return]
        indent = self.get_indent(accepted_media_type or "", renderer_context or {})
        if indent is not None:  # `Accept: application/json; indent=2`, for people reading
            pretty = json.dumps(orjson.loads(rendered), indent=indent, ensure_ascii=False)
            return pretty.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
        return rendered
