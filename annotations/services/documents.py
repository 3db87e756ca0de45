"""Creating documents. Text is normalised here once and never edited afterwards."""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from annotations import access
from annotations.exceptions import InvalidInput
from annotations.models import Document, Job, Project
from annotations.text import normalise_text, text_sha256

METADATA_FIELDS = ("source_url", "outlet", "author", "published_date", "language", "external_id")
MAX_TEXT_LENGTH = 5_000_000
# What normalise_text changes: CR, a BOM, and control characters other than tab and newline.
_NEEDS_NORMALISING = re.compile("[\r\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f]")


class DuplicateDocument(InvalidInput):
    code = "duplicate"

    def __init__(self, existing: Document, reason: str) -> None:
        super().__init__(f"skipped: duplicate of document {existing.uuid} ({reason})")
        self.existing = existing


def document_fields(
    *,
    text: str,
    title: str = "",
    metadata: Mapping[str, Any] | None = None,
    raw_source: bytes | None = None,
    raw_source_name: str = "",
    text_is_normalised: bool = False,
) -> dict[str, Any]:
    """The validated field values of a new Document, keyed by field name (no model instance).

    Bulk imports write these straight into COPY rows: building a model
    instance per document costs more than the rest of the row's work.
    `text_is_normalised` is for importers, whose ParsedDocument.text is
    normalised by contract (they map offsets through it): no second pass.
    Raises InvalidInput naming the field at fault.
    """
    normalised = text if text_is_normalised else _normalised(text)
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
    fields: dict[str, Any] = {
        key: (value if value is not None else ("" if key != "published_date" else None))
        for key, value in metadata.items()
    }
    fields.update(
        title=(_normalised(title).strip() or first_line)[:500],
        text=normalised,
        text_sha256=text_sha256(normalised),
        raw_source=raw_source,
        raw_source_name=raw_source_name[:500],
    )
    return fields


def _normalised(text: str) -> str:
    # Importers hand over text they have already normalised (they map offsets through
    # it); two C-speed scans recognise that and skip a second full pass.
    if _NEEDS_NORMALISING.search(text) is None and unicodedata.is_normalized("NFC", text):
        return text
    return normalise_text(text)


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
    fields = document_fields(
        text=text, title=title, metadata=metadata, raw_source=raw_source, raw_source_name=raw_source_name
    )
    return Document(project=project, import_job=import_job, **fields)


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
