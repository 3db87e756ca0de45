"""REST API views: thin adapters. Lookups by id go through selectors (404 for
non-members and for sets blind mode hides), writes through the services, errors
through exceptions.api_exception_handler. Hot list paths read .values() rows and
build plain dicts: the shapes are the serializers' (see serializers.py)."""

from __future__ import annotations

import math
import uuid
from typing import Any, TypeVar, cast

import orjson
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from annotations import access, review_selectors, selectors
from annotations.agreement import AttributeAgreement, F1Score, ProjectAgreement, UnitizingResult, project_agreement
from annotations.api import feed, filters, serializers
from annotations.api.exceptions import PreconditionRequired
from annotations.api.pagination import MAX_PAGE_SIZE, MAX_ROW_PAGE_SIZE, KeysetPage
from annotations.exceptions import InvalidInput
from annotations.models import AnnotationSet, ApiToken, Change, Document, Membership, Project, Relation, Span
from annotations.services import annotating, bulk, documents

AnyQuerySet = TypeVar("AnyQuerySet", bound=QuerySet[Any])

ERRORS = {
    400: OpenApiResponse(serializers.ErrorSerializer, description="Bad input: code, message and the field at fault."),
    401: OpenApiResponse(serializers.ErrorSerializer, description="No valid token or session."),
    403: OpenApiResponse(serializers.ErrorSerializer, description="Your role does not allow this."),
    404: OpenApiResponse(serializers.ErrorSerializer, description="No such object, or not in your projects."),
    429: OpenApiResponse(serializers.ErrorSerializer, description="Too many requests; retry after Retry-After."),
}
WRITE_ERRORS = {
    **ERRORS,
    412: OpenApiResponse(serializers.ErrorSerializer, description="If-Match names an old version; ETag has the new."),
    428: OpenApiResponse(serializers.ErrorSerializer, description="If-Match is missing."),
}
PAGE_PARAMETERS = [
    OpenApiParameter("page_size", OpenApiTypes.INT, description=f"1 to {MAX_PAGE_SIZE}."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="Opaque: take it from `next` or `previous`."),
]
# Spans, relations and changes: small rows, bigger pages (pagination.MAX_ROW_PAGE_SIZE).
ROW_PAGE_PARAMETERS = [
    OpenApiParameter("page_size", OpenApiTypes.INT, description=f"1 to {MAX_ROW_PAGE_SIZE}."),
    PAGE_PARAMETERS[1],
]
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description='The annotation set version you saw (its ETag), e.g. "3".',
)  # fmt: skip


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request) -> int:
    """The set version the client names in If-Match; 428 if missing, 400 if unreadable."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit() or len(value) > 10:
        raise InvalidInput(
            f'If-Match must be a set version in quotes, such as "3"; got {header[:40]!r}', field="If-Match"
        )
    return int(value)


def offsets_hint(request: Request) -> tuple[int, int] | None:
    """start and end of a JSON body, peeked before the access check, which must come first.

    Only a hint: it lets the set's read bring text[start:end] along, and the service uses
    that slice only for exactly the start and end it validated. Never raises: a body that
    is not JSON, or has no whole-number offsets, is refused later, after the access check.
    """
    try:
        if request.content_type != "application/json" or int(request.META.get("CONTENT_LENGTH") or 0) > 100_000:
            return None
        body = orjson.loads(request.body)
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    start, end = body.get("start"), body.get("end")
    return (start, end) if type(start) is int and type(end) is int else None


def validated(serializer_class: type[Serializer[Any]], data: Any, **kwargs: Any) -> Any:
    if not isinstance(data, dict):
        raise ParseError("The request body must be a JSON object.")
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer


def paginate(
    view: APIView | None, request: Request, queryset: QuerySet[Any], to_dict: Any, max_size: int = MAX_PAGE_SIZE
) -> Response:
    """One keyset page of `queryset` (model instances or .values() rows), each row shaped by `to_dict`."""
    page = KeysetPage(request, max_size)
    rows = list(page.window(queryset))
    kept, next_url, previous_url = page.links([row["id"] if isinstance(row, dict) else row.pk for row in rows])
    rows = rows[:kept]
    if page.direction == "p":
        rows.reverse()
    return Response({"next": next_url, "previous": previous_url, "results": [to_dict(row) for row in rows]})


def sql_timestamp(column: str) -> str:
    """SQL spelling a timestamptz as _iso() does: UTC, `Z`, microseconds only when there are some.

    One to_char and a replace: cheaper for PostgreSQL than testing the microseconds apart.
    """
    return f"replace(to_char(({column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"


def paginate_fast(
    request: Request, rows: QuerySet[Any], to_dict: Any, sql_object: str, max_size: int = MAX_ROW_PAGE_SIZE
) -> Response:
    """paginate() for the big lists; on PostgreSQL each row comes back as its finished JSON text.

    Reading a row through the ORM (timestamps parsed by regex then formatted again,
    JSON columns parsed then written again) and building a dict per row to encode it
    was most of a page's time. Here the same keyset query is wrapped in one where
    PostgreSQL writes each row's JSON object (`sql_object`, over the inner query `r`,
    in to_dict's keys and spelling of values), and the page joins those texts as
    they are (orjson.Fragment). tests/annotations/api/test_list_pages.py checks that
    both paths give the same JSON.
    """
    if connection.vendor != "postgresql":
        return paginate(None, request, rows, to_dict, max_size)
    page = KeysetPage(request, max_size)
    inner, params = page.window(rows).query.sql_with_params()
    order = "ASC" if page.direction == "n" else "DESC"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.id, {sql_object} FROM ({inner}) r ORDER BY r.id {order}", params)
        fetched = cursor.fetchall()
    kept, next_url, previous_url = page.links([row[0] for row in fetched])
    fetched = fetched[:kept]
    if page.direction == "p":
        fetched.reverse()
    results = orjson.Fragment("[" + ",".join([row[1] for row in fetched]) + "]")
    return Response({"next": next_url, "previous": previous_url, "results": results})


def filtered(filterset_class: Any, request: Request, queryset: AnyQuerySet) -> AnyQuerySet:
    if not any(name in request.query_params for name in filterset_class.base_filters):
        return queryset  # no filter asked for: skip building the FilterSet (deep copies of every filter, per request)
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        from rest_framework.exceptions import ValidationError

        raise ValidationError(filterset.errors)
    return cast(AnyQuerySet, filterset.qs)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text: str = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- shapes --------------------------------------------------------------------------------------


def project_dict(project: Project, role: str | None) -> dict[str, Any]:
    return {
        "id": project.pk, "uuid": str(project.uuid), "name": project.name, "description": project.description,
        "guidelines": project.guidelines, "schema": project.schema,
        "annotators_per_document": project.annotators_per_document, "blind_mode": project.blind_mode,
        "role": role or "", "created_at": _iso(project.created_at), "updated_at": _iso(project.updated_at),
    }  # fmt: skip


DOCUMENT_FIELDS = (
    "id", "uuid", "project_id", "title", "text_sha256", "source_url", "outlet", "author", "published_date",
    "language", "external_id", "created_at", "updated_at",
)  # fmt: skip


def document_dict(row: dict[str, Any]) -> dict[str, Any]:
    data = {
        "id": row["id"], "uuid": str(row["uuid"]), "project": row["project_id"], "title": row["title"],
        "text_sha256": row["text_sha256"], "source_url": row["source_url"], "outlet": row["outlet"],
        "author": row["author"],
        "published_date": row["published_date"].isoformat() if row["published_date"] else None,
        "language": row["language"], "external_id": row["external_id"],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
    }  # fmt: skip
    if "text" in row:
        data["text"] = row["text"]
    return data


def document_instance_dict(document: Document) -> dict[str, Any]:
    row = {name: getattr(document, name) for name in DOCUMENT_FIELDS}
    row["text"] = document.text
    return document_dict(row)


SET_FIELDS = (
    "id", "uuid", "document_id", "annotator_id", "is_gold", "state", "version", "created_at", "updated_at",
    "submitted_at",
)  # fmt: skip


def set_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "uuid": str(row["uuid"]), "document": row["document_id"], "analyst": row["annotator_id"],
        "is_gold": row["is_gold"], "state": row["state"], "version": row["version"],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
        "submitted_at": _iso(row["submitted_at"]),
    }  # fmt: skip


def set_instance_dict(annotation_set: AnnotationSet) -> dict[str, Any]:
    return set_dict({name: getattr(annotation_set, name) for name in SET_FIELDS})


SPAN_FIELDS = (
    "id", "uuid", "annotation_set_id", "label", "start", "end", "quote", "attributes", "note", "created_at",
    "updated_at",
)  # fmt: skip


def span_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "uuid": str(row["uuid"]), "annotation_set": row["annotation_set_id"],
        "document": row["document"], "label": row["label"], "start": row["start"], "end": row["end"],
        "quote": row["quote"], "attributes": row["attributes"], "note": row["note"],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
    }  # fmt: skip


def span_instance_dict(span: Span) -> dict[str, Any]:
    row = {name: getattr(span, name) for name in SPAN_FIELDS}
    row["document"] = span.annotation_set.document_id
    return span_dict(row)


def span_rows(queryset: QuerySet[Span]) -> QuerySet[Any]:
    return cast("QuerySet[Any]", queryset.values(*SPAN_FIELDS, document=F("annotation_set__document_id")))


# span_dict's object for paginate_fast, written by PostgreSQL from a span_rows row `r`.
SPAN_SQL_OBJECT = (
    "(SELECT row_to_json(j)::text FROM (SELECT r.id, r.uuid, r.annotation_set_id AS annotation_set, r.document,"
    ' r.label, r.start, r."end", r.quote, r.attributes, r.note,'
    f" {sql_timestamp('r.created_at')} AS created_at, {sql_timestamp('r.updated_at')} AS updated_at) j)"
)


RELATION_FIELDS = ("id", "uuid", "annotation_set_id", "type", "attributes", "note", "created_at", "updated_at")


def relation_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "uuid": str(row["uuid"]), "annotation_set": row["annotation_set_id"],
        "document": row["document"], "type": row["type"], "source": str(row["source_uuid"]),
        "target": str(row["target_uuid"]), "attributes": row["attributes"], "note": row["note"],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
    }  # fmt: skip


def relation_rows(queryset: QuerySet[Relation]) -> QuerySet[Any]:
    rows: QuerySet[Any] = queryset.values(
        *RELATION_FIELDS,
        document=F("annotation_set__document_id"),
        source_uuid=F("source__uuid"),
        target_uuid=F("target__uuid"),
    )
    return rows


def relation_instance_dict(relation: Relation) -> dict[str, Any]:
    return relation_dict(relation_rows(Relation.objects.filter(pk=relation.pk)).get())


def change_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "object_type": row["object_type"], "object_uuid": str(row["object_uuid"]),
        "action": row["action"], "annotation_set": row["annotation_set_id"], "document": row["document"],
        "set_version": row["set_version"], "before": row["before"], "after": row["after"],
        "created_at": _iso(row["created_at"]),
    }  # fmt: skip


def visible_set_ids(user: Any, project: Project) -> QuerySet[Any]:
    # A subquery of set ids rather than joins up to the project: PostgreSQL walks the span
    # primary key in cursor order and probes a small hashed set, instead of joining per row.
    return (
        AnnotationSet.objects.filter(document__project=project)
        .filter(filters.visible_sets_q(user, project))
        .values("pk")
    )


# --- who am I --------------------------------------------------------------------------------


class WhoamiApi(APIView):
    @extend_schema(responses={200: serializers.TokenWhoamiSerializer, **ERRORS}, summary="Who the request acts as")
    def get(self, request: Request) -> Response:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        return Response(
            {"user": request.user.pk, "username": request.user.get_username(), "token": token.name if token else None}
        )


# --- projects -----------------------------------------------------------------------------------


class ProjectListApi(APIView):
    @extend_schema(
        operation_id="projects_list",
        responses={200: serializers.ProjectPageSerializer, **ERRORS},
        summary="Your projects",
    )
    def get(self, request: Request) -> Response:
        user_id = cast(int, request.user.pk)  # IsAuthenticatedMember let only a signed-in user this far
        roles = dict(Membership.objects.filter(user_id=user_id).values_list("project_id", "role"))
        queryset = Project.objects.filter(pk__in=list(roles))
        return paginate(self, request, queryset, lambda p: project_dict(p, roles.get(p.pk)))


class ProjectDetailApi(APIView):
    @extend_schema(responses={200: serializers.ProjectSerializer, **ERRORS}, summary="A project with its schema")
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        return Response(project_dict(project, access.role_in(request.user, project)))


class MemberListApi(APIView):
    @extend_schema(responses={200: serializers.MemberPageSerializer, **ERRORS}, summary="Members (reviewers, managers)")
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        # Analysts in blind mode must not learn who else annotates.
        access.require_can_review(request.user, project)
        queryset = Membership.objects.filter(project=project).values("id", "user_id", "user__username", "role")
        return paginate(
            self, request, queryset,
            lambda m: {"id": m["id"], "user": m["user_id"], "username": m["user__username"], "role": m["role"]},
        )  # fmt: skip


# --- documents ------------------------------------------------------------------------------------


class DocumentListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("include", OpenApiTypes.STR, enum=["text"], description="include=text adds each text."),
            *PAGE_PARAMETERS,
            OpenApiParameter("updated_after", OpenApiTypes.DATETIME),
            OpenApiParameter("external_id", OpenApiTypes.STR),
        ],
        responses={200: serializers.DocumentPageSerializer, **ERRORS},
        summary="Documents of a project",
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        include = request.query_params.get("include", "")
        if include not in ("", "text"):
            raise InvalidInput("include takes only 'text'", field="include")
        fields = DOCUMENT_FIELDS + (("text",) if include == "text" else ())
        queryset = filtered(filters.DocumentFilter, request, Document.objects.filter(project=project))
        return paginate(self, request, queryset.values(*fields), document_dict)

    @extend_schema(
        request=serializers.DocumentCreateSerializer,
        responses={201: serializers.DocumentSerializer, **ERRORS},
        summary="Create a document (managers)",
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        data = validated(serializers.DocumentCreateSerializer, request.data)
        document = documents.document_create(
            project=project, text=data.validated_data["text"], title=data.validated_data.get("title", ""),
            metadata=data.metadata(), actor=request.user,
        )  # fmt: skip
        return Response(document_instance_dict(document), status=status.HTTP_201_CREATED)


class DocumentDetailApi(APIView):
    @extend_schema(responses={200: serializers.DocumentSerializer, **ERRORS}, summary="A document with its text")
    def get(self, request: Request, document_id: int) -> Response:
        document = selectors.document_get(document_id=document_id, user=request.user)
        return Response(document_instance_dict(document))


# --- annotation sets -------------------------------------------------------------------------------


class DocumentSetListApi(APIView):
    @extend_schema(responses={200: serializers.AnnotationSetPageSerializer, **ERRORS}, summary="A document's sets")
    def get(self, request: Request, document_id: int) -> Response:
        document = selectors.document_get(document_id=document_id, user=request.user)
        queryset = AnnotationSet.objects.filter(document=document).filter(
            filters.visible_sets_q(request.user, document.project)
        )
        return paginate(self, request, queryset.values(*SET_FIELDS), set_dict)


class ProjectSetListApi(APIView):
    @extend_schema(
        filters=True,
        parameters=PAGE_PARAMETERS,
        responses={200: serializers.AnnotationSetPageSerializer, **ERRORS},
        summary="Annotation sets of a project (analysts' and gold)",
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        queryset = AnnotationSet.objects.filter(document__project=project).filter(
            filters.visible_sets_q(request.user, project)
        )
        queryset = filtered(filters.AnnotationSetFilter, request, queryset)
        return paginate(self, request, queryset.values(*SET_FIELDS), set_dict)

    filterset_class = filters.AnnotationSetFilter


class SetDetailApi(APIView):
    @extend_schema(responses={200: serializers.AnnotationSetSerializer, **ERRORS}, summary="A set; ETag = version")
    def get(self, request: Request, set_id: int) -> Response:
        annotation_set = selectors.annotation_set_get(set_id=set_id, user=request.user)
        return Response(set_instance_dict(annotation_set), headers={"ETag": etag(annotation_set.version)})


# --- spans -----------------------------------------------------------------------------------------


class ProjectSpanListApi(APIView):
    filterset_class = filters.SpanFilter

    @extend_schema(
        filters=True,
        parameters=ROW_PAGE_PARAMETERS,
        responses={200: serializers.SpanPageSerializer, **ERRORS},
        summary="Every span you may see in a project",
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        queryset = Span.objects.filter(annotation_set__in=visible_set_ids(request.user, project))
        queryset = filtered(filters.SpanFilter, request, queryset)
        return paginate_fast(request, span_rows(queryset), span_dict, SPAN_SQL_OBJECT)


class SetSpanListApi(APIView):
    @extend_schema(
        parameters=ROW_PAGE_PARAMETERS,
        responses={200: serializers.SpanPageSerializer, **ERRORS},
        summary="Spans of a set",
    )
    def get(self, request: Request, set_id: int) -> Response:
        annotation_set = selectors.annotation_set_get(set_id=set_id, user=request.user)
        queryset = span_rows(Span.objects.filter(annotation_set=annotation_set))
        response = paginate_fast(request, queryset, span_dict, SPAN_SQL_OBJECT)
        response["ETag"] = etag(annotation_set.version)
        return response

    @extend_schema(
        parameters=[IF_MATCH],
        request=serializers.SpanCreateSerializer,
        responses={201: serializers.SpanSerializer, **WRITE_ERRORS},
        summary="Create a span",
    )
    def post(self, request: Request, set_id: int) -> Response:
        # One read is both the access check (first: 404 before any other answer) and the service's
        # lock, and it brings text[start:end] for the quote check instead of the text.
        with transaction.atomic():
            annotation_set = selectors.annotation_set_get_for_write(
                set_id=set_id, user=request.user, lock=True, text_range=offsets_hint(request)
            )
            body = request.data
            if not isinstance(body, dict):
                raise ParseError("The request body must be a JSON object.")
            data = serializers.span_create_input(body)
            span = annotating.span_create(
                annotation_set=annotation_set, actor=request.user, expected_version=expected_version(request),
                label=data["label"], start=data["start"], end=data["end"], quote=data["quote"],
                attributes=data["attributes"], note=data["note"], span_uuid=data.get("uuid"),
            )  # fmt: skip
        return Response(
            span_instance_dict(span),
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag(span.annotation_set.version)},
        )


class SpanDetailApi(APIView):
    @extend_schema(responses={200: serializers.SpanSerializer, **ERRORS}, summary="A span; ETag = its set's version")
    def get(self, request: Request, span_id: int) -> Response:
        span = selectors.span_get(span_id=span_id, user=request.user)
        return Response(span_instance_dict(span), headers={"ETag": etag(span.annotation_set.version)})

    @extend_schema(
        parameters=[IF_MATCH],
        request=serializers.SpanUpdateSerializer,
        responses={200: serializers.SpanSerializer, **WRITE_ERRORS},
        summary="Change a span (move: start, end and quote together)",
    )
    def patch(self, request: Request, span_id: int) -> Response:
        span = selectors.span_get(span_id=span_id, user=request.user)
        data = validated(serializers.SpanUpdateSerializer, request.data, partial=True).validated_data
        span = annotating.span_update(span=span, actor=request.user, expected_version=expected_version(request), **data)
        version = AnnotationSet.objects.filter(pk=span.annotation_set_id).values_list("version", flat=True).get()
        return Response(span_instance_dict(span), headers={"ETag": etag(version)})

    @extend_schema(parameters=[IF_MATCH], responses={204: None, **WRITE_ERRORS}, summary="Delete a span and its links")
    def delete(self, request: Request, span_id: int) -> Response:
        span = selectors.span_get(span_id=span_id, user=request.user)
        annotating.span_delete(span=span, actor=request.user, expected_version=expected_version(request))
        version = AnnotationSet.objects.filter(pk=span.annotation_set_id).values_list("version", flat=True).get()
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"ETag": etag(version)})


# --- relations --------------------------------------------------------------------------------------


class ProjectRelationListApi(APIView):
    filterset_class = filters.RelationFilter

    @extend_schema(
        filters=True,
        parameters=ROW_PAGE_PARAMETERS,
        responses={200: serializers.RelationPageSerializer, **ERRORS},
        summary="Every relation you may see in a project",
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        queryset = Relation.objects.filter(annotation_set__in=visible_set_ids(request.user, project))
        queryset = filtered(filters.RelationFilter, request, queryset)
        return paginate(self, request, relation_rows(queryset), relation_dict, MAX_ROW_PAGE_SIZE)


def _span_in_set_by_uuid(annotation_set: AnnotationSet, span_uuid: uuid.UUID, field: str) -> Span:
    span = Span.objects.filter(annotation_set=annotation_set, uuid=span_uuid).first()
    if span is None:
        raise InvalidInput(f"{field} {span_uuid} is not a span of this annotation set", field=field)
    return span


class SetRelationListApi(APIView):
    @extend_schema(
        parameters=ROW_PAGE_PARAMETERS,
        responses={200: serializers.RelationPageSerializer, **ERRORS},
        summary="Relations of a set",
    )
    def get(self, request: Request, set_id: int) -> Response:
        annotation_set = selectors.annotation_set_get(set_id=set_id, user=request.user)
        queryset = relation_rows(Relation.objects.filter(annotation_set=annotation_set))
        response = paginate(self, request, queryset, relation_dict, MAX_ROW_PAGE_SIZE)
        response["ETag"] = etag(annotation_set.version)
        return response

    @extend_schema(
        parameters=[IF_MATCH],
        request=serializers.RelationCreateSerializer,
        responses={201: serializers.RelationSerializer, **WRITE_ERRORS},
        summary="Link two spans of the set",
    )
    def post(self, request: Request, set_id: int) -> Response:
        annotation_set = selectors.annotation_set_get_for_write(set_id=set_id, user=request.user)
        data = validated(serializers.RelationCreateSerializer, request.data).validated_data
        version = expected_version(request)
        relation = annotating.relation_create(
            annotation_set=annotation_set, actor=request.user, expected_version=version, type=data["type"],
            source=_span_in_set_by_uuid(annotation_set, data["source"], "source"),
            target=_span_in_set_by_uuid(annotation_set, data["target"], "target"),
            attributes=data["attributes"], note=data["note"], relation_uuid=data.get("uuid"),
        )  # fmt: skip
        return Response(
            relation_instance_dict(relation),
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag(relation.annotation_set.version)},
        )


class RelationDetailApi(APIView):
    @extend_schema(responses={200: serializers.RelationSerializer, **ERRORS}, summary="A relation")
    def get(self, request: Request, relation_id: int) -> Response:
        relation = selectors.relation_get(relation_id=relation_id, user=request.user)
        return Response(relation_instance_dict(relation), headers={"ETag": etag(relation.annotation_set.version)})

    @extend_schema(
        parameters=[IF_MATCH],
        request=serializers.RelationUpdateSerializer,
        responses={200: serializers.RelationSerializer, **WRITE_ERRORS},
        summary="Change a relation's attributes or note",
    )
    def patch(self, request: Request, relation_id: int) -> Response:
        relation = selectors.relation_get(relation_id=relation_id, user=request.user)
        data = validated(serializers.RelationUpdateSerializer, request.data, partial=True).validated_data
        annotating.relation_update(
            relation=relation, actor=request.user, expected_version=expected_version(request), **data
        )
        version = AnnotationSet.objects.filter(pk=relation.annotation_set_id).values_list("version", flat=True).get()
        return Response(relation_instance_dict(relation), headers={"ETag": etag(version)})

    @extend_schema(parameters=[IF_MATCH], responses={204: None, **WRITE_ERRORS}, summary="Delete a relation")
    def delete(self, request: Request, relation_id: int) -> Response:
        relation = selectors.relation_get(relation_id=relation_id, user=request.user)
        annotating.relation_delete(relation=relation, actor=request.user, expected_version=expected_version(request))
        version = AnnotationSet.objects.filter(pk=relation.annotation_set_id).values_list("version", flat=True).get()
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"ETag": etag(version)})


# --- bulk pre-annotations --------------------------------------------------------------------------


class SetBulkApi(APIView):
    @extend_schema(
        parameters=[IF_MATCH],
        request=serializers.BulkRequestSerializer,
        responses={201: serializers.BulkResultSerializer, **WRITE_ERRORS},
        summary="Create many spans and relations in one set: all or nothing",
        description="A bad item refuses the whole request; `errors` lists every bad item as spans[i] or relations[i].",
    )
    def post(self, request: Request, set_id: int) -> Response:
        annotation_set = selectors.annotation_set_get(set_id=set_id, user=request.user)
        if not isinstance(request.data, dict):
            raise ParseError("The request body must be a JSON object with 'spans' and/or 'relations'.")
        spans, relations = request.data.get("spans", []), request.data.get("relations", [])
        for name, value in (("spans", spans), ("relations", relations)):
            if not isinstance(value, list):
                raise InvalidInput(f"{name} must be a list", field=name)
        unknown = set(request.data) - {"spans", "relations"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}", field=sorted(unknown)[0])
        result = bulk.spans_bulk_create(
            annotation_set=annotation_set, spans=spans, relations=relations, actor=request.user,
            expected_version=expected_version(request),
        )  # fmt: skip
        return Response(
            {
                "annotation_set": result.annotation_set.pk,
                "version": result.annotation_set.version,
                "spans": [str(u) for u in result.span_uuids],
                "relations": [str(u) for u in result.relation_uuids],
            },
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag(result.annotation_set.version)},
        )


# --- agreement -----------------------------------------------------------------------------------------


def _number(value: float) -> float | None:
    # Undefined coefficients are nan in annotations/agreement.py; JSON has no NaN, so they are null.
    return None if math.isnan(value) else value


def f1_dict(score: F1Score) -> dict[str, Any]:
    return {
        "f1": _number(score.f1), "precision": _number(score.precision), "recall": _number(score.recall),
        "matched": score.matched_pairs, "a_count": score.a_count, "b_count": score.b_count,
    }  # fmt: skip


def unitizing_dict(result: UnitizingResult) -> dict[str, Any]:
    return {
        "label": result.label, "alpha": _number(result.alpha), "spans": result.spans,
        "analysts": result.annotators, "documents": result.documents,
    }  # fmt: skip


def attribute_agreement_dict(result: AttributeAgreement) -> dict[str, Any]:
    return {
        "attribute": result.attribute, "alpha": _number(result.alpha), "kappa": _number(result.kappa),
        "items": result.items, "analysts": result.annotators,
    }  # fmt: skip


def agreement_dict(
    agreement: ProjectAgreement, names: dict[str, str], *, project: Project, document: Document | None
) -> dict[str, Any]:
    """The API's agreement shape: analysts by display name only (ids would undo hidden names)."""
    relations: dict[str, int] = {}
    for summary in agreement.documents:
        for analyst, count in summary.relation_counts.items():
            relations[analyst] = relations.get(analyst, 0) + count
    return {
        "project": project.pk,
        "document": document.pk if document else None,
        "documents": len(agreement.documents),
        "labels": [unitizing_dict(result) for result in agreement.unitizing.values()],
        "overall": unitizing_dict(agreement.unitizing_overall),
        "pairs": [
            {
                "analyst_a": names.get(pair.annotator_a, "?"),
                "analyst_b": names.get(pair.annotator_b, "?"),
                "spans_exact": f1_dict(pair.spans_exact),
                "spans_overlap": f1_dict(pair.spans_overlap),
                "relations_exact": f1_dict(pair.relations_exact),
                "relations_overlap": f1_dict(pair.relations_overlap),
                "attributes": [attribute_agreement_dict(result) for result in pair.attributes.values()],
            }  # fmt: skip
            for pair in agreement.pairs
        ],
        "attributes": [attribute_agreement_dict(result) for result in agreement.attributes.values()],
        "analysts": [
            {
                "name": names.get(analyst, "?"),
                "spans": dict(counts),
                "spans_total": sum(counts.values()),
                "relations": relations.get(analyst, 0),
            }  # fmt: skip
            for analyst, counts in agreement.span_counts.items()
        ],
    }


def _agreement_response(user: Any, project: Project, document: Document | None) -> Response:
    data = review_selectors.agreement_input(project=project, user=user, document=document)
    # One code path for both reads: over a single document the pooled figures are that document's.
    agreement = project_agreement(data.documents, labels=data.labels, attributes=data.attributes)
    return Response(agreement_dict(agreement, data.names, project=project, document=document))


AGREEMENT_DESCRIPTION = (
    "Over submitted analyst sets only (withdrawn sets left out), on documents with two or more of them. "
    "Coefficients that are undefined for the data (nobody marked a label, one analyst) are null."
)


class ProjectAgreementApi(APIView):
    @extend_schema(
        responses={200: serializers.AgreementSerializer, **ERRORS},
        summary="Inter-annotator agreement over a project (reviewers, managers)",
        description=AGREEMENT_DESCRIPTION,
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        return _agreement_response(request.user, project, None)


class DocumentAgreementApi(APIView):
    @extend_schema(
        responses={200: serializers.AgreementSerializer, **ERRORS},
        summary="Inter-annotator agreement on one document (reviewers, managers)",
        description=AGREEMENT_DESCRIPTION,
    )
    def get(self, request: Request, document_id: int) -> Response:
        document = selectors.document_get(document_id=document_id, user=request.user)
        return _agreement_response(request.user, document.project, document)


# --- changes feed --------------------------------------------------------------------------------


class ProjectChangeFeedApi(APIView):
    filterset_class = filters.ChangeFilter

    @extend_schema(
        filters=True,
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="The last change id you have; 0 to start."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description=f"1 to {MAX_ROW_PAGE_SIZE}."),
        ],
        responses={200: serializers.ChangePageSerializer, **ERRORS},
        summary="What changed since `after`, deletions included, in commit-safe order",
        description=(
            "Changes in id order, only once every earlier change is committed (see docs/api.md): "
            "a client that stores next_after and asks again never misses or repeats a change."
        ),
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        after = _int_param(request, "after", default=0, minimum=0)
        page_size = _int_param(request, "page_size", default=100, minimum=1, maximum=MAX_ROW_PAGE_SIZE)
        # The bound is taken before reading, so nothing committed later can slip in below it.
        bound = feed.safe_bound()
        queryset = Change.objects.filter(project=project, pk__gt=after).filter(
            filters.visible_sets_q(request.user, project, prefix="annotation_set__")
        )
        queryset = filtered(filters.ChangeFilter, request, queryset)
        rows: list[Any] = list(queryset.order_by("pk").values(
            "id", "object_type", "object_uuid", "action", "annotation_set_id", "set_version", "before", "after",
            "created_at", document=F("annotation_set__document_id"),
        )[: page_size + 1])  # fmt: skip
        settled, held_back = feed.settled_prefix(rows, bound)
        object_type = request.query_params.get("object_type") or None  # valid: the filter checked it
        page = feed.fill_page(settled, page_size, object_type)
        return Response(
            {
                "results": feed.expand(page, object_type, change_dict),
                "next_after": feed.last_id(page, after),
                "has_more": not held_back and len(settled) > len(page),
            }
        )


def _int_param(request: Request, name: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(f"{name} must be a whole number", field=name)
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise InvalidInput(f"{name} must be {bound}", field=name)
    return value


@csrf_exempt  # nothing happens here; without it an unmatched POST would get CSRF's HTML page
def api_not_found(request: Any, unmatched: str = "") -> Any:
    """Any /api/v1/ path that matches no route (e.g. a negative id) gets the JSON error shape, not an HTML page."""
    from django.http import JsonResponse

    return JsonResponse({"code": "not_found", "message": "No such API endpoint or object.", "field": None}, status=404)
