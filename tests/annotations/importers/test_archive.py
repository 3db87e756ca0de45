from __future__ import annotations

import io
import struct
import zipfile

import pytest

from annotations.importers import ImportOptions, ParsedDocument, RowError, get_importer


def _zip(members: dict[str, bytes] | list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items() if isinstance(members, dict) else members:
            archive.writestr(name, content)
    return buffer.getvalue()


def _parse(raw: bytes, **options) -> tuple[list[ParsedDocument], list[RowError]]:
    items = list(get_importer("zip").parse(io.BytesIO(raw), "corpus.zip", ImportOptions(**options)))
    return [i for i in items if isinstance(i, ParsedDocument)], [i for i in items if isinstance(i, RowError)]


def test_a_mixed_archive_dispatches_each_member_and_pairs_brat_files(data):
    raw = _zip(
        {
            "2024/article.txt": (data / "article.txt").read_bytes(),
            "2024/article.html": (data / "article.html").read_bytes(),
            "2024/documents.jsonl": (data / "documents.jsonl").read_bytes(),
            "brat/statement.ann": (data / "brat" / "statement.ann").read_bytes(),
            "brat/statement.txt": (data / "brat" / "statement.txt").read_bytes(),
            "brat/annotation.conf": b"[entities]\nclaim\n",
            "__MACOSX/2024/._article.txt": b"\x00\x05\x16\x07",
            "2024/.DS_Store": b"\x00\x00\x00\x01Bud1",
        }
    )
    documents, errors = _parse(raw)
    assert [(d.source_name, d.line) for d in documents] == [
        ("corpus.zip:2024/article.txt", None),
        ("corpus.zip:2024/article.html", None),
        ("corpus.zip:2024/documents.jsonl", 1),
        ("corpus.zip:2024/documents.jsonl", 2),
        ("corpus.zip:2024/documents.jsonl", 6),
        ("corpus.zip:brat/statement.txt", None),
    ]
    assert [(e.source_name, e.line) for e in errors] == [
        ("corpus.zip:2024/documents.jsonl", 3),
        ("corpus.zip:2024/documents.jsonl", 4),
    ]
    assert len(documents[-1].sets[0].spans) == 3


def test_too_many_entries_is_refused_before_reading():
    documents, [error] = _parse(_zip({f"{n}.txt": b"Text." for n in range(5)}), max_archive_members=3)
    assert documents == []
    assert (error.source_name, error.reason) == ("corpus.zip", "the archive has 5 entries; the limit is 3")


def test_a_zip_bomb_is_refused_by_its_compression_ratio():
    documents, errors = _parse(_zip({"bomb.txt": b"\x20" * (4 * 1024 * 1024), "ok.txt": b"The vote is on Friday."}))
    assert [d.source_name for d in documents] == ["corpus.zip:ok.txt"]
    [error] = errors
    assert error.source_name == "corpus.zip:bomb.txt"
    assert "compressed" in error.reason and "zip bomb" in error.reason


def test_entries_over_the_per_file_and_total_limits_are_refused():
    documents, [error] = _parse(_zip({"big.txt": b"a b c " * 100, "ok.txt": b"Fine."}), max_member_bytes=500)
    assert [d.source_name for d in documents] == ["corpus.zip:ok.txt"]
    assert error.source_name == "corpus.zip:big.txt" and "limit per file is 500" in error.reason

    documents, [error] = _parse(_zip({"a.txt": b"a" * 600, "b.txt": b"b" * 600}), max_total_expanded_bytes=1000)
    assert documents == []
    assert error.source_name == "corpus.zip" and "expands to 1,200 bytes" in error.reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "the entry's path contains '..'"),
        ("notes/../../evil.txt", "the entry's path contains '..'"),
        ("/etc/evil.txt", "the entry has an absolute path"),
        ("C:\\Windows\\evil.txt", "the entry has an absolute path"),
    ],
)
def test_unsafe_paths_are_row_errors_and_the_rest_is_read(name, reason):
    documents, [error] = _parse(_zip([(zipfile.ZipInfo(name), b"Evil."), ("ok.txt", b"The vote is on Friday.")]))
    assert [d.source_name for d in documents] == ["corpus.zip:ok.txt"]
    assert error.reason == reason


def test_a_symlink_entry_is_a_row_error():
    link = zipfile.ZipInfo("link.txt")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    documents, [error] = _parse(_zip([(link, b"/etc/passwd"), ("ok.txt", b"Fine.")]))
    assert [d.source_name for d in documents] == ["corpus.zip:ok.txt"]
    assert (error.source_name, error.reason) == ("corpus.zip:link.txt", "the entry is a symbolic link")


def test_nested_archives_binary_members_unknown_types_and_lone_ann_files_are_reported():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    raw = _zip(
        {
            "inner.zip": _zip({"a.txt": b"A."}),
            "photo.txt": png,
            "slides.pptx": b"PK\x03\x04",
            "orphan.ann": b"T1\tclaim 0 1\tA\n",
            "ok.txt": b"Fine.",
        }
    )
    documents, errors = _parse(raw)
    assert [d.source_name for d in documents] == ["corpus.zip:ok.txt"]
    reasons = {e.source_name.split(":")[1]: e.reason for e in errors}
    assert reasons["inner.zip"] == "archives inside archives are not read"
    assert "PNG" in reasons["photo.txt"]
    assert "unsupported file type '.pptx'" in reasons["slides.pptx"]
    assert "needs orphan.txt" in reasons["orphan.ann"]


def test_a_file_that_is_not_a_zip_is_a_row_error():
    documents, [error] = _parse(b"not a zip at all")
    assert error.source_name == "corpus.zip" and "not a readable ZIP archive" in error.reason


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_an_unseekable_upload_is_spooled_and_read():
    stream = io.BufferedReader(_Unseekable(_zip({"a.txt": b"The vote is on Friday."})))
    items = list(get_importer("zip").parse(stream, "upload.zip", ImportOptions()))
    assert [item.source_name for item in items] == ["upload.zip:a.txt"]


def test_the_brat_importer_reads_pairs_from_a_zip(data):
    raw = _zip(
        {
            "statement.txt": (data / "brat" / "statement.txt").read_bytes(),
            "statement.ann": (data / "brat" / "statement.ann").read_bytes(),
        }
    )
    [document] = list(get_importer("brat").parse(io.BytesIO(raw), "pairs.zip", ImportOptions()))
    assert isinstance(document, ParsedDocument)
    assert document.source_name == "pairs.zip:statement.txt"


def test_a_member_that_lies_about_its_size_is_an_error_not_a_document():
    content = b"The vote is on Friday. " * 5000
    raw = bytearray(_zip({"lie.txt": content}))
    # Declare 100 bytes in both headers: zipfile stops there and the CRC check fails.
    raw = raw.replace(struct.pack("<I", len(content)), struct.pack("<I", 100))
    documents, [error] = _parse(bytes(raw))
    assert documents == []
    assert error.source_name == "corpus.zip:lie.txt" and "Bad CRC-32" in error.reason
