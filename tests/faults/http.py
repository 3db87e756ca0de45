"""Clients of a live server, as the annotation page's script and an API client talk to it."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import requests

WORDS = [f"word{n:03d}" for n in range(400)]
TEXT = "The analysts marked these words. " + " ".join(WORDS) + "."


def word_span(index: int) -> dict[str, Any]:
    """A claim over one word of TEXT (word-aligned, so snapping to words changes nothing)."""
    word = WORDS[index]
    start = TEXT.index(word)
    return {"label": "claim", "start": start, "end": start + len(word), "quote": word, "uuid": str(uuid.uuid4())}


def page_session(base_url: str, session_id: str) -> requests.Session:
    """The annotation page's fetch: session cookie, CSRF cookie and header, JSON."""
    session = requests.Session()
    csrf = secrets.token_hex(16)  # a 32-character secret: what the csrftoken cookie holds
    host = base_url.split("//", 1)[1].split(":", 1)[0]
    session.cookies.set("sessionid", session_id, domain=host)
    session.cookies.set("csrftoken", csrf, domain=host)
    session.headers.update({"X-CSRFToken": csrf, "Accept": "application/json"})
    return session


def api_session(secret: str) -> requests.Session:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {secret}", "Accept": "application/json"})
    return session


@dataclass
class Outcome:
    status: int
    body: Any
    content_type: str


def _outcome(response: requests.Response) -> Outcome:
    content_type = response.headers.get("Content-Type", "")
    body = response.json() if "json" in content_type else response.text
    return Outcome(response.status_code, body, content_type)


def save_on_page(session: requests.Session, base_url: str, set_id: int, span: dict[str, Any], version: int) -> Outcome:
    response = session.post(
        f"{base_url}/annotate/{set_id}/spans/", json={**span, "expected_version": version}, timeout=30
    )
    return _outcome(response)


def save_by_api(session: requests.Session, base_url: str, set_id: int, span: dict[str, Any], version: int) -> Outcome:
    response = session.post(
        f"{base_url}/api/v1/sets/{set_id}/spans/", json=span, headers={"If-Match": f'"{version}"'}, timeout=30
    )
    return _outcome(response)


def set_state(session: requests.Session, base_url: str, set_id: int) -> tuple[int, set[str]] | None:
    """The set's version (ETag) and its span uuids through the API; None while the server cannot answer."""
    uuids: set[str] = set()
    url: str | None = f"{base_url}/api/v1/sets/{set_id}/spans/?page_size=500"
    version = 0
    while url:
        response = session.get(url, timeout=30)
        if response.status_code != 200:
            return None
        version = int(response.headers["ETag"].strip('"'))
        page = response.json()
        uuids |= {span["uuid"] for span in page["results"]}
        url = page.get("next")
    return version, uuids
