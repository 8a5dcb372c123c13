"""The column hints follow the official v2 OpenAPI: `number` -> double, `integer` -> bigint,
`date-time` -> timestamp (issue 16, goal 3). Read from the spec subset the emulator tests use
(tests/emulator/v2_openapi_subset.json, generated from the full spec), so a hint cannot
drift from the spec, and no numeric or date field of a table's rows is left to dlt's inference
(a first value of ``12`` would type the column bigint and send a later ``12.5`` to a variant)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources.learning360.tables import V1_TABLES, V2_TABLES

# Where each v2 table's rows sit in the OpenAPI, and the columns v2/parsing.py fills from a v2
# field of another name besides the registry's ``copies``; any other column is its field in
# snake_case (objects flattened by ``__``)
# fmt: off
SPEC_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    "courses": ("/courses", {}),
    "users": ("/users", {"deleted_at": "deletedAt", "reactivated_at": "reactivatedAt"}),
    "groups": ("/groups", {}),
    "user_groups": ("/groups/{groupId}/roles", {}),
    "paths": ("/paths", {}),
    "path_sessions": ("/paths/sessions", {}),
    "user_path_sessions": ("/paths/stats", {"total_time_spent_in_seconds": "timeSpent"}),
    "user_courses": ("/courses/stats", {}),
    "skills": ("/skills", {}),
    "user_certificates": ("/users/{userId}/certificates", {}),
    "custom_fields": ("/custom-fields", {}),
    "user_custom_fields": ("/users/{userId}/custom-fields/values", {}),
    "classrooms": ("/classrooms", {}),
    "classroom_slots": ("/classrooms/{classroomId}/slots", {}),
    "classroom_slot_registrations": ("/classrooms/{classroomId}/registrations", {}),
}
# fmt: on

SPEC = json.loads((Path(__file__).parents[1] / "emulator" / "v2_openapi_subset.json").read_text())[
    "routes"
]
_snake = NamingConvention().normalize_identifier
TYPED = {"double", "bigint", "timestamp"}
# a v2 field served in one text column on purpose: custom values are strings or dates by field
TEXT_ON_PURPOSE = {("user_custom_fields", "value")}


def spec_type(node: dict[str, Any]) -> set[str]:
    """dlt data types a schema node allows (``oneOf`` alternatives, arrays of scalars by item)."""
    alternatives = node.get("oneOf") or node.get("anyOf") or node.get("allOf")
    if alternatives:
        return set().union(*(spec_type(alt) for alt in alternatives))
    kind = node.get("type")
    if kind == "array":
        return spec_type(node.get("items", {}))
    if kind == "string":
        return {"timestamp" if node.get("format") == "date-time" else "text"}
    return {{"number": "double", "integer": "bigint", "boolean": "bool"}.get(kind, "json")}


def fields(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(column, v2 field path, schema) of a row; nested objects flattened as dlt does (``__``)."""
    alternatives = node.get("oneOf") or node.get("anyOf") or node.get("allOf") or []
    properties = dict(node.get("properties", {}))
    for alt in alternatives:
        properties.update(alt.get("properties", {}))
    for name, sub in properties.items():
        column = f"{prefix}__{_snake(name)}" if prefix else _snake(name)
        subs = sub.get("oneOf") or sub.get("anyOf") or sub.get("allOf") or [sub]
        if any(s.get("type") == "object" or "properties" in s for s in subs):
            yield from ((c, f"{name}.{f}", s) for c, f, s in fields(sub, column))
        else:
            yield column, name, sub


def renames(table: str) -> dict[str, str]:
    return {**V2_TABLES[table].copies, **SPEC_ROWS[table][1]}


def row_fields(table: str) -> dict[str, tuple[str, set[str]]]:
    route, _ = SPEC_ROWS[table]
    schema = SPEC[route]["schema"]
    rows = schema["items"] if schema.get("type") == "array" else schema
    return {column: (name, spec_type(sub)) for column, name, sub in fields(rows)}


def test_every_table_names_its_spec_rows() -> None:
    assert set(SPEC_ROWS) | {"group_catalog"} == set(V2_TABLES)
    for table, (route, _) in SPEC_ROWS.items():
        assert route in SPEC, route
        assert all(isinstance(field, str) for field in renames(table).values())


@pytest.mark.parametrize("table", sorted(SPEC_ROWS))
def test_hints_follow_the_spec(table: str) -> None:
    """Every hinted column filled from a v2 field has the spec's type."""
    spec_fields = row_fields(table)
    by_field = {name: types for name, types in spec_fields.values()}
    renamed = renames(table)
    checked = 0
    for column, hint in V2_TABLES[table].columns.items():
        if column in renamed:
            types = by_field[renamed[column]]
        elif column in spec_fields:
            types = spec_fields[column][1]
        else:
            continue  # a column of v1's contract v2 has no field for, or one the parser adds
        checked += 1
        if (table, column) in TEXT_ON_PURPOSE:
            assert hint == "text"
            continue
        assert types == {hint}, f"{table}.{column}: hinted {hint}, the spec says {types}"
    assert checked or table == "user_groups"


@pytest.mark.parametrize("table", sorted(SPEC_ROWS))
def test_no_spec_number_or_date_is_left_to_inference(table: str) -> None:
    hinted = V2_TABLES[table].columns
    renamed = set(renames(table).values())
    missing = {
        column: types
        for column, (name, types) in row_fields(table).items()
        if types & TYPED and column not in hinted and name not in renamed
    }
    assert not missing, f"{table}: spec-typed fields without a hint: {missing}"


def test_v1_columns_follow_their_v2_equivalents() -> None:
    """v1's tables v2 also loads share the hints: the v1 column of a renamed v2 field has its
    spec type too (global_time <- timeSpent is a number, so double in v1 as well)."""
    for table in SPEC_ROWS:
        if table not in V1_TABLES:
            continue
        for column, hint in V1_TABLES[table].columns.items():
            assert V2_TABLES[table].columns[column] == hint, f"{table}.{column}"
    assert V1_TABLES["user_courses"].columns["global_time"] == "double"
    assert V1_TABLES["user_courses"].columns["progress"] == "bigint"
    assert V1_TABLES["user_path_sessions"].columns["total_time_spent_in_seconds"] == "double"
