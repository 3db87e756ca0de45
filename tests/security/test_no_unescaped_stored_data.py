"""DESIGN rule 4, by reading the source: nothing in templates/ or annotations/ turns off escaping,
except the few functions below, each of which builds its HTML from escaped or sanitised parts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNESCAPING_CALLS = {"mark_safe", "SafeString", "format_html", "format_html_join", "SafeText"}
TEMPLATE_UNESCAPING = re.compile(r"\|\s*(safe|safeseq)\b|{%\s*autoescape\s+off|{%\s*filter\s+safe", re.IGNORECASE)

# (file, function) -> why its output is safe. Each is exercised with hostile input in the XSS tests.
ALLOWED = {
    ("annotations/rendering.py", "render_markdown"): "the nh3 allow-list sanitiser's output (_clean_markdown)",
    ("annotations/rendering.py", "document_html"): "every text segment and label passes escape(); classes are ints",
    ("annotations/rendering.py", "render_document"): "every text segment and label passes escape(); classes are ints",
    ("annotations/annotate_views.py", "document_annotate"): "render_markdown's sanitised output, already safe",
    ("annotations/annotate_views.py", "_json_script"): "JSON with <, > and & escaped, as Django's json_script",
    ("annotations/review_rendering.py", "points_html"): "every stored string passes escape()",
    ("annotations/review_rendering.py", "gold_span_options_html"): "every stored string passes escape()",
    ("annotations/charts.py", "bar_chart"): "every stored string passes escape()",
}


def _unescaping_calls(source: str, relative: str) -> set[tuple[str, str]]:
    tree = ast.parse(source)
    found: set[tuple[str, str]] = set()

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                callee = child.func
                name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
                if name in UNESCAPING_CALLS:
                    found.add((relative, function))
                    # format_html with a format string that is not a literal formats stored data unescaped.
                    if name.startswith("format_html") and not (child.args and isinstance(child.args[0], ast.Constant)):
                        found.add((relative, f"{function}: format_html with a non-literal format string"))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def test_no_template_turns_escaping_off():
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")) + sorted((ROOT / "annotations").rglob("*.html")):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
            if TEMPLATE_UNESCAPING.search(line):
                offenders.append(f"{template.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_only_the_allow_listed_functions_mark_html_safe():
    found: set[tuple[str, str]] = set()
    for module in sorted((ROOT / "annotations").rglob("*.py")):
        if "migrations" not in module.parts:
            found |= _unescaping_calls(module.read_text(encoding="utf-8"), str(module.relative_to(ROOT)))
    assert found - set(ALLOWED) == set(), "new unescaped HTML: escape it, or add it to ALLOWED with a reason"
    # A stale entry would let a future function of the same name in without review.
    assert set(ALLOWED) - found == set()


def test_the_scanner_finds_what_it_is_meant_to_find():
    sample = "def show(note):\n    return format_html(note)\n\ndef ok(x):\n    return mark_safe(x)\n"
    found = _unescaping_calls(sample, "sample.py")
    assert ("sample.py", "show: format_html with a non-literal format string") in found
    assert ("sample.py", "ok") in found
    assert TEMPLATE_UNESCAPING.search("{{ project.guidelines|safe }}")
    assert TEMPLATE_UNESCAPING.search("{% autoescape off %}")
