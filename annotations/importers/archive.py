"""ZIP archives of documents in any of the other formats, mixed.

Members are read in memory through `zipfile`, never extracted to disk by
name (DESIGN rule 6), with limits from `ImportOptions`:

- the number of entries (`max_archive_members`), checked before reading;
- each member's expanded size (`max_member_bytes`) and the archive's total
  (`max_total_expanded_bytes`), checked against the sizes the archive
  declares and again while reading, since a hostile archive can lie;
- the compression ratio (`max_compression_ratio`) of members over 64 KiB:
  article text compresses perhaps 5:1, a zip bomb 1000:1.

A member with an absolute path, a ".." component, a symlink mode, a NUL in
its name or encryption is reported and skipped. Directories, `__MACOSX/`,
dotfiles and brat's `.conf` files are skipped silently. `dir/x.txt` with
`dir/x.ann` is a brat pair; every other member goes to the importer that
`detect_format` picks from its name and first bytes. Nested archives are
refused. Problems are reported against "archive.zip:dir/file.txt".
"""

from __future__ import annotations

import dataclasses
import io
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, BinaryIO, ClassVar, cast

from annotations.importers._streams import SNIFF_BYTES, prepend, read_limited
from annotations.importers.base import (
    ImporterBase,
    ImportOptions,
    LimitExceeded,
    MiB,
    ParsedDocument,
    RowError,
    UnknownFormat,
)
from annotations.importers.brat import parse_pair

# Below this size a high ratio is harmless (and common for tiny repetitive files).
RATIO_CHECK_MIN_BYTES = 64 * 1024
_SPOOL_IN_MEMORY_BYTES = 16 * MiB
_SKIPPED_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini"})
_DRIVE = re.compile(r"^[A-Za-z]:")
# Errors zipfile and zlib raise on a damaged or hostile member.
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError)


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a member must not be read, or None. Checks the name as stored, before zipfile tidies it."""
    stored = info.orig_filename
    if "\x00" in stored:
        return "the entry name contains a NUL byte"
    name = stored.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        return "the entry has an absolute path"
    if ".." in name.split("/"):
        return "the entry's path contains '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "the entry is a symbolic link"
    if info.flag_bits & 0x1:
        return "the entry is encrypted"
    return None


def is_skipped(info: zipfile.ZipInfo) -> bool:
    """Directories and the debris archivers add: macOS forks, dotfiles, brat's configuration."""
    if info.is_dir():
        return True
    parts = [part for part in info.filename.split("/") if part not in ("", ".")]
    if any(part.startswith(".") or part.lower() in _SKIPPED_NAMES for part in parts):
        return True
    return info.filename.lower().endswith(".conf")


def size_reason(info: zipfile.ZipInfo, options: ImportOptions) -> str | None:
    if info.file_size > options.max_member_bytes:
        return f"the entry expands to {info.file_size:,} bytes; the limit per file is {options.max_member_bytes:,}"
    if info.file_size > RATIO_CHECK_MIN_BYTES:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > options.max_compression_ratio:
            return (
                f"the entry is compressed {ratio:,.0f}:1, above the limit of "
                f"{options.max_compression_ratio:,.0f}:1 (a zip bomb?)"
            )
    return None


class _Budget:
    """Bytes the whole archive may still expand to."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.remaining = total

    @property
    def exhausted(self) -> bool:
        return self.remaining < 0


class _BoundedReader(io.RawIOBase):
    """A member's stream that stops (LimitExceeded) past its own limit or the archive's budget."""

    def __init__(self, stream: BinaryIO, limit: int, budget: _Budget) -> None:
        super().__init__()
        self._stream = stream
        self._left = limit
        self._limit = limit
        self._budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._stream.read(min(len(view), self._left + 1))
        self._left -= len(data)
        self._budget.remaining -= len(data)
        if self._left < 0:
            raise LimitExceeded(f"the entry expands past the limit of {self._limit:,} bytes per file")
        if self._budget.remaining < 0:
            raise LimitExceeded(f"the archive expands past the limit of {self._budget.total:,} bytes in total")
        view[: len(data)] = data
        return len(data)


def _seekable(stream: BinaryIO, limit: int) -> tuple[BinaryIO, bool]:
    """zipfile needs to seek (the directory is at the end): spool a stream that cannot.

    Returns the stream to read and whether it is a spool the caller must close.
    """
    if stream.seekable():
        position = stream.tell()
        size = stream.seek(0, io.SEEK_END) - position
        stream.seek(position)
        if size > limit:
            raise LimitExceeded(f"the archive is larger than the limit of {limit:,} bytes")
        return stream, False
    # Not a context manager: the spool outlives this function; ArchiveImporter.parse closes it.
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
    copied = 0
    while chunk := stream.read(MiB):
        copied += len(chunk)
        if copied > limit:
            spool.close()
            raise LimitExceeded(f"the archive is larger than the limit of {limit:,} bytes")
        spool.write(chunk)
    spool.seek(0)
    return cast(BinaryIO, spool), True


class ArchiveImporter(ImporterBase):
    key: ClassVar[str] = "zip"
    label: ClassVar[str] = "ZIP archive (of any of these formats)"
    extensions: ClassVar[tuple[str, ...]] = (".zip",)

    def parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        try:
            archive_file, spooled = _seekable(stream, options.max_file_bytes)
        except LimitExceeded as error:
            yield RowError(source_name, None, str(error))
            return
        try:
            try:
                archive = zipfile.ZipFile(archive_file)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
                yield RowError(source_name, None, f"not a readable ZIP archive: {error}")
                return
            with archive:
                yield from self._parse_archive(archive, source_name, options)
        finally:
            if spooled:
                archive_file.close()

    def count_hint(self, stream: BinaryIO) -> int | None:
        return None

    def _parse_archive(
        self, archive: zipfile.ZipFile, source_name: str, options: ImportOptions
    ) -> Iterator[ParsedDocument | RowError]:
        infos = archive.infolist()
        if len(infos) > options.max_archive_members:
            yield RowError(
                source_name,
                None,
                f"the archive has {len(infos):,} entries; the limit is {options.max_archive_members:,}",
            )
            return
        declared = sum(info.file_size for info in infos)
        if declared > options.max_total_expanded_bytes:
            yield RowError(
                source_name,
                None,
                f"the archive expands to {declared:,} bytes; the limit is {options.max_total_expanded_bytes:,}",
            )
            return

        accepted: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            member_name = f"{source_name}:{info.filename}"
            reason = unsafe_reason(info)
            if reason is None and is_skipped(info):
                continue
            if reason is None and info.filename in accepted:
                reason = "the archive holds two entries with this name"
            reason = reason or size_reason(info, options)
            if reason is not None:
                yield RowError(member_name, None, reason)
                continue
            accepted[info.filename] = info

        member_options = dataclasses.replace(
            options, max_file_bytes=min(options.max_file_bytes, options.max_member_bytes)
        )
        budget = _Budget(options.max_total_expanded_bytes)
        done: set[str] = set()
        for name, info in accepted.items():
            if name in done:
                continue
            path = PurePosixPath(name)
            suffix = path.suffix.lower()
            stem = str(path.with_suffix(""))
            pair = {ext: accepted.get(stem + ext) or accepted.get(stem + ext.upper()) for ext in (".txt", ".ann")}
            if suffix == ".ann" or (suffix == ".txt" and pair[".ann"] is not None):
                txt_info, ann_info = pair[".txt"], pair[".ann"]
                if txt_info is None or ann_info is None:
                    yield RowError(f"{source_name}:{name}", None, f"a brat .ann file needs {path.stem}.txt beside it")
                    continue
                done.update((txt_info.filename, ann_info.filename))
                yield from self._parse_pair(archive, txt_info, ann_info, source_name, member_options, budget)
            else:
                yield from self._parse_member(archive, info, source_name, member_options, budget)
            if budget.exhausted:
                yield RowError(source_name, None, "stopped reading: the archive expands past its total size limit")
                return

    def _open(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, options: ImportOptions, budget: _Budget
    ) -> BinaryIO:
        member = cast(BinaryIO, archive.open(info))
        return cast(BinaryIO, io.BufferedReader(_BoundedReader(member, options.max_file_bytes, budget)))

    def _parse_pair(
        self,
        archive: zipfile.ZipFile,
        txt_info: zipfile.ZipInfo,
        ann_info: zipfile.ZipInfo,
        source_name: str,
        options: ImportOptions,
        budget: _Budget,
    ) -> Iterator[ParsedDocument | RowError]:
        txt_name, ann_name = f"{source_name}:{txt_info.filename}", f"{source_name}:{ann_info.filename}"
        contents: list[bytes] = []
        for info, name in ((txt_info, txt_name), (ann_info, ann_name)):
            try:
                with self._open(archive, info, options, budget) as member:
                    contents.append(read_limited(member, options.max_file_bytes))
            except LimitExceeded as error:
                yield RowError(name, None, str(error))
                return
            except _MEMBER_ERRORS as error:
                yield RowError(name, None, f"could not read this entry: {error}")
                return
        yield from parse_pair(contents[0], contents[1], txt_name, ann_source_name=ann_name, options=options)

    def _parse_member(
        self,
        archive: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        source_name: str,
        options: ImportOptions,
        budget: _Budget,
    ) -> Iterator[ParsedDocument | RowError]:
        # Imported here because the registry imports this module.
        from annotations.importers import detect_format, get_importer

        member_name = f"{source_name}:{info.filename}"
        try:
            with self._open(archive, info, options, budget) as member:
                head = member.read(SNIFF_BYTES)
                try:
                    key = detect_format(info.filename, head)
                except UnknownFormat as error:
                    yield RowError(member_name, None, str(error))
                    return
                if key in (self.key, "brat"):
                    reason = "archives inside archives are not read" if key == self.key else "no .txt beside it"
                    yield RowError(member_name, None, reason)
                    return
                yield from get_importer(key).parse(prepend(head, member), member_name, options)
        except LimitExceeded as error:
            yield RowError(member_name, None, str(error))
        except _MEMBER_ERRORS as error:
            yield RowError(member_name, None, f"could not read this entry: {error}")
