"""API shapes. Output serializers describe what the views return (the hot list
paths build the same dicts from .values() rows, see views.py); input
serializers check shape only — the services check meaning."""

from __future__ import annotations

import uuid
from typing import Any, TypeGuard

from rest_framework import serializers

from annotations.services.documents import METADATA_FIELDS


class ErrorItemSerializer(serializers.Serializer[Any]):
    item = serializers.CharField()
    index = serializers.IntegerField()
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable, for programs: not_found, invalid, quote_mismatch, stale_version…")
    message = serializers.CharField(help_text="For people: what is wrong and why.")
    field = serializers.CharField(allow_null=True, help_text="The input field at fault, if one is.")
    errors = ErrorItemSerializer(many=True, required=False, help_text="Bulk requests: every bad item.")  # type: ignore[assignment]  # an API field named like a DRF attribute


class ProjectSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    guidelines = serializers.CharField(help_text="Markdown.")
    schema = serializers.JSONField(help_text="Labels, relation types and attributes.")
    annotators_per_document = serializers.IntegerField()
    blind_mode = serializers.BooleanField()
    role = serializers.CharField(help_text="Your role in the project.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MemberSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The membership id.")
    user = serializers.IntegerField(help_text="The user id (the `analyst` filter takes it).")
    username = serializers.CharField()
    role = serializers.CharField()


class DocumentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    project = serializers.IntegerField()
    title = serializers.CharField()
    text_sha256 = serializers.CharField()
    source_url = serializers.CharField()
    outlet = serializers.CharField()
    author = serializers.CharField()
    published_date = serializers.DateField(allow_null=True)
    language = serializers.CharField()
    external_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    text = serializers.CharField(required=False, help_text="In lists only with ?include=text.")


class DocumentCreateSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(trim_whitespace=False, max_length=5_000_000)
    title = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    source_url = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    outlet = serializers.CharField(required=False, allow_blank=True, max_length=200)
    author = serializers.CharField(required=False, allow_blank=True, max_length=300)
    published_date = serializers.DateField(required=False, allow_null=True)
    language = serializers.CharField(required=False, allow_blank=True, max_length=20)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=200)

    def metadata(self) -> dict[str, Any]:
        return {key: self.validated_data[key] for key in METADATA_FIELDS if key in self.validated_data}


class AnnotationSetSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    document = serializers.IntegerField()
    analyst = serializers.IntegerField(allow_null=True, help_text="The analyst's user id; null for gold.")
    is_gold = serializers.BooleanField()
    state = serializers.CharField()
    version = serializers.IntegerField(help_text="Also the ETag; name it in If-Match when you write.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)


class SpanSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    annotation_set = serializers.IntegerField()
    document = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # an API field named like a DRF attribute
    start = serializers.IntegerField(help_text="Code-point offset, inclusive.")
    end = serializers.IntegerField(help_text="Code-point offset, exclusive.")
    quote = serializers.CharField(help_text="text[start:end].")
    attributes = serializers.DictField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SpanCreateSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField(required=False, help_text="Your own stable id for the span, if you have one.")
    label = serializers.CharField(max_length=40)  # type: ignore[assignment]  # an API field named like a DRF attribute
    start = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    end = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    quote = serializers.CharField(trim_whitespace=False, max_length=5_000_000)
    attributes = serializers.DictField(required=False, default=dict)
    note = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")


# SpanCreateSerializer's bounds, for span_create_input's shortcut.
_MAX_OFFSET = 2**31 - 1
_MAX_LABEL = 40
_MAX_QUOTE = 5_000_000


def span_create_input(data: dict[str, Any]) -> dict[str, Any]:
    """SpanCreateSerializer's validated_data for a request body (a dict).

    Every single create runs this. Building the serializer (deep copies of seven fields and
    their validators) and validating through it cost more CPU than the database spends on the
    create, so input that is plainly valid (the right JSON types, within the bounds) is checked
    here and returned in the same shape; anything else, every error included, goes through the
    serializer itself, so errors keep its exact messages and codes. Tests compare the two.
    """
    checked = _span_create_plainly_valid(data)
    if checked is not None:
        return checked
    serializer = SpanCreateSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data  # type: ignore[no-any-return]


def _plain_text(value: Any, max_length: int | None = None) -> TypeGuard[str]:
    """A str the serializer's CharField keeps as is: no NUL, no lone surrogate, not too long."""
    if type(value) is not str or (max_length is not None and len(value) > max_length) or "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")  # fails on a lone surrogate only, which JSON's \ud800 escapes can carry
    except UnicodeEncodeError:
        return False
    return True


def _span_create_plainly_valid(data: dict[str, Any]) -> dict[str, Any] | None:
    """The validated data when every field is plainly valid as SpanCreateSerializer sees it, else None."""
    label, start, end, quote = data.get("label"), data.get("start"), data.get("end"), data.get("quote")
    if not _plain_text(label, 10 * _MAX_LABEL):
        return None
    label = label.strip()  # CharField's trim_whitespace
    if not label or len(label) > _MAX_LABEL:
        return None
    if type(start) is not int or type(end) is not int or not (0 <= start <= _MAX_OFFSET and 0 <= end <= _MAX_OFFSET):
        return None  # bool, float and numeric strings too: the serializer knows what to say or how to read them
    if not _plain_text(quote, _MAX_QUOTE) or not quote:
        return None
    checked: dict[str, Any] = {}
    if "uuid" in data:
        if type(data["uuid"]) is not str:
            return None
        try:
            checked["uuid"] = uuid.UUID(hex=data["uuid"])
        except ValueError:
            return None
    attributes, note = data.get("attributes", {}), data.get("note", "")
    if type(attributes) is not dict or not _plain_text(note):
        return None
    checked.update(label=label, start=start, end=end, quote=quote, attributes=dict(attributes), note=note)
    return checked


class SpanUpdateSerializer(serializers.Serializer[Any]):
    label = serializers.CharField(max_length=40, required=False)  # type: ignore[assignment]  # an API field named like a DRF attribute
    start = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    end = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    quote = serializers.CharField(trim_whitespace=False, max_length=5_000_000, required=False)
    attributes = serializers.DictField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class RelationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    annotation_set = serializers.IntegerField()
    document = serializers.IntegerField()
    type = serializers.CharField()
    source = serializers.UUIDField(help_text="The source span's uuid.")  # type: ignore[assignment]  # an API field named like a DRF attribute
    target = serializers.UUIDField(help_text="The target span's uuid.")
    attributes = serializers.DictField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RelationCreateSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField(required=False)
    type = serializers.CharField(max_length=40)
    source = serializers.UUIDField(help_text="The source span's uuid (same set).")  # type: ignore[assignment]  # an API field named like a DRF attribute
    target = serializers.UUIDField(help_text="The target span's uuid (same set).")
    attributes = serializers.DictField(required=False, default=dict)
    note = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")


class RelationUpdateSerializer(serializers.Serializer[Any]):
    attributes = serializers.DictField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class BulkSpanItemSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField(required=False)
    label = serializers.CharField()  # type: ignore[assignment]  # an API field named like a DRF attribute
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    quote = serializers.CharField()
    attributes = serializers.DictField(required=False)
    note = serializers.CharField(required=False)


class BulkRelationItemSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField(required=False)
    type = serializers.CharField()
    source = serializers.UUIDField(help_text="A span uuid from this request or already in the set.")  # type: ignore[assignment]  # an API field named like a DRF attribute
    target = serializers.UUIDField()
    attributes = serializers.DictField(required=False)
    note = serializers.CharField(required=False)


class BulkRequestSerializer(serializers.Serializer[Any]):
    """Documentation only: items are checked one by one by the bulk service, which
    reports every bad item with its index (a serializer would stop at shapes)."""

    spans = BulkSpanItemSerializer(many=True, required=False)
    relations = BulkRelationItemSerializer(many=True, required=False)


class BulkResultSerializer(serializers.Serializer[Any]):
    annotation_set = serializers.IntegerField()
    version = serializers.IntegerField()
    spans = serializers.ListField(child=serializers.UUIDField())
    relations = serializers.ListField(child=serializers.UUIDField())


class ChangeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="Feed position: pass the last one you saw as ?after=.")
    object_type = serializers.ChoiceField(choices=["span", "relation", "set"])
    object_uuid = serializers.UUIDField()
    action = serializers.ChoiceField(
        choices=["create", "update", "delete", "import"],
        help_text="delete = tombstone; import = a set an import brought (its spans and relations follow as creates).",
    )
    annotation_set = serializers.IntegerField()
    document = serializers.IntegerField()
    set_version = serializers.IntegerField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True, help_text="The object's state after the change; null if deleted.")
    created_at = serializers.DateTimeField()


class ChangePageSerializer(serializers.Serializer[Any]):
    results = ChangeSerializer(many=True)
    next_after = serializers.IntegerField(help_text="Pass as ?after= next time.")
    has_more = serializers.BooleanField(help_text="More changes are ready now; ask again at once.")


class TokenWhoamiSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField(allow_null=True, help_text="The token's name, or null for a session.")


def page_of(item: type[serializers.Serializer[Any]]) -> type[serializers.Serializer[Any]]:
    """The cursor-paginated envelope of a list: {next, previous, results}, uniquely named per item."""
    name = item.__name__.removesuffix("Serializer") + "PageSerializer"
    return type(
        name,
        (serializers.Serializer,),
        {
            "next": serializers.URLField(allow_null=True, help_text="The next page's URL, null on the last page."),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
            "__module__": __name__,
        },
    )


ProjectPageSerializer = page_of(ProjectSerializer)
MemberPageSerializer = page_of(MemberSerializer)
DocumentPageSerializer = page_of(DocumentSerializer)
AnnotationSetPageSerializer = page_of(AnnotationSetSerializer)
SpanPageSerializer = page_of(SpanSerializer)
RelationPageSerializer = page_of(RelationSerializer)


class F1Serializer(serializers.Serializer[Any]):
    f1 = serializers.FloatField(allow_null=True, help_text="null when nothing was marked on either side.")
    precision = serializers.FloatField(allow_null=True, help_text="Of analyst_b against analyst_a.")
    recall = serializers.FloatField(allow_null=True)
    matched = serializers.IntegerField(help_text="Pairs matched one-to-one.")
    a_count = serializers.IntegerField()
    b_count = serializers.IntegerField()


class AgreementLabelSerializer(serializers.Serializer[Any]):
    label = serializers.CharField(allow_null=True, help_text="null in `overall`: all labels at once.")  # type: ignore[assignment]  # an API field named like a DRF attribute
    alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's unitizing alpha; null when undefined.")
    spans = serializers.IntegerField()
    analysts = serializers.IntegerField()
    documents = serializers.IntegerField()


class AgreementAttributeSerializer(serializers.Serializer[Any]):
    attribute = serializers.CharField()
    alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's alpha (nominal); null when undefined.")
    kappa = serializers.FloatField(
        allow_null=True, help_text="Cohen's kappa when exactly two analysts are compared; else null."
    )
    items = serializers.IntegerField(help_text="Matched span groups with two or more values of the attribute.")
    analysts = serializers.IntegerField()


class AgreementPairSerializer(serializers.Serializer[Any]):
    analyst_a = serializers.CharField()
    analyst_b = serializers.CharField()
    spans_exact = F1Serializer()
    spans_overlap = F1Serializer()
    relations_exact = F1Serializer()
    relations_overlap = F1Serializer()
    attributes = AgreementAttributeSerializer(
        many=True, help_text="Per categorical attribute, over the spans these two matched (overlap)."
    )


class AgreementAnalystSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(help_text='Username, or "Analyst A" when the project hides names.')
    spans = serializers.DictField(child=serializers.IntegerField(), help_text="Label -> spans.")
    spans_total = serializers.IntegerField()
    relations = serializers.IntegerField()


class AgreementSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField()
    document = serializers.IntegerField(allow_null=True)
    documents = serializers.IntegerField(help_text="Documents with two or more submitted analyst sets.")
    labels = AgreementLabelSerializer(many=True)
    overall = AgreementLabelSerializer()
    pairs = AgreementPairSerializer(many=True)
    analysts = AgreementAnalystSerializer(many=True)
    attributes = AgreementAttributeSerializer(
        many=True, help_text="Per categorical attribute, over spans matched across all analysts (overlap)."
    )
