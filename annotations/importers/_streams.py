"""Reading uploaded bytes safely: size limits, encoding sniffing, streaming lines and JSON arrays.

Private helpers for the format modules. Nothing here touches the network or
the disk (beyond the caller's own stream).
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from annotations.importers.base import LimitExceeded
from annotations.text import UndecodableText, decode_bytes

SNIFF_BYTES = 64 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# Signatures of binary files that people upload by mistake, for a clear message.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/Excel file)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
    (b"\x7fELF", "a program"),
)


def describe_binary(head: bytes) -> str | None:
    """Say what binary file `head` starts, or None if it may be text.

    A known signature names the kind of file. Otherwise NUL bytes mean binary,
    except with a BOM or when they all sit on one byte parity (UTF-16 without
    a BOM). None is not a promise of text: decoding has the last word.
    """
    for magic, description in _MAGIC:
        if head.startswith(magic):
            return description
    if head.startswith((_UTF8_BOM, *_UTF16_BOMS)):
        return None
    sample = head[:4096]
    if b"\x00" not in sample:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    # UTF-16 without a BOM puts the NULs of ASCII characters on one parity only;
    # binary data scatters them. Decoding has the last word either way.
    if min(even_nuls, odd_nuls) <= len(sample) // 200:
        return None
    return "a binary file"


def utf16_without_bom(head: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" when the bytes look like BOM-less UTF-16, else None.

    Needed because such text can be valid UTF-8: Cyrillic in UTF-16-LE is
    pairs like 0x14 0x04, all below 0x80, which would decode to control
    characters and vanish in normalisation. The tell is one byte parity
    dominated by a single control-range byte (the high byte of one script).
    """
    sample = head[:4096]
    if len(sample) < 8 or sample.startswith((_UTF8_BOM, *_UTF16_BOMS)):
        return None
    for codec, high_bytes in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
        most_common = max(set(high_bytes), key=high_bytes.count)
        if (
            most_common < 0x20
            and most_common not in b"\t\n\r"
            and high_bytes.count(most_common) > len(high_bytes) * 0.3
        ):
            try:
                sample[: len(sample) // 2 * 2].decode(codec)
            except UnicodeDecodeError:
                continue
            return codec
    return None


def read_limited(stream: BinaryIO, limit: int, what: str = "the file") -> bytes:
    """Read a whole stream, refusing (LimitExceeded) to hold more than `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise LimitExceeded(f"{what} is larger than the limit of {limit:,} bytes")
    return data


class PrefixedReader(io.RawIOBase):
    """A binary stream that yields `head` and then the rest of `stream` (after sniffing its start)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(view), len(self._head))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


def prepend(head: bytes, stream: BinaryIO) -> BinaryIO:
    """Put bytes already read back in front of a stream (which may not be seekable)."""
    return cast(BinaryIO, io.BufferedReader(PrefixedReader(head, stream)))


def sniff_encoding(head: bytes) -> str:
    """Choose the codec for a streamed text file from its first bytes.

    Returns "utf-8-sig" or "utf-16" for a BOM, "utf-8" when the head is valid
    UTF-8 (a character cut at the end is fine), else what
    `annotations.text.decode_bytes` detects. Raises UndecodableText for binary data.
    """
    if head.startswith(_UTF8_BOM):
        return "utf-8-sig"
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    binary = describe_binary(head)
    if binary is not None:
        raise UndecodableText(f"this is {binary}, not text")
    bomless = utf16_without_bom(head)
    if bomless is not None:
        return bomless
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    cut = head.rfind(b"\n")
    return decode_bytes(head[: cut + 1] if cut > 0 else head).encoding


def decode_head(head: bytes) -> str:
    """Best-effort text of a file's first bytes, for format detection only."""
    encoding = sniff_encoding(head)
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def _is_utf16(encoding: str) -> bool:
    return codecs.lookup(encoding).name.startswith("utf-16")


@dataclass(frozen=True, slots=True)
class Line:
    """One physical line of a text file: its bytes and, unless they do not decode, its text (terminator kept)."""

    number: int
    raw: bytes
    text: str | None


def iter_lines(stream: BinaryIO, *, limit: int) -> Iterator[Line]:
    """Stream the lines of a text file in whatever encoding it uses, without reading it all.

    Raises UndecodableText (before the first line) for a binary file, and
    LimitExceeded once more than `limit` bytes have been read.
    """
    head = stream.read(SNIFF_BYTES)
    encoding = sniff_encoding(head)
    reader = cast(BinaryIO, io.BufferedReader(PrefixedReader(head, stream), buffer_size=SNIFF_BYTES))
    if _is_utf16(encoding):
        yield from _iter_utf16_lines(reader, encoding, limit, head)
        return
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    # A pure-ASCII head is no evidence of the encoding: a later line that is
    # not UTF-8 gets its own detection rather than a guaranteed error.
    head_is_ascii = head.isascii()
    total = 0
    for number, raw in enumerate(reader, start=1):
        total += len(raw)
        if total > limit:
            raise LimitExceeded(f"the file is larger than the limit of {limit:,} bytes")
        if number == 1 and raw.startswith(_UTF8_BOM):
            raw = raw[len(_UTF8_BOM) :]
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            text = None
            if head_is_ascii:
                try:
                    text = decode_bytes(raw).text
                except UndecodableText:
                    text = None
        yield Line(number, raw, text)


def _iter_utf16_lines(reader: BinaryIO, encoding: str, limit: int, head: bytes) -> Iterator[Line]:
    text_stream = io.TextIOWrapper(reader, encoding=encoding, newline="")
    # Re-encoding a line gives its original bytes back; the BOM belongs to the file, not to line 1.
    byte_order = encoding
    if encoding == "utf-16":
        byte_order = "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be"
    total = 0
    number = 0
    while True:
        try:
            text = text_stream.readline()
        except UnicodeDecodeError:
            yield Line(number + 1, b"", None)
            return
        if not text:
            return
        number += 1
        raw = text.encode(byte_order)
        total += len(raw)
        if total > limit:
            raise LimitExceeded(f"the file is larger than the limit of {limit:,} bytes")
        yield Line(number, raw, text)


@dataclass(frozen=True, slots=True)
class JsonItem:
    """One element of a top-level JSON array, with the line it starts on and its source text."""

    index: int
    line: int
    value: Any
    source: str


class JsonArrayError(ValueError):
    """The top-level JSON is not an array, or an element is malformed; `line` says where."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def iter_json_array(stream: BinaryIO, *, limit: int, chunk_size: int = SNIFF_BYTES) -> Iterator[JsonItem]:
    """Yield the elements of a top-level JSON array one by one, holding one element at a time.

    A malformed element ends the stream with JsonArrayError: after a syntax
    error there is no reliable way to find where the next element starts.
    Raises UndecodableText for binary data and LimitExceeded past `limit` bytes.
    """
    return _JsonArrayReader(stream, limit=limit, chunk_size=chunk_size).items()


class _JsonArrayReader:
    def __init__(self, stream: BinaryIO, *, limit: int, chunk_size: int) -> None:
        self._stream = stream
        self._limit = limit
        self._chunk_size = chunk_size
        head = stream.read(SNIFF_BYTES)
        self._decoder = codecs.getincrementaldecoder(sniff_encoding(head))()
        self._bytes_read = len(head)
        self._eof = False
        self._buffer = self._decoder.decode(head, final=False).removeprefix("\ufeff")
        self._position = 0
        self._line = 1

    def _read_more(self, minimum: int) -> None:
        """Drop what is consumed and append at least `minimum` more bytes' worth of text (or reach the end)."""
        pieces = [self._buffer[self._position :]]
        wanted = max(minimum, self._chunk_size)
        while wanted > 0 and not self._eof:
            data = self._stream.read(wanted)
            self._bytes_read += len(data)
            if self._bytes_read > self._limit:
                raise LimitExceeded(f"the file is larger than the limit of {self._limit:,} bytes")
            if not data:
                self._eof = True
                pieces.append(self._decoder.decode(b"", final=True))
            else:
                pieces.append(self._decoder.decode(data, final=False))
                wanted -= len(data)
        self._buffer = "".join(pieces)
        self._position = 0

    def _skip_whitespace(self) -> str | None:
        """Move past whitespace and return the next character, or None at the end of the input."""
        while True:
            buffer = self._buffer
            position = self._position
            while position < len(buffer) and buffer[position] in " \t\r\n":
                if buffer[position] == "\n":
                    self._line += 1
                position += 1
            self._position = position
            if position < len(buffer):
                return buffer[position]
            if self._eof:
                return None
            self._read_more(self._chunk_size)

    def _decode_element(self, index: int) -> tuple[Any, str]:
        decoder = json.JSONDecoder()
        while True:
            try:
                value, end = decoder.raw_decode(self._buffer, self._position)
            except json.JSONDecodeError as error:
                if self._eof:
                    raise JsonArrayError(f"element {index} is not valid JSON: {error.msg}", self._line) from None
                self._read_more(len(self._buffer) - self._position)
                continue
            if end == len(self._buffer) and not self._eof:
                # A number or literal may go on in the next chunk: read on and parse again.
                self._read_more(self._chunk_size)
                continue
            source = self._buffer[self._position : end]
            self._position = end
            return value, source

    def items(self) -> Iterator[JsonItem]:
        if self._skip_whitespace() != "[":
            raise JsonArrayError("the file is not a JSON array (it should start with '[')", self._line)
        self._position += 1
        index = 0
        following = self._skip_whitespace()
        if following == "]":
            self._position += 1
        while following != "]":
            if following is None:
                raise JsonArrayError("the JSON array is not closed (missing ']')", self._line)
            index += 1
            start_line = self._line
            value, source = self._decode_element(index)
            self._line += source.count("\n")
            yield JsonItem(index=index, line=start_line, value=value, source=source)
            following = self._skip_whitespace()
            if following == "]":
                self._position += 1
            elif following == ",":
                self._position += 1
                following = self._skip_whitespace()
                if following == "]":
                    raise JsonArrayError(f"a comma after element {index} is followed by ']'", self._line)
            elif following is not None:
                raise JsonArrayError(f"expected ',' or ']' after element {index}", self._line)
        if self._skip_whitespace() is not None:
            raise JsonArrayError("unexpected text after the closing ']'", self._line)
