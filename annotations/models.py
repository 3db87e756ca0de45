"""Claimbench's data model, top-down: Project → Membership → Document →
AnnotationSet → Span → Relation → Job → Change. Each model's QuerySet sits
above it. Domain rules live in services/; here are only the invariants the
database can hold (constraints) and single-row checks (clean()).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from annotations.schema import Schema, default_schema_document, parse_schema, parse_schema_cached


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    MANAGER = "manager", "Manager"


class GoldAcceptance(models.TextChoices):
    UNANIMOUS = "unanimous", "Unanimous"
    MAJORITY = "majority", "Majority"


# --- Project ------------------------------------------------------------------------


class ProjectQuerySet(models.QuerySet["Project"]):
    def for_member(self, user: Any) -> ProjectQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Project(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown, rendered through an allow-list sanitiser.")
    schema = models.JSONField(default=default_schema_document)
    annotators_per_document = models.PositiveSmallIntegerField(default=2)
    blind_mode = models.BooleanField(default=True, help_text="Analysts see only their own annotation sets.")
    hide_annotator_names = models.BooleanField(default=False, help_text="Reviewers see analysts as A, B, C.")
    snap_to_words = models.BooleanField(default=True, help_text="Selections snap to word boundaries.")
    gold_acceptance = models.CharField(max_length=12, choices=GoldAcceptance.choices, default=GoldAcceptance.UNANIMOUS)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def parsed_schema(self) -> Schema:
        # Cached per instance: a page parses the schema once, whatever it renders.
        cached: Schema | None = getattr(self, "_parsed_schema", None)
        if cached is None:
            cached = parse_schema_cached(self.pk, self.schema) if self.pk else parse_schema(self.schema)
            self._parsed_schema = cached
        return cached

    def clean(self) -> None:
        from annotations.schema import SchemaError

        try:
            parse_schema(self.schema)
        except SchemaError as error:
            raise ValidationError({"schema": str(error)}) from None


# --- Membership ---------------------------------------------------------------------


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user_in_project")]
        ordering = ["project", "role", "user"]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.project}"


# --- Document ---------------------------------------------------------------------------


class DocumentQuerySet(models.QuerySet["Document"]):
    def in_project(self, project: Project) -> DocumentQuerySet:
        return self.filter(project=project)


class Document(models.Model):
    """An article. Its text is normalised at import and never edited afterwards."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: document_text_unique_in_project and document_sync_idx start with it.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="documents", db_index=False)
    title = models.CharField(max_length=500, blank=True)
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64, editable=False)
    raw_source = models.BinaryField(null=True, blank=True, editable=False)
    raw_source_name = models.CharField(max_length=500, blank=True)
    source_url = models.URLField(max_length=2000, blank=True)
    outlet = models.CharField(max_length=200, blank=True)
    author = models.CharField(max_length=300, blank=True)
    published_date = models.DateField(null=True, blank=True)
    language = models.CharField(max_length=20, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    import_job = models.ForeignKey(
        "Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="imported_documents"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["project", "text_sha256"], name="document_text_unique_in_project"),
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=~Q(external_id=""),
                name="document_external_id_unique_in_project",
            ),
        ]
        indexes = [models.Index(fields=["project", "updated_at", "id"], name="document_sync_idx")]

    def __str__(self) -> str:
        return self.title or f"Document {self.pk}"


# --- AnnotationSet ---------------------------------------------------------------------


class SetState(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    # Gold sets only:
    OPEN = "open", "Open"
    ADJUDICATED = "adjudicated", "Adjudicated"


ANALYST_STATES = (SetState.ASSIGNED, SetState.IN_PROGRESS, SetState.SUBMITTED)
GOLD_STATES = (SetState.OPEN, SetState.ADJUDICATED)


class AnnotationSetQuerySet(models.QuerySet["AnnotationSet"]):
    def analysts(self) -> AnnotationSetQuerySet:
        return self.filter(is_gold=False)

    def gold(self) -> AnnotationSetQuerySet:
        return self.filter(is_gold=True)


class AnnotationSet(models.Model):
    """One analyst's annotations of one document, or the document's gold set.

    `version` increases by one with every write to the set, its spans or its
    relations; writers name the version they saw and a stale one is refused.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="annotation_sets")
    # No index of its own: annotation_set_queue_idx starts with it.
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="annotation_sets",
        db_index=False,
    )
    is_gold = models.BooleanField(default=False)
    state = models.CharField(max_length=12, choices=SetState.choices, default=SetState.ASSIGNED)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An analyst's set taken off the document with its work kept: no longer required for review.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = AnnotationSetQuerySet.as_manager()

    class Meta:
        ordering = ["document", "is_gold", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "annotator"], condition=Q(is_gold=False), name="annotation_set_one_per_analyst"
            ),
            models.UniqueConstraint(fields=["document"], condition=Q(is_gold=True), name="annotation_set_one_gold"),
            models.CheckConstraint(
                condition=(Q(is_gold=True, annotator__isnull=True) & Q(state__in=GOLD_STATES))
                | (Q(is_gold=False, annotator__isnull=False) & Q(state__in=ANALYST_STATES)),
                name="annotation_set_gold_has_no_analyst",
            ),
        ]
        indexes = [models.Index(fields=["annotator", "state"], name="annotation_set_queue_idx")]

    def __str__(self) -> str:
        owner = "gold" if self.is_gold else str(self.annotator)
        return f"{owner} on {self.document}"

    @property
    def is_read_only(self) -> bool:
        return self.state in (SetState.SUBMITTED, SetState.ADJUDICATED)


# --- Span -------------------------------------------------------------------------------


class SpanQuerySet(models.QuerySet["Span"]):
    def in_document(self, document: Document) -> SpanQuerySet:
        return self.filter(annotation_set__document=document)

    def in_reading_order(self) -> SpanQuerySet:
        return self.order_by("start", "-end", "label", "pk")


class Span(models.Model):
    """A labelled stretch [start, end) of a document's text, in code points."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: span_set_start_idx starts with it.
    annotation_set = models.ForeignKey(AnnotationSet, on_delete=models.CASCADE, related_name="spans", db_index=False)
    label = models.CharField(max_length=40)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    quote = models.TextField()
    attributes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    # Gold items only: where the item came from (unanimous, majority, adjudicated by whom, from which spans).
    provenance = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = SpanQuerySet.as_manager()

    class Meta:
        ordering = ["start", "-end", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(start__gte=0) & Q(start__lt=F("end")), name="span_start_before_end"),
        ]
        indexes = [models.Index(fields=["annotation_set", "start"], name="span_set_start_idx")]

    def __str__(self) -> str:
        return f"{self.label} [{self.start}, {self.end})"

    def clean(self) -> None:
        text = self.annotation_set.document.text
        if self.end > len(text):
            raise ValidationError({"end": f"end {self.end} is past the end of the text ({len(text)} characters)"})
        if text[self.start : self.end] != self.quote:
            raise ValidationError({"quote": "does not match the document text at these offsets"})


# --- Relation ---------------------------------------------------------------------------


class Relation(models.Model):
    """A directed link between two spans of the same annotation set."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    annotation_set = models.ForeignKey(AnnotationSet, on_delete=models.CASCADE, related_name="relations")
    type = models.CharField(max_length=40)
    source = models.ForeignKey(Span, on_delete=models.CASCADE, related_name="outgoing_relations")
    target = models.ForeignKey(Span, on_delete=models.CASCADE, related_name="incoming_relations")
    attributes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["type", "source", "target"], name="relation_unique_link"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="relation_not_to_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.type} {self.target_id}"


# --- GoldDecision -----------------------------------------------------------------------


class DecisionAction(models.TextChoices):
    AUTO = "auto", "Pre-accepted"
    ACCEPT = "accept", "Accepted a version"
    MERGE = "merge", "Merged boundaries"
    EDIT = "edit", "Edited"
    REJECT = "reject", "Rejected"
    ADD = "add", "Added"


class GoldDecision(models.Model):
    """A reviewer's decision on one decision point of a document, keyed by the point's
    stable identity (label and extent of the cluster, or a relation between two points).

    Re-merging after an analyst resubmits recomputes the points but never touches a
    row here: a decided point stays decided, and its gold items stay in the gold set.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="gold_decisions")
    point_key = models.CharField(max_length=300)
    action = models.CharField(max_length=10, choices=DecisionAction.choices)
    provenance_kind = models.CharField(max_length=12)
    source_uuids = models.JSONField(default=list, blank=True)
    result_uuids = models.JSONField(default=list, blank=True)
    rationale = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["document", "point_key"], name="gold_decision_one_per_point"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.point_key}"


# --- Job ---------------------------------------------------------------------------------


class JobKind(models.TextChoices):
    IMPORT = "import", "Import"
    EXPORT = "export", "Export"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


def job_file_path(instance: Job, filename: str) -> str:
    # Stored under an unguessable path; served only through a permission-checked view.
    return f"jobs/{instance.project_id}/{instance.uuid}/{filename}"


class Job(models.Model):
    """An import or export the user can watch: status, progress and row errors."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=10, choices=JobKind.choices)
    format = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    # Resume point after a redelivery: the input position of the last committed batch.
    checkpoint = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    input_file = models.FileField(upload_to=job_file_path, max_length=500, blank=True)
    input_name = models.CharField(max_length=500, blank=True)
    output_file = models.FileField(upload_to=job_file_path, max_length=500, blank=True)
    deliveries = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.format} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class JobRowError(models.Model):
    """One bad input row of a job: which file, which line, and why."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="row_errors")
    source_name = models.CharField(max_length=500)
    line = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.source_name}:{self.line or '-'}: {self.reason}"


# --- Change (history and tombstones) ---------------------------------------------------


class ChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    # One row per set that an import brought, its spans and relations in `after` (decision record 0012).
    IMPORT = "import", "Imported"


class ChangeObject(models.TextChoices):
    SPAN = "span", "Span"
    RELATION = "relation", "Relation"
    SET = "set", "Annotation set"


class Change(models.Model):
    """One change to a span, a relation or a set's state: who, when, before, after.

    Nothing an analyst did is lost: a deleted span lives on in `before`, and
    the changes of one user action share a `group` so undo reverts them together.
    """

    # No database constraint on project and actor (decision record 0009): history rows are written by
    # the ten thousand, each foreign-key check costs PostgreSQL as much as a third of the row, and both
    # are checked where they come from (project: the set's own, under the set's constraint; actor: the
    # signed-in user). Deleting a project or a user still cascades / sets null, in Django's collector.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    # No index of its own: change_set_recent_idx starts with it.
    annotation_set = models.ForeignKey(AnnotationSet, on_delete=models.CASCADE, related_name="changes", db_index=False)
    object_type = models.CharField(max_length=10, choices=ChangeObject.choices)
    object_uuid = models.UUIDField()
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    group = models.UUIDField(default=uuid.uuid4)
    set_version = models.PositiveIntegerField(help_text="The set's version after this change.")
    # Indexed only where set (change_reverts_idx): most changes revert nothing, and imports write many.
    reverts = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["annotation_set", "-id"], name="change_set_recent_idx"),
            models.Index(fields=["object_uuid", "-id"], name="change_object_idx"),
            models.Index(fields=["reverts"], condition=Q(reverts__isnull=False), name="change_reverts_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_uuid}"


# --- ApiToken ---------------------------------------------------------------------------


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    """A named personal API token. Only the SHA-256 of the secret is stored; the
    secret is shown once, at creation. The token acts as its user: every request
    re-checks the user's memberships, so a removed member loses access at once."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The first characters of the token, to recognise it.")
    token_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
