"""PostgreSQL renders the Claimbench JSONL and CSV exports itself, a chunk of documents per query.

The generic path (exporting.export_documents → an exporter) builds a Python
record per span and encodes it: about 4 µs a span of Python time, so a
million-span export cannot reach 200,000 spans/s on one core however the
records are built. Here each chunk of documents is one query that aggregates
spans into their sets (string_agg in reading order), so what reaches Python
is one row per kept set holding the bytes to write (in a few pieces), and the per-span work
runs in PostgreSQL, on two backends at once (exporting.export_rendered).
The query is compiled once per export; a chunk binds its document-id bounds.

Same bytes as the generic path, by construction and by test
(tests/annotations/exporters/test_sql_rendering.py compares the two on every
scope and filter):

- strings go through `to_json(text)`, which escapes exactly as orjson does
  (`"`, `\\`, control characters; nothing else); the schema's labels and
  relation types are escaped once, in Python, and matched with a CASE;
- JSON columns are printed from their jsonb text compacted (`_compact`),
  which keeps jsonb's key order, the order the generic path also gets from
  PostgreSQL. Numbers are printed as jsonb stores them (`1.50` stays `1.50`
  where the generic path writes `1.5`: equal values);
- the CSV attributes cell sorts keys by code point (`COLLATE "C"`), as
  orjson's OPT_SORT_KEYS does, and neutralises and quotes cells with the rules
  of annotations/exporters/csv_spans.py.

Filters stay the ORM's: the documents and sets come from the same querysets
the generic path uses (their SQL embedded as CTEs, with their parameters),
labels are a bound array. Nothing user-controlled becomes SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connections
from psycopg.types.string import ByteaBinaryLoader

from annotations.exporters.csv_spans import csv_field, neutralise

# JSON columns are read as their jsonb text, which has ", " and ": " between items. orjson writes them
# without the spaces. json_strip_nulls() on that text as `json` re-emits it compact, in the same key order,
# strings escaped as jsonb (and orjson) escape them, numbers as written; it also drops object members whose
# value is null, so it serves only text without "null" anywhere (about 2 µs a value). The rest takes the
# general compaction: a regular expression that keeps each token (a string with its escapes, a literal, a
# bracket) and its separator and drops the one space after it (tens of microseconds a value, but rare).
# Plain replace() of ", \"" and "\": " is not enough: a string may begin with ": " or end with ", ".
_COMPACT = r"""regexp_replace({}, '("(?:[^"\\]|\\.)*"|[^", :\[\]{{}}]+|[\[\]{{}}])([,:])? ?', '\1\2', 'g')"""

# What Python's truth test calls empty, as jsonb text (`if provenance:` in the exporters).
_FALSY_JSON = "('{}', '[]', 'null', '\"\"', 'false', '0')"


def _compact(text: str) -> str:
    """Compact JSON, as orjson writes it, of `text`, a jsonb value's text (keys in jsonb's order)."""
    return (
        f"CASE WHEN {text} = '{{}}' THEN '{{}}' "
        f"WHEN strpos({text}, 'null') = 0 THEN json_strip_nulls(({text})::json)::text "
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


def _needs_quotes(expression: str) -> str:
    """Whether csv_spans.csv_field quotes the text: it holds a comma, a quote, a LF or a CR."""
    return (
        f"(strpos({expression}, ',') > 0 OR strpos({expression}, '\"') > 0 "
        f"OR strpos({expression}, E'\\n') > 0 OR strpos({expression}, E'\\r') > 0)"
    )


def _csv_field(expression: str) -> str:
    """csv_spans.csv_field: quoted, with doubled quotes, when it holds a comma, quote, LF or CR."""
    return (
        f"(CASE WHEN {_needs_quotes(expression)} "
        f"THEN '\"' || replace({expression}, '\"', '\"\"') || '\"' ELSE {expression} END)"
    )


def _csv_text(expression: str) -> str:
    """csv_field(neutralise(text)); a leading apostrophe never changes whether a cell needs quotes."""
    neutralised = _neutralised(expression)
    return (
        f"(CASE WHEN {_needs_quotes(expression)} "
        f"THEN '\"' || replace({neutralised}, '\"', '\"\"') || '\"' ELSE {neutralised} END)"
    )


def _csv_attributes(text: str) -> str:
    """csv_spans.attributes_cell, as a CSV cell, for jsonb text: compact JSON, keys sorted by code point.

    A flat object with one key needs no sorting (its one "\": " is the one to compact); others are taken
    apart with jsonb_each. Every non-empty object holds a quote, so its cell is always quoted.
    """
    # One "\": " and no backslash, "[" or inner "{": a flat object with one member whose string (if any)
    # cannot begin with ": " (that would make a second "\": ").
    one_key = (
        f"(strpos({text}, '\\') = 0 AND strpos({text}, '[') = 0 AND strpos(substr({text}, 2), '{{') = 0 "
        f"AND octet_length({text}) - octet_length(replace({text}, '\": ', '')) = 3)"
    )
    sorted_object = (
        "('{' || (SELECT string_agg(to_json(item.key)::text || ':' || "
        f"CASE WHEN jsonb_typeof(item.value) IN ('object', 'array') THEN {_compact('item.value::text')} "
        "ELSE item.value::text END, ',' ORDER BY item.key COLLATE \"C\") "
        f"FROM jsonb_each(({text})::jsonb) AS item) || '}}')"
    )
    return (
        f"CASE WHEN {text} = '{{}}' OR {text} IN {_FALSY_JSON} THEN '{{}}' "
        f"WHEN {one_key} THEN '\"' || replace(replace({text}, '\": ', '\":'), '\"', '\"\"') || '\"' "
        f"WHEN left({text}, 1) = '{{' THEN '\"' || replace({sorted_object}, '\"', '\"\"') || '\"' "
        f"ELSE {_csv_text(_compact(text))} END"
    )


def _optional_json(key: str, expression: str) -> str:
    """`,"key":<json>` when the value is truthy, else nothing (provenance)."""
    # "{}" first: nearly every value is that, and one comparison is cheaper than the list.
    return (
        f"CASE WHEN {expression} = '{{}}' OR {expression} IN {_FALSY_JSON} THEN '' "
        f"ELSE ',\"{key}\":' || {_compact(expression)} END"
    )


def _label_cases(expression: str, count: int, fallback: str) -> str:
    """`expression` rendered through a CASE over the schema's `count` keys (labels or relation types; a key
    and its rendering: 2 × count parameters), else `fallback`. Keys repeat on every row and are few:
    comparing them is cheaper than escaping each (to_json costs about half a microsecond a call)."""
    if not count:
        return fallback
    return f"CASE {expression} " + "WHEN %s THEN %s " * count + f"ELSE {fallback} END"


# How the queries keep an order without paying for it twice: a subquery sorts (or numbers, with a window,
# which sorts) its rows, and the level above aggregates them with no join, no sort and no ORDER BY inside
# the aggregate. A subquery with ORDER BY or a window is never flattened into its parent, its rows come
# out in that order, and the aggregate consumes them in that order, group by group: PostgreSQL's
# documented way ("supplying the input values from a sorted subquery", Aggregate Expressions), which holds
# while the aggregating level has no join. Parallel workers, which would split the input, are off for the
# export transaction (exporting.py). PostgreSQL 15 sorts again for an aggregate's own ORDER BY even when
# its input is in order already.
#
# Spans and relations are read with `= ANY(ARRAY(kept set ids))`: one index scan in set order, which lets
# the reading-order sort run set by set (an incremental sort) instead of over the whole chunk, about half
# the cost of a nested loop over `IN (SELECT …)`.
#
# Rows come out one per kept set (or per document without one) in document, gold-last, set order, with
# (documents, sets, spans, relations) counts; a document's first set carries its opening, its last the
# closing, so the rows concatenate to the file and no value ever holds a whole document's rendering.
# The final level sorts the rows' parts first and renders above the sort (the outer ORDER BY is the
# subquery's, so PostgreSQL sorts once): the sort then moves the stored text, compressed, instead of its
# rendering. A JSONL row comes in pieces (the text and the set's spans apart from the small parts around
# them) that Python joins, because each `||` copies everything on its left: on a 2 KB text followed by a
# dozen small parts that was a fifth of the query's time.
_CHUNK = """
WITH chunk_documents (id, uuid, title, text, source_url, outlet, author, published_date, language, external_id)
     AS (__DOCUMENTS__),
kept_sets (id, uuid, document_id, username, is_gold, state) AS MATERIALIZED (__SETS__),
numbered_sets AS MATERIALIZED (
    SELECT s.*, row_number() OVER (PARTITION BY s.document_id ORDER BY s.is_gold, s.id) AS position,
           count(*) OVER (PARTITION BY s.document_id) AS siblings
    FROM kept_sets s
),"""

_FINAL = """
SELECT o.documents, o.sets, o.spans, o.relations, __ROW__
FROM (
    SELECT CASE WHEN s.position IS NULL OR s.position = 1 THEN 1 ELSE 0 END AS documents,
           CASE WHEN s.id IS NULL THEN 0 ELSE 1 END AS sets, coalesce(ss.spans, 0) AS spans,
           coalesce(__RELATION_COUNT__, 0) AS relations, (s.position IS NULL OR s.position = s.siblings) AS closes,
           d.id AS document_id, s.is_gold, s.id AS set_id, __COLUMNS__
    FROM chunk_documents d
    __JOIN__ numbered_sets s ON s.document_id = d.id
    LEFT JOIN set_spans ss ON ss.annotation_set_id = s.id
    __FINAL_JOINS__
    ORDER BY d.id, s.is_gold, s.id
) AS o
ORDER BY o.document_id, o.is_gold, o.set_id
"""

_JSONL_SQL = (
    _CHUNK
    + f"""
set_spans AS MATERIALIZED (
    SELECT annotation_set_id, count(*) AS spans, array_agg(id) AS ids, string_agg(
        '{{"id":"s' || n || '","label":' || __LABEL_JSON__ || ',"start":' || start || ',"end":' || "end"
        || ',"quote":' || {_json_text("quote")} || ',"attributes":' || {_compact("attributes")}
        || ',"note":' || {_json_text_or_empty("note")} || {_optional_json("provenance", "provenance")} || '}}',
        ',') AS body
    FROM (
        SELECT sp.id, sp.annotation_set_id, sp.label, sp.start, sp."end", sp.quote, sp.attributes::text AS attributes,
               sp.note, sp.provenance::text AS provenance,
               row_number() OVER (PARTITION BY sp.annotation_set_id ORDER BY sp.start, sp."end" DESC, sp.id) AS n
        FROM annotations_span sp
        WHERE sp.annotation_set_id = ANY(ARRAY(SELECT id FROM kept_sets)) __LABEL_CONDITION__
        ORDER BY sp.annotation_set_id, sp.start, sp."end" DESC, sp.id
    ) AS numbered
    GROUP BY annotation_set_id
),
set_relations AS MATERIALIZED (
    SELECT annotation_set_id, count(*) AS relations, string_agg(
        '{{"type":' || __TYPE_JSON__ || ',"source":"s' || source_n || '","target":"s' || target_n
        || '","attributes":' || {_compact("attributes")} || ',"note":' || {_json_text_or_empty("note")}
        || {_optional_json("provenance", "provenance")} || '}}',
        ',') AS body
    FROM (
        -- An end's ordinal is its place among its set's span ids, which set_spans gathered in reading order.
        SELECT r.annotation_set_id, r.type, array_position(ss.ids, r.source_id) AS source_n,
               array_position(ss.ids, r.target_id) AS target_n, r.attributes::text AS attributes, r.note,
               r.provenance::text AS provenance
        FROM annotations_relation r
        JOIN set_spans ss ON ss.annotation_set_id = r.annotation_set_id
        WHERE r.annotation_set_id = ANY(ARRAY(SELECT id FROM kept_sets)) __RELATION_LABEL_CONDITION__
        ORDER BY r.annotation_set_id, r.id
    ) AS ordered
    GROUP BY annotation_set_id
)"""
    + _FINAL.replace("__RELATION_COUNT__", "sr.relations")
    .replace("__FINAL_JOINS__", "LEFT JOIN set_relations sr ON sr.annotation_set_id = s.id")
    .replace(
        "__COLUMNS__",
        "d.uuid, d.title, d.text, d.source_url, d.outlet, d.author, d.published_date, d.language, d.external_id, "
        "s.username, s.state, ss.body AS span_body, sr.body AS relation_body",
    )
    .replace(
        "__ROW__",
        # In pieces, which Python joins: concatenating here would copy the text and the set's spans once per ||.
        f"""CASE WHEN o.documents = 1 THEN '{{"uuid":"' || o.uuid::text || '","title":' || {_json_text("o.title")}
           || ',"text":' ELSE '' END,
       CASE WHEN o.documents = 1 THEN {_json_text("o.text")} ELSE '' END,
       CASE WHEN o.documents = 1 THEN
           ',"metadata":{{"source_url":' || {_json_or_null("o.source_url")}
           || ',"outlet":' || {_json_or_null("o.outlet")}
           || ',"author":' || {_json_or_null("o.author")}
           || ',"published":' || coalesce(to_json(to_char(o.published_date, 'YYYY-MM-DD'))::text, 'null')
           || ',"language":' || {_json_or_null("o.language")} || ',"external_id":' || {_json_or_null("o.external_id")}
           || '}},"sets":[' ELSE ',' END
       || CASE WHEN o.set_id IS NULL THEN '' ELSE
           '{{"annotator":' || coalesce(to_json(o.username::text)::text, 'null') || ',"gold":' || o.is_gold::text
           || ',"state":' || to_json(o.state::text)::text || ',"spans":[' END,
       coalesce(o.span_body, ''),
       -- Relations are few and short beside the spans: one piece with what follows them.
       CASE WHEN o.set_id IS NULL THEN '' ELSE '],"relations":[' || coalesce(o.relation_body, '') || ']}}' END
       || CASE WHEN o.closes THEN ']}}' || chr(10) ELSE '' END""",
    )
)

_CSV_SQL = (
    _CHUNK
    + f"""
set_prefixes AS MATERIALIZED (
    SELECT s.id, d.id::text || ',' || d.uuid::text || ',' || {_csv_text("d.title::text")}
           || CASE WHEN s.is_gold THEN ',gold,' ELSE ',analyst,' END
           || {_csv_text("coalesce(s.username::text, '')")} || ',' || {_csv_field("s.state::text")} || ','
           AS prefix
    FROM kept_sets s JOIN chunk_documents d ON d.id = s.document_id
),
-- Each kept span's row in two parts, before and after its links cell, gathered per set in reading order
-- with the span ids and uuids the links are looked up in.
set_spans AS MATERIALIZED (
    SELECT annotation_set_id, count(*) AS spans, array_agg(id) AS ids, array_agg(uuid) AS uuids,
           array_agg(
               sp.uuid::text || ',' || __LABEL_CELL__ || ',' || sp.start || ',' || sp."end"
               || ',' || {_csv_text("sp.quote")} || ',' || {_csv_attributes("sp.attributes")} || ','
           ) AS heads,
           array_agg(',' || CASE WHEN sp.note = '' THEN '' ELSE {_csv_text("sp.note")} END || E'\\r\\n') AS tails
    FROM (
        SELECT sp.id, sp.uuid, sp.annotation_set_id, sp.label, sp.start, sp."end", sp.quote,
               sp.attributes::text AS attributes, sp.note
        FROM annotations_span sp
        WHERE sp.annotation_set_id = ANY(ARRAY(SELECT id FROM kept_sets)) __LABEL_CONDITION__
        ORDER BY sp.annotation_set_id, sp.start, sp."end" DESC, sp.id
    ) AS sp
    GROUP BY annotation_set_id
),
-- What each kept span sources or disputes ("sources <uuid>; …"), as a CSV cell, by the span's place in
-- its set; a relation with an end that is not kept (a label filter) is left out, as the generic path does.
span_links AS (
    SELECT annotation_set_id, source_n, count(*) AS relations, string_agg(link, '; ') AS links
    FROM (
        SELECT r.annotation_set_id, array_position(ss.ids, r.source_id) AS source_n,
               r.type || ' ' || ss.uuids[array_position(ss.ids, r.target_id)]::text AS link
        FROM annotations_relation r
        JOIN set_spans ss ON ss.annotation_set_id = r.annotation_set_id
        WHERE r.annotation_set_id = ANY(ARRAY(SELECT id FROM kept_sets)) __RELATION_LABEL_CONDITION__
        ORDER BY r.annotation_set_id, source_n, r.id
    ) AS ordered
    GROUP BY annotation_set_id, source_n
),
set_links AS MATERIALIZED (
    SELECT annotation_set_id, sum(relations)::bigint AS relations, array_agg(source_n) AS positions,
           array_agg({_csv_field("links")}) AS cells
    FROM span_links
    GROUP BY annotation_set_id
)"""
    + _FINAL.replace("__RELATION_COUNT__", "sl.relations")
    .replace(
        "__FINAL_JOINS__",
        "LEFT JOIN set_prefixes p ON p.id = s.id LEFT JOIN set_links sl ON sl.annotation_set_id = s.id",
    )
    .replace("__COLUMNS__", "p.prefix, ss.heads, ss.tails, sl.positions, sl.cells")
    .replace(
        "__ROW__",
        # unnest() hands the parts back in their order, and string_agg reads them so (no join, no sort).
        """coalesce((
           SELECT string_agg(o.prefix || part.head || CASE WHEN o.positions IS NULL THEN ''
                             ELSE coalesce(o.cells[array_position(o.positions, part.n::int)], '') END
                             || part.tail, '')
           FROM unnest(o.heads, o.tails) WITH ORDINALITY AS part (head, tail, n)
       ), '')""",
    )
)

SQL_BY_FORMAT = {"jsonl": _JSONL_SQL, "csv": _CSV_SQL}


def renders_in_sql(format: str, using: str) -> bool:
    """Whether `format` is rendered here: on PostgreSQL, unless CLAIMBENCH_EXPORT_SQL_RENDERING is off."""
    enabled = getattr(settings, "CLAIMBENCH_EXPORT_SQL_RENDERING", True)
    return enabled and format in SQL_BY_FORMAT and connections[using].vendor == "postgresql"


# Chunk bounds in a rendering query's parameters, filled in per chunk by `RenderingQuery.params`.
_FIRST, _FOLLOWING = object(), object()
# The upper bound of the last chunk: above any id.
_NO_FOLLOWING = 2**63 - 1


@dataclass(frozen=True)
class RenderingQuery:
    """The SQL that renders any chunk of one export, compiled once; `params` bounds it to one chunk."""

    sql: str
    template: tuple[Any, ...]

    def params(self, first: int, following: int | None) -> list[Any]:
        """The parameters for the chunk of documents with first <= id < following (None: no upper bound)."""
        upper = _NO_FOLLOWING if following is None else following
        return [first if value is _FIRST else upper if value is _FOLLOWING else value for value in self.template]


def rendering_query(
    format: str,
    *,
    documents: Any,
    sets: Any,
    labels: tuple[str, ...],
    label_keys: tuple[str, ...],
    relation_type_keys: tuple[str, ...],
    keep_bare_documents: bool,
) -> RenderingQuery:
    """The query that renders the chunks of one export in `format`.

    `documents`: a values_list queryset of the exported documents with the ten
    columns of exporting._document_rows (the first named "pk"); `sets`: a
    values_list queryset of their kept sets (pk, uuid, document_id,
    annotator__username, is_gold, state). Each chunk takes the rows of both
    whose document id is within its bounds: PostgreSQL pushes the bounds into
    the querysets' SQL, so they are index ranges. `labels`: the label filter
    (empty: every label); `label_keys`, `relation_type_keys`: the schema's,
    rendered once here. A document without a kept set comes only with
    `keep_bare_documents`.
    """
    documents_sql, documents_params = documents.query.sql_with_params()
    sets_sql, sets_params = sets.query.sql_with_params()
    label_array = [list(labels)] if labels else []
    if format == "jsonl":
        rendered_labels = [(key, orjson.dumps(key).decode()) for key in label_keys]
        label_fallback = _json_text("label")
        label_expression = "label"
    else:
        rendered_labels = [(key, csv_field(neutralise(key))) for key in label_keys]
        label_fallback = _csv_text("sp.label::text")
        label_expression = "sp.label"
    label_cases = (
        _label_cases(label_expression, len(rendered_labels), label_fallback),
        [value for pair in rendered_labels for value in pair],
    )
    rendered_types = [(key, orjson.dumps(key).decode()) for key in relation_type_keys]
    parts: dict[str, tuple[str, list[Any]]] = {
        "DOCUMENTS": (
            f"SELECT * FROM ({documents_sql}) AS documents WHERE documents.pk >= %s AND documents.pk < %s",
            [*documents_params, _FIRST, _FOLLOWING],
        ),
        "SETS": (
            f"SELECT * FROM ({sets_sql}) AS sets WHERE sets.document_id >= %s AND sets.document_id < %s",
            [*sets_params, _FIRST, _FOLLOWING],
        ),
        "LABEL_CONDITION": ("AND sp.label = ANY(%s)" if labels else "", label_array),
        # Without a label filter every relation's ends are kept spans of its set.
        "RELATION_LABEL_CONDITION": (
            "AND array_position(ss.ids, r.source_id) IS NOT NULL AND array_position(ss.ids, r.target_id) IS NOT NULL"
            if labels
            else "",
            [],
        ),
        "LABEL_JSON": label_cases,
        "LABEL_CELL": label_cases,
        "TYPE_JSON": (
            _label_cases("type", len(rendered_types), _json_text("type")),
            [value for pair in rendered_types for value in pair],
        ),
        "JOIN": ("LEFT JOIN" if keep_bare_documents else "JOIN", []),
    }
    # Placeholders rather than str.format (the SQL is full of JSON braces), filled in the order they occur
    # in the text, which is the order their parameters must follow.
    template: list[Any] = []

    def fill(match: re.Match[str]) -> str:
        sql, part_params = parts[match.group(1)]
        template.extend(part_params)
        return sql

    sql = re.sub(r"__([A-Z_]+)__", fill, SQL_BY_FORMAT[format])
    return RenderingQuery(sql, tuple(template))


def rendered_documents(sql: str, params: list[Any], using: str) -> list[tuple[Any, ...]]:
    """Run a `rendering_query`: (documents, sets, spans, relations, *pieces) per row, in file order.

    A row is a kept set, or a document without one; `documents` is 1 on a document's first row. The row's
    bytes are its pieces joined: PostgreSQL hands them over apart, since concatenating a document's text
    with its set in SQL copies both once per `||`.
    """
    with connections[using].cursor() as cursor:
        # Django's cursors bind parameters client-side, which rules out binary results: bind them the same
        # way (mogrify), then run the literal query on a plain cursor of the same connection.
        literal = cursor.cursor.mogrify(sql, params)
        with psycopg.Cursor(cursor.cursor.connection) as binary:
            # Text columns as the UTF-8 bytes PostgreSQL sent (bytea's C loader, which for binary results
            # copies them as they are): they go to the file unchanged, without a Python call per value.
            binary.adapters.register_loader("text", ByteaBinaryLoader)
            binary.execute(literal, binary=True)
            return binary.fetchall()
