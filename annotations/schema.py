"""The label schema: labels, relation types and attributes a project allows.

Stored as JSON on Project.schema so managers can edit it; read through the
frozen dataclasses here, which validate spans, relations and attributes.
Pure: no ORM.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

ATTRIBUTE_TYPES = ("choice", "text", "boolean")
_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class SchemaError(ValueError):
    """A schema document that cannot be used; the message says which part and why."""


@dataclass(frozen=True)
class LabelDef:
    key: str
    name: str
    colour: str
    hotkey: str
    description: str = ""


@dataclass(frozen=True)
class RelationTypeDef:
    key: str
    name: str
    from_labels: tuple[str, ...]
    to_labels: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class AttributeDef:
    key: str
    name: str
    type: str
    on: tuple[str, ...]  # label keys, relation type keys, or "*" for any span or relation
    values: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Schema:
    labels: tuple[LabelDef, ...]
    relation_types: tuple[RelationTypeDef, ...]
    attributes: tuple[AttributeDef, ...] = field(default=())

    @property
    def label_keys(self) -> tuple[str, ...]:
        return tuple(label.key for label in self.labels)

    def label(self, key: str) -> LabelDef | None:
        return next((label for label in self.labels if label.key == key), None)

    def relation_type(self, key: str) -> RelationTypeDef | None:
        return next((rt for rt in self.relation_types if rt.key == key), None)

    def attributes_for(self, target: str) -> tuple[AttributeDef, ...]:
        return tuple(a for a in self.attributes if target in a.on or "*" in a.on)

    # --- validation ----------------------------------------------------------------

    def check_label(self, key: str) -> None:
        if self.label(key) is None:
            raise SchemaError(f"unknown label {key!r}; this project's labels are {', '.join(self.label_keys)}")

    def check_relation(self, type_key: str, from_label: str, to_label: str) -> None:
        relation_type = self.relation_type(type_key)
        if relation_type is None:
            known = ", ".join(rt.key for rt in self.relation_types)
            raise SchemaError(f"unknown relation type {type_key!r}; this project's are {known}")
        if from_label not in relation_type.from_labels or to_label not in relation_type.to_labels:
            raise SchemaError(
                f"a {type_key!r} link goes from {' or '.join(relation_type.from_labels)} "
                f"to {' or '.join(relation_type.to_labels)}, not from {from_label} to {to_label}"
            )

    def clean_attributes(self, target: str, attributes: Mapping[str, Any], *, require: bool = False) -> dict[str, Any]:
        """Validate attributes for a span label or relation type; return them cleaned.

        Empty values ("" or None) are dropped. Raises SchemaError naming the attribute.
        `require` enforces required attributes (on submit, not on every keystroke).
        """
        if not isinstance(attributes, Mapping):
            raise SchemaError("attributes must be an object of name → value")
        allowed = {a.key: a for a in self.attributes_for(target)}
        cleaned: dict[str, Any] = {}
        for name, value in attributes.items():
            definition = allowed.get(name)
            if definition is None:
                known = ", ".join(sorted(allowed)) or "none"
                raise SchemaError(f"attribute {name!r} is not defined for {target}; allowed: {known}")
            if value is None or value == "":
                continue
            if definition.type == "choice":
                if value not in definition.values:
                    raise SchemaError(
                        f"attribute {name!r} must be one of {', '.join(definition.values)}, not {value!r}"
                    )
            elif definition.type == "boolean":
                if not isinstance(value, bool):
                    raise SchemaError(f"attribute {name!r} must be true or false, not {value!r}")
            elif not isinstance(value, str) or len(value) > 2000:
                raise SchemaError(f"attribute {name!r} must be text of at most 2000 characters")
            cleaned[name] = value
        if require:
            missing = [a.key for a in allowed.values() if a.required and a.key not in cleaned]
            if missing:
                raise SchemaError(f"required attribute(s) missing on {target}: {', '.join(missing)}")
        return cleaned


def default_schema_document() -> dict[str, Any]:
    """The schema every new project starts with (DESIGN.md "The default schema")."""
    claim_like = ["claim", "counter-claim"]
    return {
        "labels": [
            {
                "key": "claim",
                "name": "Claim",
                "colour": "#1f5fbf",
                "hotkey": "1",
                "description": "A proposition put forward as true: assertion, accusation, characterisation, "
                "number, prediction.",
            },
            {
                "key": "attribution",
                "name": "Attribution",
                "colour": "#0f7b3f",
                "hotkey": "2",
                "description": "Who puts a claim forward, with the cue: 'the minister said', 'according to'.",
            },
            {
                "key": "counter-claim",
                "name": "Counter-claim",
                "colour": "#b3261e",
                "hotkey": "3",
                "description": "A proposition that disputes, denies or corrects another claim in the document.",
            },
        ],
        "relation_types": [
            {
                "key": "sources",
                "name": "sources",
                "from": ["attribution"],
                "to": claim_like,
                "description": "The attribution names who puts the claim forward.",
            },
            {
                "key": "disputes",
                "name": "disputes",
                "from": ["counter-claim"],
                "to": claim_like,
                "description": "The counter-claim disputes the claim.",
            },
        ],
        "attributes": [
            {"key": "quote", "name": "Quote", "type": "choice", "on": ["attribution"],
             "values": ["direct", "indirect", "mixed"]},
            {"key": "source_entity", "name": "Source entity", "type": "text", "on": ["attribution"]},
            {"key": "source_type", "name": "Source type", "type": "choice", "on": ["attribution"],
             "values": ["named_person", "named_organisation", "official_document", "anonymous", "vague", "author"]},
            {"key": "check_worthy", "name": "Check-worthy", "type": "choice", "on": claim_like,
             "values": ["yes", "no", "unsure"]},
            {"key": "claim_type", "name": "Claim type", "type": "choice", "on": claim_like,
             "values": ["quantity", "causal", "law_or_rule", "prediction", "personal_experience",
                        "characterisation", "other"]},
            {"key": "implicit_source", "name": "Implicit source", "type": "text", "on": claim_like},
            {"key": "hedged", "name": "Hedged", "type": "boolean", "on": claim_like},
        ],
    }  # fmt: skip


def parse_schema(document: Mapping[str, Any]) -> Schema:
    """Parse and check a stored schema document. Raises SchemaError saying what is wrong."""
    try:
        labels = tuple(
            LabelDef(
                key=str(item["key"]),
                name=str(item.get("name") or item["key"]),
                colour=str(item.get("colour", "#444444")),
                hotkey=str(item.get("hotkey", "")),
                description=str(item.get("description", "")),
            )
            for item in document["labels"]
        )
        relation_types = tuple(
            RelationTypeDef(
                key=str(item["key"]),
                name=str(item.get("name") or item["key"]),
                from_labels=tuple(item["from"]),
                to_labels=tuple(item["to"]),
                description=str(item.get("description", "")),
            )
            for item in document.get("relation_types", [])
        )
        attributes = tuple(
            AttributeDef(
                key=str(item["key"]),
                name=str(item.get("name") or item["key"]),
                type=str(item["type"]),
                on=tuple(item["on"]),
                values=tuple(str(v) for v in item.get("values", ())),
                required=bool(item.get("required", False)),
            )
            for item in document.get("attributes", [])
        )
    except (KeyError, TypeError) as error:
        raise SchemaError(f"schema is missing or has a malformed field: {error}") from None
    _check_schema(labels, relation_types, attributes)
    return Schema(labels=labels, relation_types=relation_types, attributes=attributes)


_PARSED_SCHEMAS: OrderedDict[Hashable, tuple[Any, Schema]] = OrderedDict()
_PARSED_SCHEMAS_MAX = 256
_parsed_schemas_lock = threading.Lock()


def parse_schema_cached(key: Hashable, document: Mapping[str, Any]) -> Schema:
    """parse_schema, remembered per key (a project) for as long as the document stays the same.

    Every write validates against the schema, and parsing it costs a write about as
    much as its INSERT. The cache holds a copy of the document it parsed and answers
    only while the stored document is still equal to it (a dict comparison, far cheaper
    than a parse), so a schema edit, saved by any path, is seen on the next lookup.
    """
    with _parsed_schemas_lock:
        entry = _PARSED_SCHEMAS.get(key)
        if entry is not None and entry[0] == document:
            _PARSED_SCHEMAS.move_to_end(key)
            return entry[1]
    parsed = parse_schema(document)
    snapshot = json.loads(json.dumps(document))  # a copy that later in-place edits of `document` cannot reach
    with _parsed_schemas_lock:
        _PARSED_SCHEMAS[key] = (snapshot, parsed)
        _PARSED_SCHEMAS.move_to_end(key)
        while len(_PARSED_SCHEMAS) > _PARSED_SCHEMAS_MAX:
            _PARSED_SCHEMAS.popitem(last=False)
    return parsed


def _check_schema(
    labels: tuple[LabelDef, ...], relation_types: tuple[RelationTypeDef, ...], attributes: tuple[AttributeDef, ...]
) -> None:
    if not labels:
        raise SchemaError("a schema needs at least one label")
    label_keys = [label.key for label in labels]
    for keys, what in ((label_keys, "label"), ([rt.key for rt in relation_types], "relation type")):
        if len(set(keys)) != len(keys):
            raise SchemaError(f"two {what}s share a key")
        for key in keys:
            if not _KEY.match(key):
                raise SchemaError(f"{what} key {key!r} must be lower-case letters, digits, '-' or '_'")
    hotkeys = [label.hotkey for label in labels if label.hotkey]
    if len(set(hotkeys)) != len(hotkeys):
        raise SchemaError("two labels share a hotkey")
    for label in labels:
        if not _COLOUR.match(label.colour):
            raise SchemaError(f"label {label.key!r}: colour must look like #1f5fbf")
        if label.hotkey and (len(label.hotkey) != 1 or label.hotkey in "?lLzZ"):
            raise SchemaError(f"label {label.key!r}: hotkey must be one character other than ?, L or Z")
    for relation_type in relation_types:
        unknown = set(relation_type.from_labels + relation_type.to_labels) - set(label_keys)
        if unknown:
            raise SchemaError(f"relation type {relation_type.key!r} names unknown labels: {', '.join(sorted(unknown))}")
    targets = set(label_keys) | {rt.key for rt in relation_types} | {"*"}
    for attribute in attributes:
        if attribute.type not in ATTRIBUTE_TYPES:
            raise SchemaError(f"attribute {attribute.key!r}: type must be one of {', '.join(ATTRIBUTE_TYPES)}")
        if attribute.type == "choice" and not attribute.values:
            raise SchemaError(f"attribute {attribute.key!r}: a choice needs values")
        if unknown_targets := set(attribute.on) - targets:
            raise SchemaError(f"attribute {attribute.key!r} is on unknown labels: {', '.join(sorted(unknown_targets))}")
