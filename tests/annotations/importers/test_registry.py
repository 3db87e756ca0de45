from __future__ import annotations

import pytest

from annotations.importers import DETECT_HEAD_BYTES, IMPORTERS, UnknownFormat, detect_format, get_importer


def test_the_registry_lists_every_format_once():
    assert sorted(IMPORTERS) == ["brat", "csv", "doccano", "html", "jsonl", "label_studio", "text", "zip"]
    for key, importer_class in IMPORTERS.items():
        assert importer_class.key == key
        assert importer_class.label
        assert all(
            extension.startswith(".") and extension == extension.lower() for extension in importer_class.extensions
        )


def test_get_importer_returns_an_instance_and_refuses_unknown_keys():
    assert get_importer("csv").key == "csv"
    with pytest.raises(UnknownFormat, match="unknown import format 'xlsx'"):
        get_importer("xlsx")
    assert issubclass(UnknownFormat, ValueError)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("article.txt", "text"),
        ("article.html", "html"),
        ("documents.jsonl", "jsonl"),
        ("doccano.jsonl", "doccano"),
        ("documents.csv", "csv"),
        ("label_studio.json", "label_studio"),
        ("brat/statement.ann", "brat"),
    ],
)
def test_detect_format_recognises_each_sample(data, name, key):
    assert detect_format(name, (data / name).read_bytes()[:DETECT_HEAD_BYTES]) == key


def test_detect_format_recognises_a_zip():
    assert detect_format("corpus.ZIP", b"PK\x03\x04rest") == "zip"
    with pytest.raises(UnknownFormat, match="not a ZIP archive"):
        detect_format("corpus.zip", b"plain text")


def test_a_jsonl_whose_first_record_is_longer_than_the_head_is_judged_by_its_keys():
    head = b'{"uuid": "5f1c9a0e-2b7d-4c1e-9a51-3d2f7e8b6c10", "text": "' + b"x" * 100
    assert detect_format("big.jsonl", head) == "jsonl"
    assert detect_format("big.jsonl", b'{"label": [[0, 1, "claim"]], "text": "' + b"x" * 100) == "doccano"


@pytest.mark.parametrize(
    ("name", "head", "message"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        ("data.txt", b"\x00\x01\x02\x03\xff\xfe\x00\x00\x10\x00" * 10, "a binary file"),
        ("report.pdf", b"%PDF-1.7", "unsupported file type '.pdf'"),
        ("noext", b"text", "unsupported file type '(no extension)'"),
        ("tasks.json", b'{"data": {"text": "x"}}', "expected a JSON list of tasks"),
        ("tasks.json", b'[{"text": "x"}]', 'the first task has no "data" object'),
        ("tasks.json", b"[1, 2]", "holds no task objects"),
        ("rows.jsonl", b"[1, 2]\n", "not JSON Lines"),
    ],
)
def test_detect_format_explains_what_is_wrong(name, head, message):
    with pytest.raises(UnknownFormat, match=message.replace("(", r"\(").replace(")", r"\)")):
        detect_format(name, head)


def test_utf16_files_are_not_mistaken_for_binary():
    assert detect_format("article.txt", "Депутат заявил.".encode("utf-16")) == "text"
    assert detect_format("article.txt", "The deputy said so.".encode("utf-16-le")) == "text"
    assert detect_format("article.txt", "Депутат заявил, что «нет».".encode("utf-16-le")) == "text"
