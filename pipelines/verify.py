"""Does a warehouse hold what the emulator's company holds? Reads the raw tables back and
compares them, row for row on each table's key and contract columns, with the emulator's
ground truth (``GET /_emulator/truth``), as v1 serves it or as v2 renders it.

Public so that the bench verifies its warehouses with the same comparison the tests assert.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dlt

from sources.learning360.tables import V1_ONLY_TABLES

Truth = dict[str, Any]


class TruthMismatch(AssertionError):
    """The warehouse differs from the truth; the message says where (an AssertionError, so
    pytest reports it as a failed assertion)."""


def query_rows(client: Any, sql: str, default_dataset: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``sql`` as dicts through the google client's ``query()``, which raises on errors
    (dlt's sql_client on the BigQuery emulator reports SQL errors as an empty result)."""
    from google.cloud import bigquery  # the bigquery extra: only for that destination

    config = bigquery.QueryJobConfig()
    if default_dataset:
        config.default_dataset = default_dataset
    return [dict(row.items()) for row in client.query(sql, job_config=config).result()]


def read_table(pipeline: dlt.Pipeline, table: str) -> list[dict[str, Any]]:
    """All rows of a table as dicts (column names as in the warehouse)."""
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        if pipeline.destination.destination_type.endswith("bigquery"):
            return query_rows(client.native_connection, f"SELECT * FROM {name}")
        with client.execute_query(f"SELECT * FROM {name}") as cursor:
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


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
        if k in out:
            raise TruthMismatch(f"duplicate key {k}")
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
    if missing or extra:
        raise TruthMismatch(
            f"{table}: {len(set(want) - set(got))} missing (e.g. {missing}), "
            f"{len(set(got) - set(want))} unexpected (e.g. {extra})"
        )
    diffs = [(k, got[k], want[k]) for k in want if got[k] != want[k]]
    if diffs:
        raise TruthMismatch(f"{table}: {len(diffs)} rows differ, e.g. {diffs[:3]}")


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


# the v2-only tables: key and compared columns = the emulator's truth tables of the same names
V2_ONLY_CONTRACT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "skills": (("_id",), ("name", "status", "library_id", "created_at", "updated_at")),
    "user_certificates": (
        ("_id",),
        (
            "user_id",
            "path_id",
            "path_session_id",
            "certificate_outline_id",
            "delivery_date",
            "expiration_date",
            "title",
            "type",
            "validity_period",
        ),
    ),
    "custom_fields": (("_id",), ("name", "target_type", "type")),
    "user_custom_fields": (("user_id", "custom_field_id"), ("type", "value")),
    "classrooms": (("_id",), ("name", "group_id", "created_at", "modified_at")),
    "classroom_slots": (
        ("_id",),
        (
            "classroom_id",
            "name",
            "start_date",
            "end_date",
            "context_type",
            "context_id",
            "virtual",
            "created_at",
        ),
    ),
    "classroom_slot_registrations": (
        ("_id",),
        (
            "classroom_slot_id",
            "classroom_id",
            "user_id",
            "path_id",
            "created_at",
            "modified_at",
            "has_attended",
            "status",
        ),
    ),
}
SHARED_TABLES = tuple(t for t in CONTRACT if t not in V1_ONLY_TABLES)
# v2 tables the spec gives no change signal for: re-read by fingerprint + rotation, within a
# stated bound (sources/learning360/refresh.py)
NO_SIGNAL = ("user_groups", "group_catalog", "user_custom_fields")


def assert_warehouse_equals_truth(pipeline: dlt.Pipeline, truth: Truth) -> None:
    for table, (key, columns) in CONTRACT.items():
        assert_same_rows(table, read_table(pipeline, table), truth[table], key, columns)


def drafts(truth: Truth) -> set[str]:
    return {c["_id"] for c in truth["courses"] if c["status"] == "draft"}


def v2_catalog(truth: Truth) -> list[dict[str, Any]]:
    sessions_of: dict[str, list[str]] = {}
    for session in truth["path_sessions"]:
        sessions_of.setdefault(session["path_id"], []).append(session["_id"])
    rows = []
    for entry in truth["group_catalog"]:
        if entry["item_type"] == "course":
            rows.append(entry)
        elif entry["item_type"] == "path":
            rows.extend(
                {"group_id": entry["group_id"], "item_type": "path_session", "item_id": s}
                for s in sessions_of.get(entry["item_id"], ())
            )
    unique = {(r["group_id"], r["item_type"], r["item_id"]): r for r in rows}
    return list(unique.values())


def v2_view(truth: Truth) -> Truth:
    """The truth as API v2 renders it (docs/emulator-v2.md, "Decisions"): no draft courses and
    ``author`` NULL (v2 names authors by id), a catalog path as one entry per path session,
    the v1-only tables empty."""
    view = dict(truth)
    hidden = drafts(truth)
    view["courses"] = [c | {"author": None} for c in truth["courses"] if c["_id"] not in hidden]
    view["group_catalog"] = v2_catalog(truth)
    for table in V1_ONLY_TABLES:
        view[table] = []
    return view


def assert_shared_tables_equal(
    pipeline: dlt.Pipeline, view: Truth, *, skip_courses: set[str] = frozenset()
) -> None:
    """The tables v1 also loads equal the v2 view of the truth (``skip_courses``: course ids
    left out of the comparison on both sides)."""
    for table in SHARED_TABLES:
        key, columns = CONTRACT[table]
        rows = read_table(pipeline, table)
        want = view[table]
        if table == "courses" and skip_courses:
            rows = [r for r in rows if r["_id"] not in skip_courses]
            want = [r for r in want if r["_id"] not in skip_courses]
        assert_same_rows(table, rows, want, key, columns)


def assert_v2_only_tables_equal(pipeline: dlt.Pipeline, truth: Truth) -> None:
    for table, (key, columns) in V2_ONLY_CONTRACT.items():
        assert_same_rows(table, read_table(pipeline, table), truth[table], key, columns)


def assert_v2_warehouse_equals_truth(pipeline: dlt.Pipeline, truth: Truth) -> None:
    assert_shared_tables_equal(pipeline, v2_view(truth))
    assert_v2_only_tables_equal(pipeline, truth)


def assert_v2_tables_equal(
    pipeline: dlt.Pipeline, truth: Truth, skip: tuple[str, ...] = ()
) -> None:
    """The v2 tables but ``skip`` equal the v2 view of the truth (v1-only tables left out)."""
    view = v2_view(truth)
    contracts = {**{t: CONTRACT[t] for t in CONTRACT if t in view}, **V2_ONLY_CONTRACT}
    for table, (key, columns) in contracts.items():
        if table in skip or table in V1_ONLY_TABLES:
            continue
        assert_same_rows(table, read_table(pipeline, table), view[table], key, columns)
