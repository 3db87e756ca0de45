from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyld import jsonld

from annotations.exporters.w3c import CONTEXT
from tests.annotations.exporters.conftest import run_export

OA = "http://www.w3.org/ns/oa#"
CONTEXT_FILE = Path(__file__).parent / "data" / "anno.jsonld"


def _local_loader(url: str, options: Any = None) -> dict[str, Any]:
    # The context comes from the bundled copy; any other URL is a test failure, never a fetch.
    assert url == CONTEXT, f"the export asked for {url}"
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": json.loads(CONTEXT_FILE.read_text()),
    }


def _annotations(data: bytes) -> list[dict[str, Any]]:
    return json.loads(data)["first"]["items"]


def test_the_export_expands_as_json_ld_against_the_web_annotation_context(annotated):
    data = run_export(annotated.project, "w3c")
    expanded = jsonld.expand(json.loads(data), {"documentLoader": _local_loader})
    collection = expanded[0]
    assert collection["@type"] == ["http://www.w3.org/ns/activitystreams#OrderedCollection"]
    page = collection["http://www.w3.org/ns/activitystreams#first"][0]
    items = page["http://www.w3.org/ns/activitystreams#items"][0]["@list"]
    assert all(item["@type"] == [OA + "Annotation"] for item in items)
    motivations = [item[OA + "motivatedBy"][0]["@id"] for item in items]
    spans = sum(
        s.spans.count() for s in annotated.project.documents.get(pk=annotated.document.pk).annotation_sets.all()
    )
    assert motivations.count(OA + "tagging") == spans
    assert motivations.count(OA + "linking") == 3
    tagged = next(item for item in items if item[OA + "motivatedBy"][0]["@id"] == OA + "tagging")
    selector_types = {s["@type"][0] for s in tagged[OA + "hasTarget"][0][OA + "hasSelector"]}
    assert selector_types == {OA + "TextQuoteSelector", OA + "TextPositionSelector"}


def test_each_annotation_re_anchors_by_its_quote_with_prefix_and_suffix(annotated):
    texts = {f"urn:uuid:{d.uuid}": d.text for d in annotated.project.documents.all()}
    tagging = [a for a in _annotations(run_export(annotated.project, "w3c")) if a["motivation"] == "tagging"]
    assert tagging
    for annotation in tagging:
        text = texts[annotation["target"]["source"]]
        quote, position = annotation["target"]["selector"]
        context = quote["prefix"] + quote["exact"] + quote["suffix"]
        found = text.find(context)
        assert found >= 0 and text.find(context, found + 1) == -1, "the quote with its context is unique"
        start = found + len(quote["prefix"])
        assert (start, start + len(quote["exact"])) == (position["start"], position["end"])


def test_relations_become_linking_annotations_between_span_annotations(annotated):
    annotations = _annotations(run_export(annotated.project, "w3c"))
    by_id = {a["id"]: a for a in annotations}
    links = [a for a in annotations if a["motivation"] == "linking"]
    pairs = set()
    for link in links:
        target_span, kind = link["body"][0], link["body"][1]["value"]
        source = by_id[link["target"]]["target"]["selector"][0]["exact"]
        target = by_id[target_span]["target"]["selector"][0]["exact"]
        pairs.add((source, kind, target))
    assert ("The ministry denied", "sources", "the bank lost money") in pairs
    assert ("the bank lost money", "disputes", "the bank lost 😀 4 billion tenge in 2023") in pairs
