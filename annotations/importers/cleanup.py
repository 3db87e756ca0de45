"""Removing scraper debris from article text before it becomes a document.

Scraped articles arrive with site furniture on lines of their own ("Scroll
Top", "Add comment…", "Write your comment 15", "Follow us on …", copyright
footers) and with paragraphs the scraper printed twice (a headline repeated
under itself). Cleanup drops those lines and reports each one, so the job
summary can show what went.

It is conservative on purpose: a line goes only when the *whole* line matches
one of the patterns below (case-insensitive) and is short, or when it repeats
an earlier line of at least MIN_REPEATED_CHARS characters exactly (the first
copy stays). Prose that merely mentions comments or copyright stays.

Cleanup runs on normalised text before any offset exists (plain text and
HTML carry no spans), so it can never shift a span. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Furniture lines are short; anything longer is prose, whatever it says.
MAX_FURNITURE_CHARS = 200
# Short lines ("— Yes.", "Thank you.") repeat legitimately in interviews.
MIN_REPEATED_CHARS = 30

_ELLIPSIS = r"(?:…|\.{3})?"
_NUMBER = r"(?:\s*\(?\d+\)?)?"

FURNITURE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # navigation
        r"(?:scroll|back|go)\s*(?:to\s*)?top\s*[↑▲^]?",
        r"наверх",
        # comments
        rf"(?:add|write|leave|post)\s+(?:a\s+|your\s+)?comments?{_NUMBER}\s*{_ELLIPSIS}",
        rf"comments?{_NUMBER}:?",
        rf"(?:добавить|написать|оставить)\s+комментарий{_NUMBER}\s*{_ELLIPSIS}",
        rf"комментарии{_NUMBER}:?",
        r"your\s+e-?mail(?:\s+address)?\s+will\s+not\s+be\s+published\b.*",
        r"required\s+fields\s+are\s+marked(?:\s+with)?\s*\*?",
        r"(?:log\s*in|sign\s*in)\s+to\s+(?:comment|reply)\.?",
        # sharing and following
        r"share(?:\s+this(?:\s+(?:article|story|post|page))?)?(?:\s+on\s+[\w .-]{1,30})?:?",
        r"(?:tweet|print|e-?mail)(?:\s+this(?:\s+(?:article|story|page))?)?",
        r"поделиться:?",
        r"subscribe(?:\s+(?:to|on)\s+(?:our|the|us)\b[\w .,'-]{0,60})?[.!]?",
        r"подписаться(?:\s+на\s+[\w .,-]{1,60})?[.!]?",
        r"подпишитесь\s+на\s+[\w .,-]{1,60}[.!]?",
        r"follow\s+us(?:\s+on\s+[\w .,&-]{1,60})?[.!:]?",
        r"follow\s+[\w.-]{1,40}\s+(?:on\s+)?social\s+(?:media|networks?)(?:\s+accounts?)?[.!:]?",
        r"(?:мы|читайте\s+нас)\s+в\s+(?:соцсетях|социальных\s+сетях)[.!:]?",
        # copyright and reuse notices
        r"(?:©|\(c\)\s*\d{4}|copyright\s*(?:©|\(c\))?\s*(?:\d{4}|of\s+(?:materials|the\s+(?:site|website|agency))\b)).*",
        r".{0,120}\ball\s+rights\s+reserved\b.{0,60}",
        r"(?:this|these)\s+(?:information|materials?|articles?|texts?|publications?)\s+(?:may|must|can)\s+not\s+be\s+"
        r"(?:re)?produced\b.*",
        r".{0,120}\bвсе\s+права\s+защищены\b.{0,60}",
        # teasers for other articles
        r"(?:relevant|related|latest|popular|recommended|more)\s+(?:news|articles|stories|posts)\s*:?",
        r"most\s+(?:read|popular|viewed|commented)\s*:?",
        r"(?:read|see)\s+(?:also|more)\s*:?",
        r"(?:читайте\s+также|похожие\s+новости|самое\s+читаемое|популярное)\s*:?",
        # widgets and adverts
        r"(?:система\s+)?orphus(?:\s+system)?",
        r"advertisement|sponsored(?:\s+content)?|реклама",
    )
)


class Cleaned(NamedTuple):
    text: str
    removed_lines: tuple[str, ...]
    # Those of removed_lines that repeated an earlier paragraph (the rest are furniture).
    repeated_lines: tuple[str, ...] = ()


def is_furniture(line: str) -> bool:
    """Whether a single (stripped) line is site furniture."""
    return len(line) <= MAX_FURNITURE_CHARS and any(pattern.fullmatch(line) for pattern in FURNITURE_PATTERNS)


def clean_text(text: str) -> Cleaned:
    """Drop furniture lines and exact repeats of earlier long lines; report what went.

    A blank line left next to a removed one is dropped too, so removing a
    line between two paragraphs leaves one paragraph break, and leading and
    trailing blank lines are dropped. Other whitespace is left alone.
    """
    kept: list[str] = []
    removed: list[str] = []
    repeated_lines: list[str] = []
    seen: set[str] = set()
    skip_next_blank = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            if skip_next_blank:
                skip_next_blank = False
                continue
            kept.append(line)
            continue
        repeated = len(stripped) >= MIN_REPEATED_CHARS and stripped in seen
        if repeated or is_furniture(stripped):
            removed.append(stripped)
            if repeated:
                repeated_lines.append(stripped)
            # Whatever blank line came before now separates what is around the
            # removed line; a blank after it would double the break.
            skip_next_blank = not kept or not kept[-1].strip()
            continue
        skip_next_blank = False
        if len(stripped) >= MIN_REPEATED_CHARS:
            seen.add(stripped)
        kept.append(line)
    return Cleaned("\n".join(kept).strip("\n"), tuple(removed), tuple(repeated_lines))
