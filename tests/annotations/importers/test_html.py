from __future__ import annotations

import socket

import pytest


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (DESIGN rule 5: imports fetch nothing)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the importer tried to use the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_html_main_text_and_metadata_are_extracted_without_fetching(parse, data, no_network):
    raw = (data / "article.html").read_bytes()
    [document], errors = parse("html", raw, "article.html")
    assert errors == []
    assert document.title == "Ministry denies plans to halt grain exports"
    assert document.metadata == {
        "source_url": "https://herald.example/politics/grain-exports",
        "outlet": "Steppe Herald",
        "author": "Dana Omarova",
        "published": "2024-03-04",
        "language": "en",
        "external_id": None,
    }
    assert "«grain exports will continue without interruption»" in document.text
    assert "📉" in document.text
    assert "Ведомство назвало эти сообщения «фейком»" in document.text
    assert "Home" not in document.text  # navigation
    assert "All rights reserved" not in document.text  # footer
    assert document.removed_lines == ("Share",)
    assert document.raw_source == raw


def test_a_page_without_an_article_is_a_row_error(parse, no_network):
    documents, [error] = parse("html", b"<html><body><script>track()</script><img src=x></body></html>", "empty.html")
    assert documents == []
    assert error.reason == "no article text found in the HTML"


def test_a_script_url_is_not_kept_as_the_source_url(parse, no_network):
    paragraph = "<p>The speaker of parliament said that the session will open on Monday as planned.</p>" * 3
    page = (
        '<html><head><link rel="canonical" href="javascript:alert(1)"><title>Session</title></head>'
        f"<body><article>{paragraph}</article></body></html>"
    )
    [document], _ = parse("html", page.encode(), "session.html")
    assert document.metadata["source_url"] is None


def test_windows_1251_html_is_decoded(parse, no_network):
    paragraph = "<p>Министр заявил, что «экспорт зерна продолжится без перебоев», и опроверг слухи о запрете.</p>"
    page = (
        '<html lang="ru"><head><meta charset="windows-1251"><title>Экспорт</title></head>'
        f"<body><article>{paragraph * 3}</article></body></html>"
    )
    [document], _ = parse("html", page.encode("cp1251"), "export.html")
    assert "«экспорт зерна продолжится без перебоев»" in document.text
    assert document.metadata["language"] == "ru"


def test_a_copyright_year_is_not_taken_for_the_publication_date(parse, no_network):
    paragraph = "<p>The speaker of parliament said that the session will open on Monday as planned.</p>" * 3
    page = f"<html><body><article>{paragraph}</article><footer>© 2021 Steppe Herald</footer></body></html>"
    [document], _ = parse("html", page.encode(), "undated.html")
    assert document.metadata["published"] is None
