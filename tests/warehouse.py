"""Reading warehouse tables back and comparing them with the emulator's ground truth."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dlt


def read_table(pipeline: dlt.Pipeline, table: str) -> list[dict[str, Any]]:
    """All rows of a table as dicts (column names as in the warehouse)."""
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        if pipeline.destination.destination_type.endswith("bigquery"):
            # the BigQuery emulator reports SQL errors as empty results through dlt's client
            from tests.destinations.servers import query_rows

            return query_rows(client.native_connection, f"SELECT * FROM {name}")
        with client.execute_query(f"SELECT * FROM {name}") as cursor:
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def table_exists(pipeline: dlt.Pipeline, table: str) -> bool:
    return table in pipeline.default_schema.tables


def canonical(value: Any) -> Any:
    """One comparable form for a value from the warehouse or from the truth."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return canonical(parsed)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "__float__") and not isinstance(value, bool | int | float):
        as_float = float(value)  # Decimal from postgres
        return int(as_float) if as_float.is_integer() else as_float
    return value


def keyed(
    rows: list[dict[str, Any]], key: tuple[str, ...], columns: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows indexed by their key, restricted to the compared columns, in canonical form."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(canonical(row.get(c)) for c in key)
        assert k not in out, f"duplicate key {k}"
        out[k] = {c: canonical(row.get(c)) for c in columns}
    return out


def assert_same_rows(
    table: str,
    warehouse_rows: list[dict[str, Any]],
    truth_rows: list[dict[str, Any]],
    key: tuple[str, ...],
    columns: tuple[str, ...],
) -> None:
    """Row-for-row equality on the key and the compared columns, with a readable diff."""
    got = keyed(warehouse_rows, key, columns)
    want = keyed(truth_rows, key, columns)
    missing = sorted(set(want) - set(got), key=str)[:5]
    extra = sorted(set(got) - set(want), key=str)[:5]
    assert not missing and not extra, (
        f"{table}: {len(set(want) - set(got))} missing (e.g. {missing}), "
        f"{len(set(got) - set(want))} unexpected (e.g. {extra})"
    )
    diffs = [(k, got[k], want[k]) for k in want if got[k] != want[k]]
    assert not diffs, f"{table}: {len(diffs)} rows differ, e.g. {diffs[:3]}"


# table -> (key, compared columns): the raw-table contract of docs/architecture.md
CONTRACT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "courses": (
        ("_id",),
        (
            "name",
            "status",
            "author",
            "author_id",
            "creation_date",
            "modification_date",
            "group",
            "lang",
            "course_duration",
        ),
    ),
    "users": (("_id",), ("mail", "first_name", "last_name", "primary_group_id", "deleted")),
    "groups": (("_id",), ("name", "parent", "public")),
    "user_groups": (("user_id", "group_id"), ("role",)),
    "group_catalog": (("group_id", "item_type", "item_id"), ()),
    "group_programs": (("group_id", "program_session_id"), ()),
    "program_sessions": (
        ("_id",),
        ("name", "start_date", "end_date", "program_template", "modified_at"),
    ),
    "paths": (("_id",), ("name", "author_id", "group_id", "created_at", "modified_at")),
    "path_sessions": (
        ("_id",),
        ("path_id", "name", "group_id", "start_date", "end_date", "created_at", "modified_at"),
    ),
    "user_path_sessions": (
        ("user_id", "path_session_id"),
        ("path_id", "progress", "score", "completed_at", "total_time_spent_in_seconds"),
    ),
    "user_courses": (
        ("_id",),
        (
            "user_id",
            "course_id",
            "progress",
            "score",
            "completed_at",
            "first_activity",
            "last_activity",
            "global_time",
            "path",
            "path_session",
        ),
    ),
    "user_programs": (
        ("user_id", "program_session_id"),
        ("progress", "total_time_spent_in_seconds", "score", "completed_at"),
    ),
}


def assert_warehouse_equals_truth(pipeline: dlt.Pipeline, truth: dict[str, Any]) -> None:
    for table, (key, columns) in CONTRACT.items():
        assert_same_rows(table, read_table(pipeline, table), truth[table], key, columns)


def assert_models_equal_expected(pipeline: dlt.Pipeline, truth: dict[str, Any]) -> None:
    """Every derived table equals tests/expected.py's independent computation from the truth."""
    from tests.expected import diff_rows, expected_models

    problems: list[str] = []
    for name, expected in expected_models(truth).items():
        rows = read_table(pipeline, name)
        problems += diff_rows(name, expected, rows)
        for row in rows:
            problems += [
                f"{name}.{column} = {value} outside [0, 1]"
                for column, value in row.items()
                if column.endswith("_rate") and value is not None and not 0 <= value <= 1
            ]
    assert not problems, "\n".join(problems[:40])
