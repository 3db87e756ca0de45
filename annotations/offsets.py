"""Converting between code-point offsets (Python, storage) and UTF-16 offsets (browsers).

Offsets are stored as Unicode code points; JavaScript strings count UTF-16
code units, in which every character outside the Basic Multilingual Plane
(most emoji) takes two. These are the only functions that translate.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

# The largest offset the database can slice a text at (substr() takes 32-bit positions); every text
# is far shorter. A larger offset is simply past the end of the text, and must be refused as such.
MAX_TEXT_OFFSET = 2**31 - 1


def _is_astral(char: str) -> bool:
    return ord(char) > 0xFFFF


def utf16_length(text: str) -> int:
    """Length of text in UTF-16 code units."""
    return len(text) + sum(1 for char in text if _is_astral(char))


def codepoint_to_utf16(text: str, codepoint_offset: int) -> int:
    """Map a code-point offset into text to the matching UTF-16 offset.

    Raises ValueError when the offset is outside 0..len(text).
    """
    if not 0 <= codepoint_offset <= len(text):
        raise ValueError(f"offset {codepoint_offset} is outside the text (0..{len(text)})")
    return codepoint_offset + sum(1 for char in text[:codepoint_offset] if _is_astral(char))


def utf16_to_codepoint(text: str, utf16_offset: int) -> int:
    """Map a browser (UTF-16) offset to a Python str index.

    Raises ValueError when the offset is outside the text or falls inside a
    surrogate pair (between the two halves of one emoji).
    """
    if utf16_offset < 0:
        raise ValueError(f"offset {utf16_offset} is negative")
    units = 0
    for index, char in enumerate(text):
        if units == utf16_offset:
            return index
        units += 2 if _is_astral(char) else 1
        if units > utf16_offset:
            raise ValueError(f"UTF-16 offset {utf16_offset} falls inside the surrogate pair at code point {index}")
    if units == utf16_offset:
        return len(text)
    raise ValueError(f"UTF-16 offset {utf16_offset} is outside the text (0..{units})")


class Utf16Index:
    """Repeated conversions over one text in O(log n) each, for exporters and importers.

    Building it is O(n) once; it stores the code-point index of every astral character.
    """

    def __init__(self, text: str) -> None:
        self._text_length = len(text)
        self._astral_positions: Sequence[int] = [i for i, char in enumerate(text) if _is_astral(char)]
        # UTF-16 offset of each astral character's first unit, for the reverse direction.
        self._astral_utf16 = [pos + n for n, pos in enumerate(self._astral_positions)]

    def to_utf16(self, codepoint_offset: int) -> int:
        if not 0 <= codepoint_offset <= self._text_length:
            raise ValueError(f"offset {codepoint_offset} is outside the text (0..{self._text_length})")
        return codepoint_offset + bisect_left(self._astral_positions, codepoint_offset)

    def to_codepoint(self, utf16_offset: int) -> int:
        astral_before = bisect_left(self._astral_utf16, utf16_offset)
        if astral_before and self._astral_utf16[astral_before - 1] == utf16_offset - 1:
            raise ValueError(f"UTF-16 offset {utf16_offset} falls inside a surrogate pair")
        codepoint = utf16_offset - astral_before
        if not 0 <= codepoint <= self._text_length:
            raise ValueError(f"UTF-16 offset {utf16_offset} is outside the text")
        return codepoint
