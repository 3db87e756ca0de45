"""A file storage that fills up: for machines where the test cannot mount a tiny tmpfs (not root)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

from django.core.files import File
from django.core.files.storage import FileSystemStorage

LIMIT_BYTES = 64 * 1024


class _Capped(File):
    """Yields the content's chunks until LIMIT_BYTES have gone out, then fails as a full disk does."""

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        written = 0
        for chunk in self.file.chunks(chunk_size):
            if written + len(chunk) > LIMIT_BYTES:
                raise OSError(errno.ENOSPC, "No space left on device")
            written += len(chunk)
            yield chunk


class FullDiskStorage(FileSystemStorage):
    """FileSystemStorage on a disk with LIMIT_BYTES free: the file is written up to there, then ENOSPC."""

    def _save(self, name: str, content: Any) -> str:
        return super()._save(name, _Capped(content, name))
