"""Creating documents. Text is normalised here once and never edited afterwards."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from annotations import access
from annotations.exceptions import InvalidInput
from annotations.models import Document, Job, Project
from annotations.text import normalise_text, text_sha256

METADATA_FIELDS = ("source_url", "outlet", "author", "published_date", "language", "external_id")
MAX_TEXT_LENGTH = 5_000_000


class DuplicateDocument(InvalidInput):
    code = "duplicate"

    def __init__(self, existing: Document, reason: str) -> None:
        super().__init__(f"skipped: duplicate of document {existing.uuid} ({reason})")
        self.existing = existing


def document_build(
    *,
    project: Project,
    text: str,
    title: str = "",
    metadata: Mapping[str, Any] | None = None,
    raw_source: bytes | None = None,
    raw_source_name: str = "",
    import_job: Job | None = None,
) -> Document:
    """An unsaved, validated Document with normalised text (for create and for bulk imports)."""
    normalised = normalise_text(text)
    if not normalised.strip():
        raise InvalidInput("the document has no text", field="text")
    if len(normalised) > MAX_TEXT_LENGTH:
        raise InvalidInput(f"the text is longer than {MAX_TEXT_LENGTH} characters", field="text")
    metadata = dict(metadata or {})
    unknown = set(metadata) - set(METADATA_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown metadata field(s): {', '.join(sorted(unknown))}", field="metadata")
    published = metadata.get("published_date")
    if isinstance(published, str) and published:
        try:
            metadata["published_date"] = datetime.date.fromisoformat(published[:10])
        except ValueError:
            raise InvalidInput(f"published date {published!r} is not YYYY-MM-DD", field="published_date") from None
    first_line = normalised.strip().split("\n", 1)[0]
    return Document(
        project=project,
        title=(normalise_text(title).strip() or first_line)[:500],
        text=normalised,
        text_sha256=text_sha256(normalised),
        raw_source=raw_source,
        raw_source_name=raw_source_name[:500],
        import_job=import_job,
        **{key: (value if value is not None else ("" if key != "published_date" else None))
           for key, value in metadata.items()},
    )  # fmt: skip


@transaction.atomic
def document_create(
    *,
    project: Project,
    text: str,
    actor: Any | None,
    title: str = "",
    metadata: Mapping[str, Any] | None = None,
    raw_source: bytes | None = None,
    raw_source_name: str = "",
) -> Document:
    """Create one document. Raises DuplicateDocument when the project has the same text or external id."""
    if actor is not None:
        access.require_can_manage(actor, project)
    document = document_build(
        project=project, text=text, title=title, metadata=metadata, raw_source=raw_source,
        raw_source_name=raw_source_name,
    )  # fmt: skip
    existing = Document.objects.filter(project=project, text_sha256=document.text_sha256).first()
    if existing is not None:
        raise DuplicateDocument(existing, "same text")
    if document.external_id:
        existing = Document.objects.filter(project=project, external_id=document.external_id).first()
        if existing is not None:
            raise DuplicateDocument(existing, f"same external id {document.external_id!r}")
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        # A concurrent import won the race; the constraint, not the check above, is the guarantee.
        existing = Document.objects.get(project=project, text_sha256=document.text_sha256)
        raise DuplicateDocument(existing, "same text") from None
    return document
