"""What the annotation page does to a selection before it becomes a span. Pure: no ORM.

The browser sends the raw selection in code points (converted from UTF-16 at
the edge, in annotate.js). Snapping to words and moving an edge happen here,
against the stored text, so the one definition of "a word" is Python's and a
quote always equals text[start:end].
"""

from __future__ import annotations

from dataclasses import dataclass

# Characters that glue a word together besides letters, digits and combining marks:
# "don't", "Sadykova's", "e-mail". Guillemets and quotes are not word characters.
_WORD_JOINERS = frozenset("'’-\u00ad")


def is_word_char(char: str) -> bool:
    # str.isalnum() misses combining marks (category M*), which belong to the letter before them.
    return char.isalnum() or char in _WORD_JOINERS or _is_combining(char)


def _is_combining(char: str) -> bool:
    import unicodedata

    return unicodedata.category(char).startswith("M")


@dataclass(frozen=True)
class Extent:
    start: int
    end: int


def trim_whitespace(text: str, start: int, end: int) -> Extent:
    """Drop leading and trailing whitespace (spaces, tabs, newlines) from [start, end)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Extent(start, end)


def snap_to_words(text: str, start: int, end: int) -> Extent:
    """Widen [start, end) so it neither starts nor ends inside a word, then trim whitespace.

    A selection that covers only whitespace comes back empty (start == end);
    the caller refuses it.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"[{start}, {end}) is outside the text (0..{len(text)})")
    trimmed = trim_whitespace(text, start, end)
    start, end = trimmed.start, trimmed.end
    if start == end:
        return trimmed
    while start > 0 and is_word_char(text[start]) and is_word_char(text[start - 1]):
        start -= 1
    while end < len(text) and is_word_char(text[end - 1]) and is_word_char(text[end]):
        end += 1
    return Extent(start, end)


def nudge_edge(text: str, start: int, end: int, *, edge: str, direction: int, by_word: bool) -> Extent:
    """Move one edge of [start, end) by a character or a word, never past the other edge or the text.

    edge is "start" or "end"; direction is -1 (left) or +1 (right). Moving by a
    word jumps to the next word boundary, skipping whitespace on the way, so the
    span keeps clean edges. Raises ValueError for a move that would empty the span.
    """
    if edge not in ("start", "end") or direction not in (-1, 1):
        raise ValueError("edge must be 'start' or 'end' and direction -1 or 1")
    position = start if edge == "start" else end
    if not by_word:
        position = min(max(position + direction, 0), len(text))
    elif direction > 0:
        position = _skip(text, position, +1, word=False)
        position = _skip(text, position, +1, word=True)
        if edge == "start":  # the start lands on the next word, not on the space before it
            position = _skip(text, position, +1, word=False)
    else:
        position = _skip(text, position, -1, word=False)
        position = _skip(text, position, -1, word=True)
        if edge == "end":  # the end lands after the previous word, not after the space behind it
            position = _skip(text, position, -1, word=False)
    new = Extent(position, end) if edge == "start" else Extent(start, position)
    if new.start >= new.end:
        raise ValueError("this move would leave the span empty; delete it instead")
    return new


def _skip(text: str, position: int, direction: int, *, word: bool) -> int:
    """Move while the character crossed is (word=True) or is not (word=False) a word character."""
    if direction > 0:
        while position < len(text) and is_word_char(text[position]) == word:
            position += 1
    else:
        while position > 0 and is_word_char(text[position - 1]) == word:
            position -= 1
    return position
