"""The analyst's annotation page in real headless Chromium (Debian's package, driven by Playwright).

Each test logs a user in by cookie, drives the page with the mouse and keyboard
as an analyst would, and checks what landed in the database through Python's
own text[start:end].
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest
from django.urls import reverse

from annotations.models import AnnotationSet, Document, Relation, SetState, Span
from annotations.services import annotating, projects
from annotations.text import normalise_text, text_sha256
from tests.browser import ARTIFACTS, BROWSER_MARKS

pytestmark = BROWSER_MARKS

# Playwright's sync API runs an event loop in this thread; the ORM calls in the
# tests are still plain synchronous calls between page actions.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

TEXT = normalise_text(
    "Minister 🙂 Ivanova said «taxes will fall next year».\n"
    "\n"
    "Критики ответили, что бюджет растёт. Critics replied that the budget shows a rise of 4 percent.\n"
    "Café owners said nothing."
)

# Finds `needle` in the rendered text (UTF-16, across segment boundaries of one
# paragraph) and makes it the browser selection, as a mouse drag would.
SELECT_JS = """
([needle, occurrence]) => {
  let seen = 0;
  for (const para of document.querySelectorAll('#doc-text .para')) {
    const walker = document.createTreeWalker(para, NodeFilter.SHOW_TEXT);
    const nodes = [];
    let text = '';
    while (walker.nextNode()) { nodes.push([walker.currentNode, text.length]); text += walker.currentNode.data; }
    let at = text.indexOf(needle);
    while (at !== -1) {
      if (seen++ === occurrence) {
        const locate = (offset, preferNext) => {
          for (let i = 0; i < nodes.length; i++) {
            const [node, from] = nodes[i];
            const to = from + node.data.length;
            if (offset < to || (offset === to && !preferNext) ) return [node, offset - from];
          }
          const [node, from] = nodes[nodes.length - 1];
          return [node, offset - from];
        };
        const [sn, so] = locate(at, true);
        const [en, eo] = locate(at + needle.length, false);
        const range = document.createRange();
        range.setStart(sn, so);
        range.setEnd(en, eo);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        return true;
      }
      at = text.indexOf(needle, at + 1);
    }
  }
  return false;
}
"""


@pytest.fixture
def page_for(logged_in_page: Any) -> Any:
    def make(user: Any, path: str) -> Any:
        return logged_in_page(user, path, wait_for="body[data-annotate-ready='1']", height=900)

    return make


def _annotate_url(annotation_set: AnnotationSet) -> str:
    return reverse("annotations:document_annotate", args=[annotation_set.pk])


def _set_with_text(world: Any, text: str = TEXT, title: str = "Taxes and the budget") -> AnnotationSet:
    document = Document.objects.create(project=world.project, title=title, text=text, text_sha256=text_sha256(text))
    return projects.annotation_set_assign(document=document, annotator=world.analyst, actor=world.manager)


def _select(page: Any, needle: str, occurrence: int = 0) -> None:
    assert page.evaluate(SELECT_JS, [needle, occurrence]), f"{needle!r} is not on the page"


def _wait_saved(page: Any) -> None:
    page.wait_for_selector("#save-status[data-state='saved']", timeout=15000)
    page.wait_for_function("document.querySelector('#pending').hidden")


def _click_span(page: Any, quote: str) -> None:
    span = Span.objects.get(quote=quote)
    page.locator(f"li.span-item[data-span='{span.uuid}']").click()


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)


def test_a_selection_after_an_emoji_and_inside_cyrillic_lands_with_pythons_offsets(world, page_for):
    annotation_set = _set_with_text(world)
    page = page_for(world.analyst, _annotate_url(annotation_set))
    _select(page, "Ivanova said")
    page.keyboard.press("2")
    _wait_saved(page)
    _select(page, "тветили, что бюдж")  # inside words: snaps to "ответили, что бюджет"
    page.keyboard.press("1")
    _wait_saved(page)
    _select(page, "Café owners")
    page.keyboard.press("1")
    _wait_saved(page)
    page.reload()
    page.wait_for_selector("body[data-annotate-ready='1']")
    spans = {s.quote: s for s in Span.objects.filter(annotation_set=annotation_set)}
    assert set(spans) == {"Ivanova said", "ответили, что бюджет", "Café owners"}
    for span in spans.values():
        assert TEXT[span.start : span.end] == span.quote
        assert page.locator(f"#doc-text .mark[data-span='{span.uuid}']").count() >= 1
    assert spans["Ivanova said"].label == "attribution"
    assert spans["Ivanova said"].start == TEXT.index("Ivanova")
    assert page.js_errors == []


def test_relabel_nest_link_set_an_attribute_delete_and_undo(world, page_for):
    annotation_set = _set_with_text(world)
    page = page_for(world.analyst, _annotate_url(annotation_set))
    sentence = "Critics replied that the budget shows a rise of 4 percent"
    _select(page, sentence)
    page.keyboard.press("2")
    _wait_saved(page)
    _select(page, "the budget shows a rise of 4 percent")  # nested inside the attribution
    page.keyboard.press("3")
    _wait_saved(page)
    claim = Span.objects.get(quote="the budget shows a rise of 4 percent")
    assert claim.label == "counter-claim"

    # Relabel the selected span with its hotkey.
    page.keyboard.press("1")
    _wait_saved(page)
    claim.refresh_from_db()
    assert claim.label == "claim"

    # Link attribution -> claim: select it, L, click the claim in the text.
    _click_span(page, sentence)
    page.keyboard.press("l")
    page.locator(f"#doc-text .mark[data-span='{claim.uuid}']").first.click()
    _wait_saved(page)
    relation = Relation.objects.get(annotation_set=annotation_set)
    assert (relation.type, relation.source.quote, relation.target_id) == ("sources", sentence, claim.pk)

    # A wrong pair is refused with a reason.
    _click_span(page, "the budget shows a rise of 4 percent")
    page.keyboard.press("l")
    attribution = Span.objects.get(quote=sentence)
    page.locator(f"#doc-text .mark[data-span='{attribution.uuid}']").first.click(position={"x": 3, "y": 3})
    page.wait_for_selector("#banner.error:not([hidden])")
    assert "No link goes from claim to attribution" in page.inner_text("#banner")
    page.keyboard.press("Escape")

    # An attribute from the schema.
    _click_span(page, sentence)
    page.select_option("#attr-quote", "indirect")
    _wait_saved(page)
    attribution.refresh_from_db()
    assert attribution.attributes == {"quote": "indirect"}

    _screenshot(page, "annotate-nested-and-linked.png")

    # Delete the claim (its link goes with it), then Ctrl+Z brings both back.
    _click_span(page, "the budget shows a rise of 4 percent")
    page.keyboard.press("Delete")
    _wait_saved(page)
    assert not Span.objects.filter(pk=claim.pk).exists()
    assert not Relation.objects.filter(annotation_set=annotation_set).exists()
    assert page.locator(f"#doc-text .mark[data-span='{claim.uuid}']").count() == 0
    page.keyboard.press("Control+z")
    _wait_saved(page)
    assert Span.objects.filter(uuid=claim.uuid).exists()
    assert Relation.objects.filter(annotation_set=annotation_set, type="sources").count() == 1
    assert page.locator(f"#doc-text .mark[data-span='{claim.uuid}']").count() >= 1
    assert page.js_errors == []


def _arrow_until_selected(page: Any, word: str, key: str = "ArrowRight", limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("window.getSelection().toString()") == word:
            return
    raise AssertionError(f"{key} never selected {word!r}")


def test_words_selected_with_the_keyboard_alone_become_spans_with_pythons_offsets(world, page_for):
    annotation_set = _set_with_text(world)
    page = page_for(world.analyst, _annotate_url(annotation_set))
    page.keyboard.press("Tab")
    page.locator("#doc-text").focus()  # as Tab does once it reaches the article
    _arrow_until_selected(page, "Ivanova")  # past the emoji, a word at a time
    page.keyboard.press("Control+Shift+ArrowRight")  # the browser extends the selection by a word
    assert page.evaluate("window.getSelection().toString()") == "Ivanova said"
    page.keyboard.press("2")
    _wait_saved(page)
    _arrow_until_selected(page, "Критики")
    page.keyboard.press("Shift+ArrowRight")  # one character more: the trailing space is trimmed on save
    page.keyboard.press("1")
    _wait_saved(page)
    _arrow_until_selected(page, "budget", key="ArrowRight")
    _arrow_until_selected(page, "Critics", key="ArrowLeft")
    page.keyboard.press("3")
    _wait_saved(page)
    spans = {s.quote: s for s in Span.objects.filter(annotation_set=annotation_set)}
    assert set(spans) == {"Ivanova said", "Критики", "Critics"}
    for span in spans.values():
        assert TEXT[span.start : span.end] == span.quote
    assert spans["Ivanova said"].label == "attribution"
    assert spans["Критики"].label == "claim"
    assert spans["Critics"].label == "counter-claim"
    assert page.js_errors == []


def test_moving_an_edge_with_shift_arrow_saves_the_new_quote(world, page_for):
    annotation_set = _set_with_text(world)
    page = page_for(world.analyst, _annotate_url(annotation_set))
    _select(page, "taxes will fall")
    page.keyboard.press("1")
    _wait_saved(page)
    page.keyboard.press("Shift+ArrowRight")
    _wait_saved(page)
    page.keyboard.press("Alt+Shift+ArrowRight")
    _wait_saved(page)
    assert Span.objects.get(annotation_set=annotation_set).quote == "will fall next"


def test_a_failed_save_is_shown_retried_and_lands_once(world, page_for):
    annotation_set = _set_with_text(world)
    page = page_for(world.analyst, _annotate_url(annotation_set))
    failures = {"left": 2}

    def flaky(route: Any) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            route.fulfill(status=500, body="<h1>Server Error</h1>", content_type="text/html")
        else:
            route.continue_()

    page.route(re.compile(r".*/annotate/\d+/spans/$"), flaky)
    _select(page, "Ivanova said")
    page.keyboard.press("2")
    page.wait_for_selector("#save-status[data-state='failed']")
    assert "Unsaved: new attribution «Ivanova said»" in page.inner_text("#pending")
    _screenshot(page, "annotate-save-failed.png")
    _wait_saved(page)
    assert Span.objects.filter(annotation_set=annotation_set, quote="Ivanova said").count() == 1


def test_two_pages_on_one_set_conflict_and_nothing_saved_is_lost(world, page_for):
    annotation_set = _set_with_text(world)
    first = page_for(world.analyst, _annotate_url(annotation_set))
    second = page_for(world.analyst, _annotate_url(annotation_set))
    _select(first, "Ivanova said")
    first.keyboard.press("2")
    _wait_saved(first)
    _select(second, "taxes will fall next year")
    second.keyboard.press("1")
    second.wait_for_selector("#banner.conflict:not([hidden])")
    assert second.get_attribute("#save-status", "data-state") == "conflict"
    assert "taxes will fall next year" in second.inner_text("#pending")
    _screenshot(second, "annotate-conflict.png")
    second.click("#conflict-reload-apply")
    second.wait_for_selector("#pending-apply")
    assert second.locator("#doc-text .mark").count() >= 1  # the other tab's span is drawn after the reload
    second.click("#pending-apply")
    _wait_saved(second)
    quotes = sorted(Span.objects.filter(annotation_set=annotation_set).values_list("quote", flat=True))
    assert quotes == ["Ivanova said", "taxes will fall next year"]


def test_submit_lists_the_checks_and_lands_on_the_next_document(world, page_for):
    annotation_set = _set_with_text(world)
    page = page_for(world.analyst, _annotate_url(annotation_set))
    _select(page, "Ivanova said")
    page.keyboard.press("2")
    _wait_saved(page)
    assert "This attribution sources no claim." in page.inner_text("#warnings")
    page.click("#submit-button")
    page.wait_for_selector("#submit-dialog[open]")
    assert "This attribution sources no claim." in page.inner_text("#submit-warnings")
    page.fill("#submit-note", "The claim is in the headline, outside this text.")
    page.click("#submit-anyway")
    page.wait_for_url(re.compile(rf".*/annotate/{world.analyst_set.pk}/$"))
    assert AnnotationSet.objects.get(pk=annotation_set.pk).state == SetState.SUBMITTED
    assert "1 of 2 submitted" in page.inner_text(".ann-progress")


def test_a_submitted_set_is_read_only(world, page_for):
    annotation_set = _set_with_text(world)
    annotating.annotation_set_submit(
        annotation_set=annotation_set, actor=world.analyst, expected_version=annotation_set.version
    )
    page = page_for(world.analyst, _annotate_url(annotation_set))
    assert "read-only" in page.inner_text("#read-only-banner")
    _select(page, "Ivanova said")
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    assert not Span.objects.filter(annotation_set=annotation_set).exists()


def test_the_demo_article_draws_nested_spans_and_links(world, page_for):
    from annotations.demo import load_demo

    project, _ = load_demo()
    annotation_set = AnnotationSet.objects.filter(document__project=project, annotator__username="ana").first()
    page = page_for(annotation_set.annotator, _annotate_url(annotation_set))
    nested = Span.objects.get(annotation_set=annotation_set, quote__startswith="the 62 million figure")
    _screenshot(page, "annotate-demo-article-top.png")
    page.locator(f"li.span-item[data-span='{nested.uuid}']").click()
    page.locator(f"#doc-text .mark[data-span='{nested.uuid}']").first.hover()
    assert page.locator("#doc-text .mark.linked").count() >= 1
    _screenshot(page, "annotate-demo-article.png")
    page.keyboard.press("?")
    page.wait_for_selector("#help-dialog[open]")
    _screenshot(page, "annotate-guide.png")


def test_a_long_article_with_a_thousand_spans_stays_responsive(world, page_for):
    paragraph = (
        "The ministry said on Monday that wheat exports rose by 12 percent, while critics argued that "
        "the figure hides a fall in barley shipments «по данным таможни» 🌾 and smaller farms lost money. "
    )
    text = normalise_text("\n".join(paragraph * 3 for _ in range(200)))
    annotation_set = _set_with_text(world, text, title="A long article")
    spans = []
    step = len(paragraph)
    for i in range(1000):
        start = i * step // 1 if i * step + 40 < len(text) else 0
        start = (i * (len(text) - 60)) // 1000
        while text[start].isspace():
            start += 1
        spans.append(Span(annotation_set=annotation_set, label=("claim", "attribution", "counter-claim")[i % 3],
                          start=start, end=start + 25, quote=text[start : start + 25]))  # fmt: skip
    Span.objects.bulk_create(spans)
    AnnotationSet.objects.filter(pk=annotation_set.pk).update(version=2)
    started = time.monotonic()
    page = page_for(world.analyst, _annotate_url(annotation_set))
    elapsed = time.monotonic() - started
    assert page.locator("li.span-item").count() == 1000
    page.mouse.wheel(0, 3000)
    _select(page, "smaller farms lost money", occurrence=250)
    started = time.monotonic()
    page.keyboard.press("1")
    _wait_saved(page)
    print(
        f"long article: page ready in {elapsed:.2f} s, one span saved and drawn in {time.monotonic() - started:.3f} s"
    )
    assert Span.objects.filter(annotation_set=annotation_set).count() == 1001
    _screenshot(page, "annotate-long-article.png")
