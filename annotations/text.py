"""Normalising imported text once, so that offsets into it never move again.

DESIGN.md "Text and offsets": decode, strip a BOM, NUL and other control
characters except newline and tab, turn CRLF and CR into LF, apply NFC.
Pure functions: no Django, no I/O.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import charset_normalizer

# C0 controls except \t (0x09) and \n (0x0a); \r is handled before this runs.
# DEL and the C1 block (0x80-0x9f) are controls too: they appear when cp1252
# text was mis-decoded as latin-1 and never carry meaning in an article.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BOM = "\ufeff"


class UndecodableText(ValueError):
    """Raised when bytes are not text in any encoding we can detect (binary data)."""


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def decode_bytes(raw: bytes) -> DecodedText:
    """Decode raw file bytes, detecting the encoding.

    UTF-8 (with or without a BOM) and UTF-16 with a BOM are recognised exactly;
    anything else is handed to charset-normalizer (Windows-1251, KOI8-R, ...).
    Raises UndecodableText for binary data.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        return DecodedText(raw[3:].decode("utf-8", errors="strict"), "utf-8-sig")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return DecodedText(raw.decode("utf-16"), "utf-16")
    try:
        return DecodedText(raw.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw[:4096] and raw.count(b"\x00") > len(raw[:4096]) // 8:
        # Many NULs and no BOM: UTF-16 without a BOM, or a binary file.
        best = charset_normalizer.from_bytes(raw[:65536], cp_isolation=["utf_16_le", "utf_16_be"]).best()
        if best is None:
            raise UndecodableText("the file looks binary, not text")
        return DecodedText(raw.decode(best.encoding), best.encoding)
    best = charset_normalizer.from_bytes(raw).best()
    if best is None:
        raise UndecodableText("the file looks binary, not text")
    return DecodedText(str(best), best.encoding)


def normalise_text(text: str) -> str:
    """Return the canonical form of a document's text (see the module docstring).

    Idempotent: normalise_text(normalise_text(t)) == normalise_text(t).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace(_BOM, "")
    text = _CONTROL_CHARACTERS.sub("", text)
    return unicodedata.normalize("NFC", text)


def text_sha256(text: str) -> str:
    """Hex SHA-256 of the UTF-8 encoding of already normalised text (the dedupe key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
