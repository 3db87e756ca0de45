"""The adjudication page's list of span decision points, built in Python.

A document with 3 × 200 spans has about 200 points with four small forms each;
a Django template loop over them took over a second, string building here takes
milliseconds. Every stored string (quotes, labels, names, rationales, point
keys) goes through escape(); the rest is numbers and fixed markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape as _html_escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe


def escape(value: Any) -> str:
    """html.escape with quotes: what django.utils.html.escape does, without its lazy-string wrapper
    (which costs more than the escaping itself at thousands of calls per page)."""
    return _html_escape(str(value), quote=True)


def _form_open(action_url: str, css: str, common: str, action: str, key: str) -> str:
    return (
        f'<form class="{css}" method="post" action="{action_url}" hx-post="{action_url}" hx-target="#review" '
        f'hx-select="#review" hx-swap="outerHTML">{common}<input type="hidden" name="action" value="{action}">'
        f'<input type="hidden" name="point" value="{key}">'
    )


def points_html(
    points: Sequence[dict[str, Any]],
    *,
    action_url: str,
    csrf: str,
    gold_version: Any,
    labels: Sequence[str],
    text_length: int,
    finished: bool,
) -> SafeString:
    out: list[str] = []
    url = escape(action_url)
    common = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf)}">'
        f'<input type="hidden" name="gold_version" value="{escape(gold_version)}">'
    )
    for p in points:
        point, decision, status = p["point"], p["decision"], p["status"]
        key = escape(point.key)
        if decision is not None:
            badge = escape(decision.get_action_display())
        elif status == "consensus":
            badge = "pre-accepted on merge"
        else:
            badge = "open"
        state_class = "adjudicated" if status == "decided" else "open"
        out.append(
            f'<li class="point status-{status}" tabindex="0" data-key="{key}" id="point-{p["number"]}">'
            f'<div class="point-head"><span class="state state-{state_class}">{badge}</span> '
            f"<strong>{escape(point.label)}</strong> [{point.start}, {point.end}) <q>{escape(p['quote'])}</q>"
        )
        if p["absent"]:
            out.append(f' <span class="muted">· not marked by {escape(", ".join(p["absent"]))}</span>')
        out.append("</div>")
        if decision is not None:
            note = [escape(decision.get_action_display())]
            if decision.decided_by is not None:
                note.append(f" by {escape(decision.decided_by.get_username())}")
            if p["gold_span"] is not None:
                quote = p["gold_span"].quote
                note.append(f": gold <q>{escape(quote if len(quote) <= 120 else quote[:119] + '…')}</q>")
            if decision.rationale:
                note.append(f" — <em>{escape(decision.rationale)}</em>")
            out.append(f'<p class="decision-note">{"".join(note)}</p>')
        if finished:
            out.append("</li>")
            continue
        out.append(_form_open(url, "accept-form", common, "accept", key))
        out.append('<fieldset><legend class="visually-hidden">Versions</legend>')
        for v in p["versions"]:
            version = v["version"]
            checked = " checked" if v["number"] == p["suggested"] else ""
            attributes = ", ".join(f"{escape(k)}={escape(value)}" for k, value in version.attributes.items())
            out.append(
                f'<label class="version"><input type="radio" name="version" value="{v["number"]}"{checked}> '
                f"<kbd>{v['number']}</kbd> <q>{escape(v['quote'])}</q> [{version.start}, {version.end}) · "
                f"<strong>{escape(v['votes'])}</strong> · {escape(', '.join(v['voters']))}"
                f"{' · ' + attributes if attributes else ''}</label>"
            )
        out.append(
            "</fieldset>"
            '<input type="text" name="rationale" placeholder="Rationale (optional)" maxlength="2000" '
            'aria-label="Rationale for accepting"> '
            '<button type="submit" class="accept-button">Accept (a)</button></form>'
            '<details class="more-actions"><summary>Merge, edit edges or label, reject</summary>'
        )
        out.append(_form_open(url, "inline merge-form", common, "merge", key))
        out.append(
            '<input type="text" name="rationale" placeholder="Rationale" maxlength="2000" '
            'aria-label="Rationale for merging"> <button type="submit">Merge all boundaries</button></form>'
        )
        out.append(_form_open(url, "edit-form", common, "edit", key))
        options = "".join(
            f'<option value="{escape(label)}"{" selected" if label == point.label else ""}>{escape(label)}</option>'
            for label in labels
        )
        out.append(
            f'<label>Start <input type="number" name="start" min="0" max="{text_length}" '
            f'value="{point.start}"></label> '
            f'<label>End <input type="number" name="end" min="1" max="{text_length}" value="{point.end}"></label> '
            f'<label>Label <select name="label">{options}</select></label> '
            '<input type="text" name="rationale" placeholder="Rationale" maxlength="2000" '
            'aria-label="Rationale for the edit"> <button type="submit">Save edges</button></form>'
        )
        out.append(_form_open(url, "reject-form", common, "reject", key))
        out.append(
            '<input type="text" name="reason" placeholder="Reason for rejecting (required)" required maxlength="2000" '
            'aria-label="Reason for rejecting"> <button type="submit" class="reject-button">Reject all (r)</button>'
            "</form></details></li>"
        )
    if not points:
        out.append('<li class="muted">No analyst marked anything in this document.</li>')
    # Safe: every stored string above went through escape(); the rest is numbers and fixed markup.
    return mark_safe("".join(out))  # noqa: S308


def gold_span_options_html(spans: Sequence[Any], *, preview: int = 80) -> SafeString:
    """<option> elements for the gold spans, for the two ends of an added link.

    Built once and used by both selects: a gold set of a few hundred spans would
    otherwise be looped over twice in the template. Labels and quotes are escaped.
    """
    out = []
    for span in spans:
        quote = span.quote if len(span.quote) <= preview else span.quote[: preview - 1] + "…"
        out.append(
            f'<option value="{escape(span.uuid)}">{escape(span.label)} [{span.start}, {span.end}) '
            f"«{escape(quote)}»</option>"
        )
    # Safe: labels and quotes went through escape(); uuids and offsets are ours.
    return mark_safe("".join(out))  # noqa: S308
