"""What a v2 sync can know of the emulator's ground truth, and the comparisons the v2 tests use.

``v2_view(truth)`` is the truth as API v2 renders it (docs/emulator-v2.md, "Decisions"):

* ``courses`` without drafts (v2 does not serve them);
* ``group_catalog``: a v1 catalog path becomes one ``path_session`` entry per session of the
  path (v2's path-session-ids), program sessions are gone;
* ``program_sessions``, ``group_programs``, ``user_programs``: empty (no v2 route).

Every other shared table is the same, column for column (tests/warehouse.py CONTRACT): v2
lacks none of the contract columns but ``courses.author``: v2 names the author by id only
(``author_id``; the models read the current mail from ``users``), so v2 rows hold NULL there.
"""

from __future__ import annotations

from typing import Any

import dlt

from sources.learning360.tables import V1_ONLY_TABLES
from tests.warehouse import CONTRACT, assert_same_rows, read_table

Truth = dict[str, Any]

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
