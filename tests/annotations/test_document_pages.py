"""The pages: login, projects, guidelines, the document page; membership scoping and security headers."""

from __future__ import annotations

import lxml.html
import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import Document
from annotations.services import annotating, documents, projects

pytestmark = pytest.mark.django_db

HOSTILE_RAW = "\ufeffBreaking <script>alert(1)</script>\r\nFire 🔥 then the minister said taxes will fall.\x00\r\n"


def page_urls(world):
    return [
        reverse("annotations:project_detail", args=[world.project.pk]),
        reverse("annotations:project_guidelines", args=[world.project.pk]),
        reverse("annotations:project_labels_css", args=[world.project.pk]),
        reverse("annotations:document_detail", args=[world.document.pk]),
    ]


def test_a_hostile_article_is_stored_normalised_and_rendered_escaped_with_spans_after_the_emoji_in_place(
    world, client_for
):
    document = documents.document_create(
        project=world.project, text=HOSTILE_RAW, title="<b>Title</b>", actor=world.manager
    )
    document.refresh_from_db()
    assert document.text == "Breaking <script>alert(1)</script>\nFire 🔥 then the minister said taxes will fall.\n"
    annotation_set = projects.annotation_set_assign(document=document, annotator=world.analyst, actor=world.manager)
    quote = "taxes will fall"
    start = document.text.index(quote)
    assert start > document.text.index("🔥")
    span = annotating.span_create(
        annotation_set=annotation_set,
        label="claim",
        start=start,
        end=start + len(quote),
        quote=quote,
        actor=world.analyst,
        expected_version=annotation_set.version,
    )

    response = client_for(world.analyst).get(reverse("annotations:document_detail", args=[document.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>Title</b>" not in body and "&lt;b&gt;Title&lt;/b&gt;" in body
    tree = lxml.html.fromstring(body)
    assert not [s for s in tree.xpath("//script") if "alert" in (s.text or "")]
    [marked] = tree.xpath(f'//span[@class="seg"][.//span[@data-span="{span.uuid}"]]')
    assert int(marked.get("data-start")) == span.start
    assert marked.text_content() == quote
    text_element = tree.xpath('//*[@id="doc-text"]')[0]
    assert text_element.text_content() == document.text.replace("\n", "")


def test_the_analyst_sees_their_own_spans_including_nested_ones(world, client_for):
    text = world.document.text
    outer_quote, inner_quote = "The minister said taxes will fall", "taxes will fall"
    for quote, label in ((outer_quote, "attribution"), (inner_quote, "claim")):
        start = text.index(quote)
        world.analyst_set.refresh_from_db()
        annotating.span_create(
            annotation_set=world.analyst_set,
            label=label,
            start=start,
            end=start + len(quote),
            quote=quote,
            actor=world.analyst,
            expected_version=world.analyst_set.version,
        )

    tree = lxml.html.fromstring(
        client_for(world.analyst).get(reverse("annotations:document_detail", args=[world.document.pk])).content
    )

    nested = tree.xpath("//span[@data-span]/span[@data-span]")
    assert nested and nested[0].text_content() == inner_quote


def test_blind_mode_hides_the_other_analysts_spans(world, client_for):
    text = world.document.text
    start = text.index("Critics replied")
    span = annotating.span_create(
        annotation_set=world.other_set,
        label="claim",
        start=start,
        end=start + 15,
        quote="Critics replied",
        actor=world.other_analyst,
        expected_version=1,
    )

    body = client_for(world.analyst).get(reverse("annotations:document_detail", args=[world.document.pk])).content
    assert str(span.uuid).encode() not in body
    reviewer_body = (
        client_for(world.reviewer)
        .get(reverse("annotations:document_detail", args=[world.document.pk]) + f"?set={world.other_set.pk}")
        .content
    )
    assert str(span.uuid).encode() in reviewer_body


@pytest.mark.parametrize("role", ["manager", "reviewer", "analyst", "other_analyst"])
def test_every_member_sees_the_project_list_and_each_project_page(world, client_for, role):
    client = client_for(getattr(world, role))

    listing = client.get(reverse("annotations:project_list"))
    assert listing.status_code == 200
    assert world.project.name.encode() in listing.content
    assert b"Someone else&#x27;s project" not in listing.content
    for url in page_urls(world):
        assert client.get(url).status_code == 200, url
    detail = client.get(reverse("annotations:project_detail", args=[world.project.pk]))
    assert world.document.title.encode() in detail.content


def test_the_guidelines_page_renders_markdown_without_scripts(world, client_for):
    world.project.guidelines = "# Rules\n\nMark **claims**.\n\n<script>alert(1)</script>"
    world.project.save()
    body = client_for(world.analyst).get(reverse("annotations:project_guidelines", args=[world.project.pk])).content
    assert b"<strong>claims</strong>" in body
    assert b"<script>alert(1)" not in body


def test_an_outsider_gets_404_on_every_page_that_takes_an_id(world, client_for):
    client = client_for(world.outsider)
    for url in page_urls(world):
        assert client.get(url).status_code == 404, url
    assert world.project.name.encode() not in client.get(reverse("annotations:project_list")).content


def test_ids_that_do_not_exist_are_404_too(world, client_for):
    client = client_for(world.analyst)
    missing = Document.objects.order_by("-pk").first().pk + 1000
    assert client.get(reverse("annotations:document_detail", args=[missing])).status_code == 404
    assert client.get(reverse("annotations:project_detail", args=[missing])).status_code == 404


def test_anonymous_visitors_are_sent_to_login(world):
    client = Client()
    for url in [reverse("annotations:project_list"), *page_urls(world)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_login_and_logout(world):
    client = Client()
    assert client.get(reverse("login")).status_code == 200

    refused = client.post(reverse("login"), {"username": "analyst", "password": "wrong"})
    assert refused.status_code == 200
    assert b"didn't match" in refused.content

    logged_in = client.post(reverse("login"), {"username": "analyst", "password": "correct-horse-battery"})
    assert logged_in.status_code == 302
    assert logged_in["Location"] == reverse("annotations:project_list")
    assert client.get(reverse("annotations:project_list")).status_code == 200

    logged_out = client.post(reverse("logout"))
    assert logged_out.status_code == 302
    assert client.get(reverse("annotations:project_list")).status_code == 302


def test_security_headers_are_on_every_page(world, client_for):
    client = client_for(world.analyst)
    for url in [reverse("login"), reverse("annotations:project_list"), *page_urls(world)]:
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, url
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["X-Frame-Options"] == "DENY", url


def test_pages_carry_no_inline_script_style_or_handlers(world, client_for):
    client = client_for(world.analyst)
    for url in [reverse("annotations:project_list"), *page_urls(world)[:2], page_urls(world)[3]]:
        tree = lxml.html.fromstring(client.get(url).content)
        assert not [s for s in tree.xpath("//script") if (s.text or "").strip()], url
        assert not tree.xpath("//style | //*[@style]"), url
        assert not tree.xpath("//@*[starts-with(name(), 'on')]"), url


def test_in_blind_mode_the_project_page_shows_an_analyst_only_their_own_set(world, client_for):
    url = reverse("annotations:project_detail", args=[world.project.pk])

    analyst_page = client_for(world.analyst).get(url).content.decode()
    reviewer_page = client_for(world.reviewer).get(url).content.decode()

    assert f"?set={world.analyst_set.pk}" in analyst_page
    assert f"?set={world.other_set.pk}" not in analyst_page
    assert f"?set={world.other_set.pk}" in reviewer_page and f"?set={world.analyst_set.pk}" in reviewer_page
