from __future__ import annotations

import json

from annotations.importers.label_studio import annotator_name


def _task_start_line(path, task_id: int) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    id_line = next(number for number, line in enumerate(lines, start=1) if line.strip() == f'"id": {task_id},')
    return id_line - 1  # the "{" that opens the task


def test_utf16_offsets_after_emoji_become_code_points(parse, data):
    documents, _ = parse("label_studio", (data / "label_studio.json").read_bytes(), "label_studio.json")
    first = documents[0]
    annotator, prediction = first.sets
    by_id = {span.local_id: span for span in annotator.spans}
    # The text starts with a flag (two astral code points) and 🔥: UTF-16 counts each twice.
    assert first.text.startswith("🇰🇿 Breaking 🔥:")
    raw_task = json.loads((data / "label_studio.json").read_text(encoding="utf-8"))[0]
    utf16_start = raw_task["annotations"][0]["result"][0]["value"]["start"]
    assert by_id["r1"].start == utf16_start - 3
    for span in annotator.spans + prediction.spans:
        assert first.text[span.start : span.end] == span.quote
    assert by_id["r1"].quote == "the prime minister announced"
    assert by_id["r1"].note == "speaker is the PM"
    assert by_id["r2"].attributes == {"check_worthy": "yes"}
    assert [(r.type, r.source_local_id, r.target_local_id) for r in annotator.relations] == [
        ("sources", "r1", "r2"),
        ("disputes", "r3", "r2"),  # "direction": "left" reverses from/to
    ]


def test_annotations_predictions_gold_and_cancelled_become_the_right_sets(parse, data):
    (first, third), _ = parse("label_studio", (data / "label_studio.json").read_bytes(), "label_studio.json")
    assert [(s.annotator, s.is_gold) for s in first.sets] == [("label-studio-7", False), (None, False)]
    assert [(s.annotator, s.is_gold) for s in third.sets] == [(None, True)]
    assert first.title == "Inflation forecast"
    assert first.metadata["source_url"] == "https://herald.example/inflation"


def test_a_quote_mismatch_is_reported_at_the_line_where_its_task_starts(parse, data):
    path = data / "label_studio.json"
    documents, [error] = parse("label_studio", path.read_bytes(), "label_studio.json")
    assert [document.line for document in documents] == [_task_start_line(path, 101), _task_start_line(path, 103)]
    assert error.source_name == "label_studio.json"
    assert error.line == _task_start_line(path, 102)
    assert error.reason.startswith("task 2, annotation 11, region 'r1': quote mismatch")


def _task(text: str, start: int, end: int, quote: str) -> dict:
    value = {"start": start, "end": end, "text": quote, "labels": ["claim"]}
    return {
        "data": {"text": text},
        "annotations": [{"completed_by": 1, "result": [{"id": "a", "type": "labels", "value": value}]}],
    }


def test_code_point_offsets_are_rejected_with_a_hint_not_guessed(parse):
    text = "🙂 The minister resigned."
    start = text.index("The")
    documents, [error] = parse(
        "label_studio", json.dumps([_task(text, start, start + 12, "The minister")]).encode(), "t.json"
    )
    assert documents == []
    assert "read as code points" in error.reason


def test_an_offset_inside_a_surrogate_pair_is_a_row_error(parse):
    documents, [error] = parse("label_studio", json.dumps([_task("🙂 Yes.", 1, 5, "Yes.")]).encode(), "t.json")
    assert documents == []
    assert "surrogate pair" in error.reason


def test_tasks_before_a_malformed_one_still_land(parse):
    good = json.dumps({"data": {"text": "The vote is on Friday."}})
    raw = f'[\n{good},\n{{"data": oops}}\n]'.encode()
    documents, [error] = parse("label_studio", raw, "t.json")
    assert len(documents) == 1
    assert error.line == 3 and "element 2 is not valid JSON" in error.reason


def test_a_json_object_instead_of_a_task_list_is_a_row_error(parse):
    documents, [error] = parse("label_studio", b'{"data": {"text": "x"}}', "t.json")
    assert documents == []
    assert "expected a JSON list of Label Studio tasks" in error.reason


def test_a_task_without_data_text_is_a_row_error(parse):
    documents, [error] = parse("label_studio", b'[{"data": {"image": "x.png"}}]', "t.json")
    assert error.reason == 'task 1: "data.text" must be a non-empty string'


def test_unsupported_results_are_reported(parse):
    task = {
        "data": {"text": "The minister resigned."},
        "annotations": [
            {
                "completed_by": 1,
                "result": [
                    {"type": "choices", "id": "doc", "from_name": "topic", "value": {"choices": ["politics"]}},
                    {"type": "rectanglelabels", "id": "b", "value": {}},
                    {"type": "labels", "id": "c", "value": {"start": 4, "end": 12, "labels": ["claim", "attribution"]}},
                ],
            }
        ],
    }
    documents, errors = parse("label_studio", json.dumps([task]).encode(), "t.json")
    assert documents == []
    assert len(errors) == 3
    assert "'rectanglelabels' is not supported" in errors[0].reason
    assert "document-level 'choices' result" in errors[1].reason
    assert "exactly one label" in errors[2].reason


def test_annotator_names():
    assert annotator_name(7) == "label-studio-7"
    assert annotator_name({"id": 5, "email": "a@example.org"}) == "a@example.org"
    assert annotator_name(None) is None
