from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command


def test_the_command_writes_a_gold_only_export_and_reports_progress(annotated, tmp_path):
    target = tmp_path / "gold.jsonl"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "export_annotations",
        str(annotated.project.pk),
        "--format",
        "jsonl",
        "--gold-only",
        "-o",
        str(target),
        stdout=out,
        stderr=err,
    )
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert records and all(s["gold"] for r in records for s in r["sets"])
    assert "documents" in err.getvalue() and "[" in err.getvalue()
    assert "scope gold" in out.getvalue()


def test_the_command_names_a_bad_label(annotated, tmp_path):
    with pytest.raises(CommandError, match="labels: unknown label 'rumour'"):
        call_command(
            "export_annotations",
            annotated.project.name,
            "--format",
            "csv",
            "--label",
            "rumour",
            "-o",
            str(tmp_path / "x.csv"),
        )
