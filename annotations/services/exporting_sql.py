"""PostgreSQL renders the Claimbench JSONL and CSV exports itself, one finished text per document.

The generic path (exporting.export_documents → an exporter) builds a Python
record per span and encodes it: about 4 µs a span of Python time, so a
million-span export cannot reach 200,000 spans/s on one core however the
records are built. Here each chunk of documents is one query that aggregates
spans into their sets and sets into their documents (string_agg in reading
order), so what reaches Python is one row per document holding the bytes to
write, and the per-span work runs in PostgreSQL beside the Python process.

Same bytes as the generic path, by construction and by test
(tests/annotations/exporters/test_sql_rendering.py compares the two on every
scope and filter):

- strings go through `to_json(text)`, which escapes exactly as orjson does
  (`"`, `\\`, control characters; nothing else);
- JSON columns are printed from their jsonb text with the separators' spaces
  removed (`_COMPACT`), which keeps jsonb's key order, the order the generic
  path also gets from PostgreSQL. Numbers are printed as jsonb stores them
  (`1.50` stays `1.50` where the generic path writes `1.5`: equal values);
- the CSV attributes cell sorts keys by code point (`COLLATE "C"`), as
  orjson's OPT_SORT_KEYS does, and neutralises and quotes cells with the rules
  of annotations/exporters/csv_spans.py.

Filters stay the ORM's: the documents and sets of a chunk come from the same
querysets the generic path uses (their SQL embedded as CTEs, with their
parameters), labels are a bound array. Nothing user-controlled becomes SQL text.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections
from psycopg.adapt import Loader

# The JSON columns are read as their jsonb text, which has exactly ", " and ": " between items
# outside strings. The general compaction keeps each token and its separator and drops the space
# after it; tokens are a string (with escapes), a literal, a bracket. A regular expression costs
# tens of microseconds a value, so the common case takes two plain replace() calls: a flat object
# without a backslash, a "[" or an inner "{" has "\": " only after its keys and ", \"" only before them
# (a quote inside a string would be escaped with a backslash).
_COMPACT = r"""regexp_replace({}, '("(?:[^"\\]|\\.)*"|[^", :\[\]{{}}]+|[\[\]{{}}])([,:])? ?', '\1\2', 'g')"""
_FLAT = r"""(strpos({0}, '\') = 0 AND strpos({0}, '[') = 0 AND strpos(substr({0}, 2), '{{') = 0)"""

# What Python's truth test calls empty, as jsonb text (`if provenance:` in the exporters).
_FALSY_JSON = "('{}', '[]', 'null', '\"\"', 'false', '0')"


def _compact(text: str) -> str:
    """Compact JSON, as orjson writes it, of `text`, a jsonb value's text (keys in jsonb's order)."""
    return (
        f"CASE WHEN {text} = '{{}}' THEN '{{}}' "
        f"WHEN {_FLAT.format(text)} THEN replace(replace({text}, '\": ', '\":'), ', \"', ',\"') "
        f"ELSE {_COMPACT.format(text)} END"
    )


def _json_text(expression: str) -> str:
    """A JSON string literal for a text expression, as orjson writes it."""
    return f"to_json({expression}::text)::text"


def _json_text_or_empty(expression: str) -> str:
    """`_json_text`, skipping the function call for the empty string most notes are."""
    return f"CASE WHEN {expression} = '' THEN '\"\"' ELSE {_json_text(expression)} END"


def _json_or_null(expression: str) -> str:
    """A JSON string for non-empty text, else null (the generic path's `value or None`)."""
    return f"coalesce(to_json(nullif({expression}, ''))::text, 'null')"


def _neutralised(expression: str) -> str:
    """csv_spans.neutralise: a leading apostrophe before =, +, -, @, tab or CR (compared as code points)."""
    apostrophe = "''''"
    return (
        f"(CASE WHEN ascii({expression}) IN (61, 43, 45, 64, 9, 13) THEN {apostrophe} || {expression} "
        f"ELSE {expression} END)"
    )


def _csv_field(expression: str) -> str:
    """csv_spans.csv_field: quoted, with doubled quotes, when it holds a comma, quote, LF or CR."""
    return (
        f"(CASE WHEN strpos({expression}, ',') > 0 OR strpos({expression}, '\"') > 0 "
        f"OR strpos({expression}, E'\\n') > 0 OR strpos({expression}, E'\\r') > 0 "
        f"THEN '\"' || replace({expression}, '\"', '\"\"') || '\"' ELSE {expression} END)"
    )


def _csv_attributes(text: str) -> str:
    """csv_spans.attributes_cell for jsonb text: "{}" when empty, else compact JSON, keys sorted by code point.

    A flat object with one key needs no sorting; others are taken apart with jsonb_each (slower, rarer).
    """
    one_key = f"(length({text}) - length(replace({text}, '\": ', '')) = 3)"
    sorted_object = (
        "('{' || (SELECT string_agg(to_json(item.key)::text || ':' || "
        f"{_COMPACT.format('item.value::text')}, ',' ORDER BY item.key COLLATE \"C\") "
        f"FROM jsonb_each(({text})::jsonb) AS item) || '}}')"
    )
    cell = (
        f"CASE WHEN {text} IN {_FALSY_JSON} THEN '{{}}' "
        f"WHEN {_FLAT.format(text)} AND {one_key} THEN replace({text}, '\": ', '\":') "
        f"WHEN left({text}, 1) = '{{' THEN {sorted_object} "
        f"ELSE {_COMPACT.format(text)} END"
    )
    return _csv_field(f"({cell})")


def _optional_json(key: str, expression: str) -> str:
    """`,"key":<json>` when the value is truthy, else nothing (provenance)."""
    # "{}" first: nearly every value is that, and one comparison is cheaper than the list.
    return (
        f"CASE WHEN {expression} = '{{}}' OR {expression} IN {_FALSY_JSON} THEN '' "
        f"ELSE ',\"{key}\":' || {_compact(expression)} END"
    )


# The spans of the chunk's kept sets, numbered in reading order within their set ("s1", "s2", …).
_SPANS_CTE = """
kept_spans AS MATERIALIZED (
    SELECT sp.id, sp.uuid, sp.annotation_set_id, sp.label, sp.start, sp."end", sp.quote,
           sp.attributes::text AS attributes, sp.note, sp.provenance::text AS provenance,
           row_number() OVER (PARTITION BY sp.annotation_set_id ORDER BY sp.start, sp."end" DESC, sp.id) AS n
    FROM annotations_span sp
    WHERE sp.annotation_set_id IN (SELECT id FROM kept_sets) __LABEL_CONDITION__
),
kept_relations AS MATERIALIZED (
    SELECT r.id, r.annotation_set_id, r.type, r.attributes::text AS attributes, r.note,
           r.provenance::text AS provenance,
           r.source_id, source.n AS source_n, target.n AS target_n, target.uuid AS target_uuid
    FROM annotations_relation r
    JOIN kept_spans source ON source.id = r.source_id
    JOIN kept_spans target ON target.id = r.target_id
    WHERE r.annotation_set_id IN (SELECT id FROM kept_sets)
)"""

_JSONL_SQL = f"""
WITH chunk_documents (id, uuid, title, text, source_url, outlet, author, published_date, language, external_id)
     AS (__DOCUMENTS__),
kept_sets (id, uuid, document_id, username, is_gold, state) AS (__SETS__),
{_SPANS_CTE},
set_spans AS MATERIALIZED (
    SELECT k.annotation_set_id, count(*) AS spans, string_agg(
        '{{"id":"s' || k.n || '","label":' || {_json_text("k.label")} || ',"start":' || k.start
        || ',"end":' || k."end" || ',"quote":' || {_json_text("k.quote")}
        || ',"attributes":' || {_compact("k.attributes")}
        || ',"note":' || {_json_text_or_empty("k.note")} || {_optional_json("provenance", "k.provenance")} || '}}',
        ',' ORDER BY k.n) AS body
    FROM kept_spans k
    GROUP BY k.annotation_set_id
),
set_relations AS MATERIALIZED (
    SELECT annotation_set_id, count(*) AS relations, string_agg(
        '{{"type":' || {_json_text("type")} || ',"source":"s' || source_n || '","target":"s' || target_n
        || '","attributes":' || {_compact("attributes")} || ',"note":' || {_json_text_or_empty("note")}
        || {_optional_json("provenance", "provenance")} || '}}',
        ',' ORDER BY id) AS body
    FROM kept_relations GROUP BY annotation_set_id
),
document_sets AS MATERIALIZED (
    SELECT s.document_id, count(*) AS sets, sum(coalesce(ss.spans, 0))::bigint AS spans,
           sum(coalesce(sr.relations, 0))::bigint AS relations, string_agg(
        '{{"annotator":' || coalesce(to_json(s.username::text)::text, 'null') || ',"gold":' || s.is_gold::text
        || ',"state":' || {_json_text("s.state")} || ',"spans":[' || coalesce(ss.body, '')
        || '],"relations":[' || coalesce(sr.body, '') || ']}}',
        ',' ORDER BY s.is_gold, s.id) AS body
    FROM kept_sets s
    LEFT JOIN set_spans ss ON ss.annotation_set_id = s.id
    LEFT JOIN set_relations sr ON sr.annotation_set_id = s.id
    GROUP BY s.document_id
)
SELECT coalesce(ds.sets, 0), coalesce(ds.spans, 0), coalesce(ds.relations, 0),
    '{{"uuid":"' || d.uuid::text || '","title":' || {_json_text("d.title")} || ',"text":' || {_json_text("d.text")}
    || ',"metadata":{{"source_url":' || {_json_or_null("d.source_url")} || ',"outlet":' || {_json_or_null("d.outlet")}
    || ',"author":' || {_json_or_null("d.author")}
    || ',"published":' || coalesce(to_json(to_char(d.published_date, 'YYYY-MM-DD'))::text, 'null')
    || ',"language":' || {_json_or_null("d.language")} || ',"external_id":' || {_json_or_null("d.external_id")}
    || '}},"sets":[' || coalesce(ds.body, '') || ']}}' || chr(10)
FROM chunk_documents d __JOIN__ document_sets ds ON ds.document_id = d.id
ORDER BY d.id
"""

_CSV_SQL = f"""
WITH chunk_documents (id, uuid, title, text, source_url, outlet, author, published_date, language, external_id)
     AS (__DOCUMENTS__),
kept_sets (id, uuid, document_id, username, is_gold, state) AS (__SETS__),
{_SPANS_CTE},
span_links AS MATERIALIZED (
    SELECT source_id, string_agg(type || ' ' || target_uuid::text, '; ' ORDER BY id) AS links
    FROM kept_relations GROUP BY source_id
),
set_relations AS MATERIALIZED (
    SELECT annotation_set_id, count(*) AS relations FROM kept_relations GROUP BY annotation_set_id
),
set_rows AS MATERIALIZED (
    SELECT s.id AS annotation_set_id, s.document_id, s.is_gold,
           d.id::text || ',' || d.uuid::text || ',' || {_csv_field(_neutralised("d.title::text"))}
           || CASE WHEN s.is_gold THEN ',gold,' ELSE ',analyst,' END
           || {_csv_field(_neutralised("coalesce(s.username::text, '')"))} || ',' || {_csv_field("s.state::text")}
           AS prefix
    FROM kept_sets s JOIN chunk_documents d ON d.id = s.document_id
),
set_spans AS MATERIALIZED (
    SELECT sr.annotation_set_id, count(sp.id) AS spans, string_agg(
        sr.prefix || ',' || sp.uuid::text || ',' || {_csv_field(_neutralised("sp.label::text"))}
        || ',' || sp.start || ',' || sp."end" || ',' || {_csv_field(_neutralised("sp.quote"))}
        || ',' || {_csv_attributes("sp.attributes")} || ',' || coalesce({_csv_field("sl.links")}, '')
        || ',' || CASE WHEN sp.note = '' THEN '' ELSE {_csv_field(_neutralised("sp.note"))} END || E'\\r\\n',
        '' ORDER BY sp.start, sp."end" DESC, sp.id) AS body
    FROM set_rows sr
    JOIN kept_spans sp ON sp.annotation_set_id = sr.annotation_set_id
    LEFT JOIN span_links sl ON sl.source_id = sp.id
    GROUP BY sr.annotation_set_id
),
document_sets AS MATERIALIZED (
    SELECT sr.document_id, count(*) AS sets, sum(coalesce(ss.spans, 0))::bigint AS spans,
           sum(coalesce(rel.relations, 0))::bigint AS relations,
           string_agg(coalesce(ss.body, ''), '' ORDER BY sr.is_gold, sr.annotation_set_id) AS body
    FROM set_rows sr
    LEFT JOIN set_spans ss ON ss.annotation_set_id = sr.annotation_set_id
    LEFT JOIN set_relations rel ON rel.annotation_set_id = sr.annotation_set_id
    GROUP BY sr.document_id
)
SELECT coalesce(ds.sets, 0), coalesce(ds.spans, 0), coalesce(ds.relations, 0), coalesce(ds.body, '')
FROM chunk_documents d __JOIN__ document_sets ds ON ds.document_id = d.id
ORDER BY d.id
"""

SQL_BY_FORMAT = {"jsonl": _JSONL_SQL, "csv": _CSV_SQL}


class _RawTextLoader(Loader):
    """Hands text columns over as the UTF-8 bytes PostgreSQL sent: they go to the file as they are."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def renders_in_sql(format: str, using: str) -> bool:
    """Whether `format` is rendered here: on PostgreSQL, unless CLAIMBENCH_EXPORT_SQL_RENDERING is off."""
    enabled = getattr(settings, "CLAIMBENCH_EXPORT_SQL_RENDERING", True)
    return enabled and format in SQL_BY_FORMAT and connections[using].vendor == "postgresql"


def rendering_query(
    format: str,
    *,
    documents: Any,
    sets: Any,
    labels: tuple[str, ...],
    keep_bare_documents: bool,
) -> tuple[str, list[Any]]:
    """The SQL and parameters that render one chunk of documents in `format`.

    `documents`: a values_list queryset of the chunk's documents with the ten
    columns of exporting._document_rows; `sets`: a values_list queryset of
    its kept sets (pk, uuid, document_id, annotator__username, is_gold, state).
    A document without a kept set comes only with `keep_bare_documents`.
    """
    documents_sql, documents_params = documents.query.sql_with_params()
    sets_sql, sets_params = sets.query.sql_with_params()
    params: list[Any] = [*documents_params, *sets_params]
    label_condition = ""
    if labels:
        label_condition = "AND sp.label = ANY(%s)"
        params.append(list(labels))
    # Placeholders rather than str.format: the SQL is full of JSON braces. The parameters follow the
    # placeholders' order in the text: documents, sets, then the label array.
    sql = (
        SQL_BY_FORMAT[format]
        .replace("__DOCUMENTS__", documents_sql)
        .replace("__SETS__", sets_sql)
        .replace("__JOIN__", "LEFT JOIN" if keep_bare_documents else "JOIN")
        .replace("__LABEL_CONDITION__", label_condition)
    )
    return sql, params


def rendered_documents(sql: str, params: list[Any], using: str) -> list[tuple[int, int, int, bytes]]:
    """Run a `rendering_query`: (sets, spans, relations, rendered bytes) per document, in document order."""
    with connections[using].cursor() as cursor:
        raw = cursor.cursor
        raw.adapters.register_loader("text", _RawTextLoader)
        raw.execute(sql, params)
        return raw.fetchall()
