"""span_create_input: the shortcut for plainly valid span bodies gives exactly what SpanCreateSerializer gives."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from annotations.api import serializers
from annotations.api.serializers import SpanCreateSerializer, _span_create_plainly_valid, span_create_input

VALID = {"label": "claim", "start": 0, "end": 7, "quote": "Article"}
CHOSEN_UUID = "0b8e7a4e-5d2c-4c1a-9f1e-3f2b6c7d8e9f"

BODIES: list[dict[str, Any]] = [
    VALID,
    {**VALID, "uuid": CHOSEN_UUID},
    {**VALID, "uuid": CHOSEN_UUID.replace("-", "")},
    {**VALID, "uuid": CHOSEN_UUID.upper()},
    {**VALID, "uuid": "{" + CHOSEN_UUID + "}"},
    {**VALID, "uuid": "urn:uuid:" + CHOSEN_UUID},
    {**VALID, "uuid": "not-a-uuid"},
    {**VALID, "uuid": ""},
    {**VALID, "uuid": None},
    {**VALID, "uuid": 12345},
    {**VALID, "attributes": {"check_worthy": "yes", "hedged": True, "nested": {"a": [1, None]}}},
    {**VALID, "attributes": {}},
    {**VALID, "attributes": None},
    {**VALID, "attributes": []},
    {**VALID, "attributes": "x"},
    {**VALID, "note": "a note\twith\ntabs"},
    {**VALID, "note": ""},
    {**VALID, "note": "   "},
    {**VALID, "note": None},
    {**VALID, "note": 5},
    {**VALID, "note": "nul\x00"},
    {**VALID, "note": "lone \ud800 surrogate"},
    {**VALID, "note": "Cyrillic заявление «quoted» 🙂"},
    {**VALID, "label": "  claim  "},
    {**VALID, "label": "\x1fclaim\x1c"},
    {**VALID, "label": ""},
    {**VALID, "label": "   "},
    {**VALID, "label": "x" * 40},
    {**VALID, "label": "x" * 41},
    {**VALID, "label": " " * 30 + "x" * 40 + " " * 30},
    {**VALID, "label": "x" * 1000},
    {**VALID, "label": 7},
    {**VALID, "label": 7.5},
    {**VALID, "label": True},
    {**VALID, "label": None},
    {**VALID, "label": ["claim"]},
    {**VALID, "label": "cl\x00aim"},
    {**VALID, "label": "заявка"},
    {**VALID, "label": "\udfff"},
    {**VALID, "start": -1},
    {**VALID, "start": 2**31 - 1, "end": 2**31 - 1},
    {**VALID, "start": 2**31},
    {**VALID, "end": 2**63},
    {**VALID, "start": "3"},
    {**VALID, "start": "3.0"},
    {**VALID, "start": 3.0},
    {**VALID, "start": 3.5},
    {**VALID, "start": True},
    {**VALID, "start": None},
    {**VALID, "start": "1" * 1001},
    {**VALID, "end": [7]},
    {**VALID, "quote": ""},
    {**VALID, "quote": "  "},
    {**VALID, "quote": " Article "},
    {**VALID, "quote": 7},
    {**VALID, "quote": None},
    {**VALID, "quote": "a\x00b"},
    {**VALID, "quote": "emoji 🙂 and combining é"},
    {**VALID, "quote": "x" * 5_000_000},
    {**VALID, "quote": "x" * 5_000_001},
    {**VALID, "unknown": "ignored"},
    {"start": 0, "end": 7, "quote": "Article"},
    {"label": "claim", "end": 7, "quote": "Article"},
    {"label": "claim", "start": 0, "quote": "Article"},
    {"label": "claim", "start": 0, "end": 7},
    {},
]


def through_serializer(body: dict[str, Any]) -> tuple[bool, Any]:
    serializer = SpanCreateSerializer(data=body)
    if serializer.is_valid():
        return True, serializer.validated_data
    return False, serializer.errors


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_shortcut_accepts_only_what_the_serializer_accepts_and_returns_the_same_data(body):
    shortcut = _span_create_plainly_valid(body)
    valid, expected = through_serializer(body)
    if shortcut is not None:
        assert valid
        assert shortcut == dict(expected)
        assert list(shortcut) == list(expected)  # same keys, same order
        assert {key: type(value) for key, value in shortcut.items()} == {
            key: type(value) for key, value in expected.items()
        }


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_span_create_input_answers_as_the_serializer_does(body):
    valid, expected = through_serializer(body)
    if valid:
        assert span_create_input(body) == dict(expected)
    else:
        with pytest.raises(ValidationError) as raised:
            span_create_input(body)
        assert raised.value.detail == expected
        assert raised.value.get_codes() == ValidationError(expected).get_codes()


@pytest.mark.parametrize(
    "body",
    [
        VALID,
        {**VALID, "uuid": CHOSEN_UUID},
        {**VALID, "attributes": {"check_worthy": "yes"}, "note": "Cyrillic заявление 🙂"},
        {**VALID, "label": " claim "},
    ],
)
def test_an_ordinary_body_takes_the_shortcut(body, monkeypatch):
    def no_serializer(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the serializer was built for a plainly valid body")

    monkeypatch.setattr(serializers, "SpanCreateSerializer", no_serializer)
    data = span_create_input(body)
    assert data["label"] == "claim"
    assert data.get("uuid") in (None, uuid.UUID(CHOSEN_UUID))


def test_the_attributes_are_a_copy_not_the_request_body():
    attributes = {"check_worthy": "yes"}
    assert span_create_input({**VALID, "attributes": attributes})["attributes"] is not attributes
