"""The admin: a support tool. Document text is read-only (it is fixed at import),
and span changes go through the service layer elsewhere, so spans and history
are shown read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations.models import AnnotationSet, Change, Document, Job, JobRowError, Membership, Project, Relation, Span


class MembershipInline(admin.TabularInline[Membership, Project]):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ["name", "annotators_per_document", "blind_mode", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    readonly_fields = ["uuid", "created_at", "updated_at"]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin[Document]):
    list_display = ["title", "project", "outlet", "published_date", "created_at"]
    list_filter = ["project"]
    search_fields = ["title", "external_id"]
    readonly_fields = ["uuid", "text", "text_sha256", "raw_source_name", "import_job", "created_at", "updated_at"]
    exclude = ["raw_source"]


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AnnotationSet)
class AnnotationSetAdmin(ReadOnlyAdmin):
    list_display = ["document", "annotator", "is_gold", "state", "version", "updated_at"]
    list_filter = ["state", "is_gold", "document__project"]


@admin.register(Span)
class SpanAdmin(ReadOnlyAdmin):
    list_display = ["label", "start", "end", "quote", "annotation_set"]
    list_filter = ["label"]


@admin.register(Relation)
class RelationAdmin(ReadOnlyAdmin):
    list_display = ["type", "source", "target", "annotation_set"]


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "object_type", "object_uuid", "annotation_set"]
    list_filter = ["action", "object_type"]


class JobRowErrorInline(admin.TabularInline[JobRowError, Job]):
    model = JobRowError
    extra = 0
    can_delete = False
    readonly_fields = ["source_name", "line", "reason"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = ["created_at", "project", "kind", "format", "status", "done", "total", "rows_failed"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobRowErrorInline]
