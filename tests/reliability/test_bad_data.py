"""Bad data from the API (injected with the emulator's data faults, emulator/data_faults.py):
never a silent loss, never a crash with a bare traceback. The contract (docs/reliability.md):

* malformed JSON: retried; when retries are exhausted, exit 1 with one line; nothing loaded;
  the next run with a sane API equals the truth;
* a wrong type (score "85" or "n/a"): a coercible value is coerced, any other lands in a
  variant column (`score__v_text`), the row is kept;
* a record without an id: dropped, with a WARNING and a count in the summary;
* the same id twice in one response: one row (the first), a WARNING and a count;
* an unexpected new field: a new column;
* a field that changes type between syncs: the new values land in a variant column.
"""

from __future__ import annotations

from typing import Any

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.cli import main
from pipelines.run import run_sync
from tests.reliability.helpers import Workspace, assert_no_duplicate_keys, message_lines
from tests.warehouse import (
    CONTRACT,
    assert_same_rows,
    assert_warehouse_equals_truth,
    read_table,
)

STATS = "GET /api/v1/courses/stats"
ATTEMPTS = "*.stats.*.attempts"


def _compare(pipeline: dlt.Pipeline, truth: dict[str, Any], *tables: str) -> None:
    for table in tables or CONTRACT:
        key, columns = CONTRACT[table]
        assert_same_rows(table, read_table(pipeline, table), truth[table], key, columns)


def _rows_by_id(pipeline: dlt.Pipeline, table: str) -> dict[str, dict[str, Any]]:
    return {row["_id"]: row for row in read_table(pipeline, table)}


def test_malformed_json_fails_with_one_line_then_recovers(
    tmp_path, configure, company: Company, emulator: EmulatorServer, capsys
) -> None:
    configure(RUNTIME__REQUEST_MAX_ATTEMPTS=3)
    ws = Workspace(tmp_path)
    emulator.set_data_faults({"route": "GET /api/v1/groups", "action": "malformed"})
    assert main(["sync", *ws.cli_args()]) == 1
    lines = message_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].startswith("learning360 sync failed: 360Learning sent an unusable body for")
    assert "GET groups after 3 attempts" in lines[0]
    assert emulator.data_faults.applied["GET /api/v1/groups"] == 3  # retried, then gave up
    pipeline = ws.pipeline()
    assert not pipeline.list_normalized_load_packages()  # nothing half-extracted was kept

    emulator.set_data_faults()
    assert main(["sync", *ws.cli_args()]) == 0
    assert_warehouse_equals_truth(ws.pipeline(), company.truth())


def test_wrong_types_are_coerced_or_kept_in_a_variant_column(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    truth = company.truth()
    scored = [a for a in truth["user_courses"] if a["score"] is not None]
    as_number, as_text = scored[0]["_id"], scored[1]["_id"]
    session_row = next(r for r in truth["user_path_sessions"] if r["progress"] is not None)
    emulator.set_data_faults(
        {"route": STATS, "at": ATTEMPTS, "action": "set", "match": {"_id": as_number},
         "fields": {"score": "85"}},
        {"route": STATS, "at": ATTEMPTS, "action": "set", "match": {"_id": as_text},
         "fields": {"score": "n/a"}},
        {"route": "GET /api/v1/paths/sessions/{id}/stats/users", "at": "usersStats",
         "action": "set", "match": {"_id": session_row["user_id"]},
         "fields": {"progress": "done"}},
    )  # fmt: skip
    run_sync(pipeline, build_models=False)
    rows = _rows_by_id(pipeline, "user_courses")
    assert rows[as_number]["score"] == 85  # coerced (score is a spec integer: bigint)
    assert rows[as_text]["score"] is None and rows[as_text]["score__v_text"] == "n/a"
    assert len(rows) == len(truth["user_courses"])  # no attempt lost
    sessions = read_table(pipeline, "user_path_sessions")
    assert len(sessions) == len(truth["user_path_sessions"])
    changed = [r for r in sessions if r.get("progress__v_text") == "done"]
    assert changed and all(r["progress"] is None for r in changed)
    # everything else is exactly the truth
    for row in truth["user_courses"]:
        if row["_id"] == as_number:
            row["score"] = 85
        elif row["_id"] == as_text:
            row["score"] = None
    for row in truth["user_path_sessions"]:
        if row["user_id"] == session_row["user_id"]:
            row["progress"] = None
    _compare(pipeline, truth)
    assert_no_duplicate_keys(pipeline)


def test_records_without_an_id_are_dropped_with_a_warning_and_counted(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    truth = company.truth()
    path_id = truth["paths"][0]["_id"]
    attempt_id = truth["user_courses"][0]["_id"]
    user_id = truth["users"][3]["_id"]
    emulator.set_data_faults(
        {"route": "GET /api/v1/paths", "action": "drop", "match": {"_id": path_id},
         "fields": ["_id"]},
        {"route": "GET /api/v1/users", "action": "drop", "match": {"_id": user_id},
         "fields": ["_id"]},
        {"route": STATS, "at": ATTEMPTS, "action": "drop", "match": {"_id": attempt_id},
         "fields": ["_id"]},
        {"route": "GET /api/v1/paths/sessions/{id}/stats/users", "at": "usersStats",
         "action": "drop", "limit": 1, "fields": ["_id"]},
    )  # fmt: skip
    result = run_sync(pipeline, build_models=False)
    dropped = result.requests["dropped"]
    assert dropped["GET paths element without an _id"] >= 1, dropped
    assert dropped["GET users element without an _id"] == 1, dropped
    assert dropped["user_courses without _id"] == 1, dropped
    assert dropped["user_path_sessions without user_id"] >= 1, dropped
    # exactly the dropped records are missing, nothing else
    truth["paths"] = [r for r in truth["paths"] if r["_id"] != path_id]
    truth["users"] = [r for r in truth["users"] if r["_id"] != user_id]
    truth["user_courses"] = [r for r in truth["user_courses"] if r["_id"] != attempt_id]
    for row in truth["courses"]:  # v1 resolves author_id from the listing, which lacks that user
        if row["author_id"] == user_id:
            row["author_id"] = None
    _compare(pipeline, truth, "paths", "users", "user_courses", "courses", "groups")
    sessions = read_table(pipeline, "user_path_sessions")
    assert (
        len(sessions)
        == len(truth["user_path_sessions"]) - dropped["user_path_sessions without user_id"]
    )
    assert_no_duplicate_keys(pipeline)


def test_duplicate_ids_in_one_response_load_once(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    truth = company.truth()
    user_id = truth["users"][0]["_id"]
    emulator.set_data_faults(
        # the same user twice in getUsers, the copy with another first name: the first wins
        {"route": "GET /api/v1/users", "action": "duplicate", "match": {"_id": user_id},
         "fields": {"firstName": "Impostor"}},
        # every attempt of one course stats element twice
        {"route": STATS, "at": ATTEMPTS, "action": "duplicate", "limit": 5},
        # a group's catalog lists a course twice
        {"route": "GET /api/v1/groups/{id}/catalog", "at": "courses", "action": "duplicate",
         "limit": 1},
        # a path session's stats list a learner twice (a replace table)
        {"route": "GET /api/v1/paths/sessions/{id}/stats/users", "at": "usersStats",
         "action": "duplicate", "limit": 1},
    )  # fmt: skip
    result = run_sync(pipeline, build_models=False)
    dropped = result.requests["dropped"]
    assert dropped["GET users element with a duplicate _id"] == 1, dropped
    assert dropped.get("user_path_sessions with a duplicate user_id, path_session_id"), dropped
    assert_no_duplicate_keys(pipeline)
    _compare(pipeline, truth)


def test_unexpected_new_fields_become_new_columns(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    emulator.set_data_faults(
        {"route": "GET /api/v1/courses/{id}", "action": "set",
         "fields": {"certificationLevel": "gold", "reviewer": {"name": "Ada", "seniority": 3}}},
        {"route": STATS, "at": ATTEMPTS, "action": "set", "fields": {"attemptDevice": "mobile"},
         "limit": 3},
    )  # fmt: skip
    run_sync(pipeline, build_models=False)
    courses = read_table(pipeline, "courses")
    assert {r["certification_level"] for r in courses} == {"gold"}
    assert {r["reviewer__seniority"] for r in courses} == {3}
    devices = [r["attempt_device"] for r in read_table(pipeline, "user_courses")]
    assert devices.count("mobile") == 3
    assert_warehouse_equals_truth(pipeline, company.truth())


@pytest.mark.parametrize("strategy", ["bulk", pytest.param("per_user", marks=pytest.mark.slow)])
def test_a_field_that_changes_type_between_syncs_lands_in_a_variant_column(
    strategy: str, configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    configure(SOURCES__LEARNING360__USER_COURSES_STRATEGY=strategy)
    run_sync(pipeline, build_models=False)
    assert (
        "program_duration__v_text"
        not in pipeline.default_schema.tables["program_sessions"]["columns"]
    )
    company.advance(days=1)  # new attempts, so user_courses loads something again
    emulator.set_data_faults(
        {"route": "GET /api/v1/programs/sessions", "action": "set",
         "fields": {"programDuration": "two weeks"}},
        {"route": STATS, "at": ATTEMPTS, "action": "set", "fields": {"globalTime": "1h30"}},
        {"route": "GET /api/v1/users/{id}/courses", "at": "*.attempts", "action": "set",
         "fields": {"globalTime": "1h30"}},
    )  # fmt: skip
    run_sync(pipeline, build_models=False)
    sessions = read_table(pipeline, "program_sessions")
    assert sessions and all(r["program_duration__v_text"] == "two weeks" for r in sessions)
    assert all(r["program_duration"] is None for r in sessions)
    attempts = read_table(pipeline, "user_courses")
    changed = [r for r in attempts if r.get("global_time__v_text") == "1h30"]
    assert changed and all(r["global_time"] is None for r in changed)
    truth = company.truth()
    for row in truth["user_courses"]:
        if row["_id"] in {r["_id"] for r in changed}:
            row["global_time"] = None
    _compare(pipeline, truth)
    assert_no_duplicate_keys(pipeline)
