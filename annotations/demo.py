"""The demo: users for each role, one project, five short articles written for
Claimbench, and two analysts' annotations of the first ones. Loaded once by
`manage.py load_demo`; everything goes through the service layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from annotations.models import Document, Project, Role
from annotations.services import annotating, documents, projects

DEMO_PROJECT_NAME = "Demo: regional press, spring session"
DEMO_PASSWORD_SUFFIX = "-demo-2026"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    full_name: str

    @property
    def password(self) -> str:
        return self.username + DEMO_PASSWORD_SUFFIX


DEMO_USERS = (
    DemoUser("maria", Role.MANAGER, "Maria Manager"),
    DemoUser("rita", Role.REVIEWER, "Rita Reviewer"),
    DemoUser("ana", Role.ANNOTATOR, "Ana Analyst"),
    DemoUser("ben", Role.ANNOTATOR, "Ben Analyst"),
)


@dataclass(frozen=True)
class DemoSpan:
    key: str
    label: str
    quote: str
    occurrence: int = 0  # which occurrence of the quote, when it appears more than once
    attributes: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class DemoArticle:
    title: str
    text: str
    outlet: str
    author: str
    published: str
    language: str = "en"
    submitted_by: tuple[str, ...] = ()
    annotations: dict[str, tuple[tuple[DemoSpan, ...], tuple[tuple[str, str, str], ...]]] = field(default_factory=dict)


BRIDGE = DemoArticle(
    title="Mayor defends bridge budget as opposition cries foul",
    outlet="Steppe Ledger",
    author="Dana Omarova",
    published="2026-03-14",
    submitted_by=("ana", "ben"),
    text=(
        "Mayor defends bridge budget as opposition cries foul\n"
        "\n"
        "The city's new bridge over the Ishim will cost at least 40 million tenge, "
        "Mayor Serik Abenov told the council on Tuesday. «The bridge will pay for itself within ten years,» "
        "he said.\n"
        "\n"
        "According to the opposition party Ak Zhol, the real price is far higher. "
        "\"The tender documents list 62 million,\" deputy Aigerim Sadykova wrote on her channel, "
        "calling the mayor's figure \u201ca fairy tale\u201d.\n"
        "\n"
        "The city press office said the 62 million figure includes road works that are not part of the bridge. "
        "Local residents, quoted by the newspaper \u00abВечерний Петропавловск\u00bb, say the old bridge "
        "has been closed since 2024.\n"
    ),
    annotations={
        "ana": (
            (
                DemoSpan("c1", "claim", "The city's new bridge over the Ishim will cost at least 40 million tenge",
                         attributes={"check_worthy": "yes", "claim_type": "quantity"}),
                DemoSpan("a1", "attribution", "Mayor Serik Abenov told the council",
                         attributes={"quote": "indirect", "source_type": "named_person",
                                     "source_entity": "Serik Abenov"}),
                DemoSpan("c2", "claim", "The bridge will pay for itself within ten years",
                         attributes={"check_worthy": "no", "claim_type": "prediction"}),
                DemoSpan("a2", "attribution", "he said", attributes={"quote": "direct",
                                                                      "source_entity": "Serik Abenov"}),
                DemoSpan("a3", "attribution", "According to the opposition party Ak Zhol",
                         attributes={"quote": "indirect", "source_type": "named_organisation"}),
                DemoSpan("k1", "counter-claim", "the real price is far higher"),
                DemoSpan("k2", "counter-claim", "The tender documents list 62 million",
                         attributes={"check_worthy": "yes", "claim_type": "quantity"}),
                DemoSpan("a4", "attribution", "deputy Aigerim Sadykova wrote on her channel",
                         attributes={"quote": "direct", "source_type": "named_person"}),
                # A nested pair: the claim sits inside the longer attribution sentence.
                DemoSpan("a5", "attribution", "The city press office said the 62 million figure includes road "
                         "works that are not part of the bridge", note="Whole sentence as cue; see nested claim."),
                DemoSpan("c3", "claim", "the 62 million figure includes road works that are not part of the bridge",
                         attributes={"check_worthy": "yes"}),
            ),
            (
                ("sources", "a1", "c1"), ("sources", "a2", "c2"), ("sources", "a3", "k1"),
                ("disputes", "k1", "c1"), ("disputes", "k2", "c1"), ("sources", "a4", "k2"),
                ("sources", "a5", "c3"),
            ),
        ),
        "ben": (
            (
                DemoSpan("c1", "claim", "will cost at least 40 million tenge", attributes={"check_worthy": "yes"}),
                DemoSpan("a1", "attribution", "Mayor Serik Abenov told the council on Tuesday",
                         attributes={"quote": "indirect"}),
                DemoSpan("c2", "claim", "The bridge will pay for itself within ten years"),
                DemoSpan("k2", "counter-claim", "The tender documents list 62 million"),
                DemoSpan("a4", "attribution", "deputy Aigerim Sadykova wrote"),
                DemoSpan("c4", "claim", "the old bridge has been closed since 2024"),
            ),
            (("sources", "a1", "c1"), ("disputes", "k2", "c1"), ("sources", "a4", "k2")),
        ),
    },
)  # fmt: skip

GRAIN = DemoArticle(
    title="Ministry: grain exports up 12 percent 🌾",
    outlet="Agro Review",
    author="Timur Bekov",
    published="2026-02-02",
    text=(
        "Ministry: grain exports up 12 percent 🌾\n"
        "\n"
        "Grain exports rose by 12 percent in the first quarter, the agriculture ministry announced in a statement. "
        "Exporters, however, say the figure hides a fall in prices 📉.\n"
        "\n"
        "\u201cFarmers earned less per tonne than a year ago,\u201d said Yerlan Dosov, head of the growers' union. "
        "The ministry did not respond to a request for comment.\n"
    ),
    annotations={
        "ana": (
            (
                DemoSpan("c1", "claim", "Grain exports rose by 12 percent in the first quarter",
                         attributes={"check_worthy": "yes", "claim_type": "quantity"}),
                DemoSpan("a1", "attribution", "the agriculture ministry announced in a statement",
                         attributes={"source_type": "named_organisation"}),
                DemoSpan("k1", "counter-claim", "the figure hides a fall in prices"),
                DemoSpan("a2", "attribution", "Exporters, however, say", attributes={"source_type": "vague"}),
                DemoSpan("c2", "claim", "Farmers earned less per tonne than a year ago"),
                DemoSpan("a3", "attribution", "said Yerlan Dosov, head of the growers' union",
                         attributes={"quote": "direct", "source_type": "named_person"}),
            ),
            (("sources", "a1", "c1"), ("sources", "a2", "k1"), ("disputes", "k1", "c1"), ("sources", "a3", "c2")),
        ),
    },
)  # fmt: skip

HOSPITAL = DemoArticle(
    title="Hospital closure: what the governor promised",
    outlet="Northern Courier",
    author="Staff reporter",
    published="2026-01-20",
    text=(
        "Hospital closure: what the governor promised\n"
        "\n"
        "In his annual address, the governor promised that no rural hospital would close this year. "
        "Three weeks later the district hospital in Kokterek stopped admitting patients.\n"
        "\n"
        "A spokesman for the regional health department insisted the hospital «has not closed, "
        "it is being reorganised». Staff told our correspondent they had received dismissal notices.\n"
    ),
)

INTERVIEW = DemoArticle(
    title="Interview: «We did not take a single tenge»",
    outlet="Open Dialogue",
    author="Asel Nurlanova",
    published="2026-04-03",
    text=(
        "Interview: «We did not take a single tenge»\n"
        "\n"
        "— Your foundation is accused of spending donations on salaries. Is that true?\n"
        "— No. We did not take a single tenge from the donations for salaries. Every payment is published on our "
        "website, and the auditors confirmed it in March.\n"
        "\n"
        "— Critics say the audit firm belongs to your brother-in-law.\n"
        "— That is simply a lie. The firm was chosen by an open tender.\n"
    ),
)

SUMMIT = DemoArticle(
    title="Summit ends without a joint statement",
    outlet="Steppe Ledger",
    author="Dana Omarova",
    published="2026-05-11",
    text=(
        "Summit ends without a joint statement\n"
        "\n"
        "The two-day summit in Astana ended without a joint statement, diplomats said. "
        "According to a source in the foreign ministry, the delegations disagreed on the wording about trade "
        "tariffs.\n"
        "\n"
        "The ministry's spokeswoman later denied any disagreement: \u201cThe statement was never planned,\u201d "
        "she told reporters.\n"
    ),
)

DEMO_ARTICLES = (BRIDGE, GRAIN, HOSPITAL, INTERVIEW, SUMMIT)


def _offsets(text: str, quote: str, occurrence: int) -> tuple[int, int]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(quote, start + 1)
    return start, start + len(quote)


@transaction.atomic
def load_demo() -> tuple[Project, bool]:
    """Create the demo once. Returns (project, created); a second call changes nothing."""
    existing = Project.objects.filter(name=DEMO_PROJECT_NAME).first()
    if existing is not None:
        return existing, False
    user_model = get_user_model()
    users = {}
    for demo_user in DEMO_USERS:
        first, last = demo_user.full_name.split(" ", 1)
        user, created = user_model.objects.get_or_create(
            username=demo_user.username, defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_password(demo_user.password)
            user.save()
        users[demo_user.username] = user
    manager = users["maria"]
    project = projects.project_create(
        name=DEMO_PROJECT_NAME,
        actor=manager,
        description="Five short articles written for the Claimbench demo: quotes, attributions and rebuttals.",
        annotators_per_document=2,
        blind_mode=True,
    )
    for demo_user in DEMO_USERS:
        if demo_user.username != "maria":
            projects.membership_set_role(project=project, user=users[demo_user.username], role=demo_user.role,
                                         actor=manager)  # fmt: skip
    for article in DEMO_ARTICLES:
        document = documents.document_create(
            project=project,
            text=article.text,
            title=article.title,
            actor=manager,
            metadata={"outlet": article.outlet, "author": article.author, "published_date": article.published,
                      "language": article.language},
        )  # fmt: skip
        for analyst in ("ana", "ben"):
            projects.annotation_set_assign(document=document, annotator=users[analyst], actor=manager)
        _annotate(document, article, users)
    return project, True


def _annotate(document: Document, article: DemoArticle, users: dict[str, Any]) -> None:
    for analyst, (spans, links) in article.annotations.items():
        annotation_set = document.annotation_sets.get(annotator=users[analyst])
        made = {}
        for demo_span in spans:
            start, end = _offsets(document.text, demo_span.quote, demo_span.occurrence)
            span = annotating.span_create(
                annotation_set=annotation_set,
                label=demo_span.label,
                start=start,
                end=end,
                quote=demo_span.quote,
                attributes=demo_span.attributes,
                note=demo_span.note,
                actor=users[analyst],
                expected_version=None,
            )
            made[demo_span.key] = span
        for relation_type, source_key, target_key in links:
            annotating.relation_create(
                annotation_set=annotation_set,
                type=relation_type,
                source=made[source_key],
                target=made[target_key],
                actor=users[analyst],
                expected_version=None,
            )
        if analyst in article.submitted_by:
            annotating.annotation_set_submit(annotation_set=annotation_set, actor=users[analyst], expected_version=None)
