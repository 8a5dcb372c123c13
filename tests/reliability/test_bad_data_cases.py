"""Issue 13's bad-data cases, end to end through `learning360 sync` against the emulator's data
faults (emulator/data_faults.py): the warehouse equals the truth for every valid record, the
refused ones are in `_learning360_rejected` with their reasons, and exit codes and messages are
as docs/reliability.md ("Bad data: quarantine, deletions, shrink guard") states.

1: a cursor value that is not a date; 3: `200 null` for getUser/getCourse/getGroup; 4: a getUser
answer without `_id`; 5: null and non-object elements in listings; 10: a user hard-deleted
(gone from the complete listing); 11: values thrown away or invented, and an empty listing.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator import Company, EmulatorServer
from pipelines.cli import main
from pipelines.data_guard import repair_cursors
from pipelines.run import make_pipeline, run_sync
from tests.reliability.helpers import (
    Workspace,
    assert_no_duplicate_keys,
    assert_recovered,
    cli_env,
    cursor_state,
    message_lines,
    run_cli,
    sync_command,
)
from tests.warehouse import (
    CONTRACT,
    assert_models_equal_expected,
    assert_same_rows,
    assert_warehouse_equals_truth,
    read_table,
)

REJECTED = "_learning360_rejected"
STATS = "GET /api/v1/courses/stats"


@pytest.fixture
def ws(tmp_path, configure) -> Workspace:
    configure(RUNTIME__REQUEST_MAX_ATTEMPTS=3)  # a wrong-type body: 3 attempts, then quarantine
    return Workspace(tmp_path)


def sync(ws: Workspace, capsys: Any, *extra: str) -> tuple[int, str, str]:
    code = main(["sync", *ws.cli_args(), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def rejected(ws: Workspace) -> dict[tuple[str, str], dict[str, Any]]:
    """The quarantine table, keyed by (table, record key); {} when it was never created."""
    try:
        rows = read_table(ws.pipeline(), REJECTED)
    except Exception:
        return {}
    return {(r["table_name"], r["record_key"]): r for r in rows}


def compare(ws: Workspace, truth: dict[str, Any], *tables: str, skip: str | None = None) -> None:
    """Row for row on the contract columns; ``skip``: an ``_id`` left out on both sides."""
    pipeline = ws.pipeline()
    for table in tables or CONTRACT:
        key, columns = CONTRACT[table]
        got, want = read_table(pipeline, table), truth[table]
        if skip is not None:
            got, want = without(got, _id=skip), without(want, _id=skip)
        assert_same_rows(table, got, want, key, columns)


def without(rows: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [r for r in rows if any(r.get(k) != v for k, v in match.items())]


# ---- case 1 ---------------------------------------------------------------------------------


def test_case1_a_cursor_value_that_is_not_a_date_never_becomes_the_cursor(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    truth = company.truth()
    course_id, path_id = truth["courses"][0]["_id"], truth["paths"][0]["_id"]
    emulator.set_data_faults(
        {"route": "GET /api/v1/courses", "match": {"_id": course_id}, "action": "set",
         "fields": {"modificationDate": "not-a-date"}},
        {"route": "GET /api/v1/courses/{id}", "ids": [course_id], "action": "set",
         "fields": {"modificationDate": "31/12/2026 10:00"}},
        {"route": "GET /api/v1/paths", "match": {"_id": path_id}, "action": "set",
         "fields": {"modifiedAt": "n/a"}},
    )  # fmt: skip
    code, _out, err = sync(ws, capsys)
    assert code == 0, err
    pipeline = ws.pipeline()
    cursors = cursor_state(pipeline)
    assert cursors["courses"] == max(c["modification_date"] for c in truth["courses"])
    assert cursors["paths"] == max(p["modified_at"] for p in truth["paths"])
    quarantined = rejected(ws)
    assert quarantined[("courses", course_id)]["severity"] == "warning"
    assert "modificationDate is not a timestamp" in quarantined[("courses", course_id)]["reason"]
    assert "31/12/2026 10:00" in quarantined[("courses", course_id)]["raw_json"]
    assert '"n/a"' in quarantined[("paths", path_id)]["raw_json"]
    # every other record is exact; the two are loaded, their cursor value left NULL
    for table, key, column in (("courses", course_id, "modification_date"),
                               ("paths", path_id, "modified_at")):  # fmt: skip
        rows = {r["_id"]: r for r in read_table(pipeline, table)}
        assert rows[key][column] is None
        for row in truth[table]:
            if row["_id"] == key:
                row[column] = None
    compare(ws, truth)

    # the API sends valid dates again: both are re-read (not waiting for a change) and resolved
    emulator.set_data_faults()
    emulator.reset_metrics()
    code, _out, err = sync(ws, capsys)
    assert code == 0, err
    requests = emulator.metrics()["requests"]
    assert requests.get("GET /api/v1/courses/{id}") == 1
    assert requests.get("GET /api/v1/paths/{id}") == 1
    assert rejected(ws) == {}
    assert_recovered(ws.pipeline(), company.truth())


def test_case1_a_bad_cursor_left_in_the_state_is_repaired_with_a_warning(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    assert sync(ws, capsys)[0] == 0
    pipeline = ws.pipeline()
    with pipeline.managed_state() as state:  # as an earlier version stored it
        resources = state["sources"]["learning360"]["resources"]
        resources["courses"]["incremental"]["modificationDate"]["last_value"] = "not-a-date"
        resources["paths"]["incremental"]["modifiedAt"]["last_value"] = "n/a"
        # the slot of the version before dlt.sources.incremental kept user_courses' cursor
        resources["user_courses"]["incremental"]["lastActivity"] = {"last_value": "never"}
    status = main(["status", *ws.cli_args()])
    out, err = capsys.readouterr()
    assert "not a timestamp" in out + err
    assert status != 0
    assert main(["doctor", *ws.cli_args()]) != 0
    out, _err = capsys.readouterr()
    assert "cursors" in out and "courses.modificationDate = 'not-a-date'" in out, out
    company.advance(days=1)
    # a subprocess, as a scheduler runs it: its stderr is exactly what a user would see
    result = run_cli(sync_command(ws), cli_env(emulator))
    code, err = result.returncode, result.stderr
    assert code == 0, err
    assert "the courses cursor modificationDate held 'not-a-date', not a timestamp" in err
    assert "the paths cursor modifiedAt held 'n/a'" in err
    assert "the user_courses cursor lastActivity held 'never'" in err  # the old slot
    assert repair_cursors(ws.pipeline()) == []
    assert_recovered(ws.pipeline(), company.truth())


# ---- cases 3 and 4 --------------------------------------------------------------------------


def test_case3_200_null_is_retried_then_quarantined_and_re_read_next_run(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    truth = company.truth()
    course_id = truth["courses"][1]["_id"]
    user_id = truth["users"][2]["_id"]
    group_id = max(truth["groups"], key=lambda g: sum(
        1 for m in truth["user_groups"] if m["group_id"] == g["_id"]))["_id"]  # fmt: skip
    emulator.set_data_faults(
        {"route": "GET /api/v1/courses/{id}", "ids": [course_id], "action": "body", "body": None},
        {"route": "GET /api/v1/users/{id}", "ids": [user_id], "action": "body", "body": None},
        {"route": "GET /api/v1/groups/{id}", "ids": [group_id], "action": "body", "body": None},
    )
    code, out, err = sync(ws, capsys)
    assert code == 0, err
    applied = emulator.data_faults.applied
    assert applied["GET /api/v1/courses/{id}"] == 3  # retried like a 5xx, then quarantined
    assert applied["GET /api/v1/groups/{id}"] == 3
    quarantined = rejected(ws)
    for table, key, route in (("courses", course_id, "courses/{course_id}"),
                              ("users", user_id, "users/{user_id}"),
                              ("groups", group_id, "groups/{group_id}")):  # fmt: skip
        row = quarantined[(table, key)]
        assert row["reason"] == f"GET {route} answered null, not an object (retried)", row
        assert row["severity"] == "rejected" and row["first_seen"] is not None
    assert "quarantined: 3 records" in out
    # valid records exact; the group's members are missing this run, the course has only its
    # listing fields (the user's contract fields all come from the listing)
    truth["user_groups"] = without(truth["user_groups"], group_id=group_id)
    compare(ws, truth, "users", "groups", "user_groups", "group_catalog", "user_courses")
    compare(ws, truth, "courses", skip=course_id)
    course = next(r for r in read_table(ws.pipeline(), "courses") if r["_id"] == course_id)
    assert course["name"] is not None and course["course_duration"] is None  # listing only

    emulator.set_data_faults()
    emulator.reset_metrics()
    code, _out, err = sync(ws, capsys)
    assert code == 0, err
    requests = emulator.metrics()["requests"]
    assert requests.get("GET /api/v1/users/{id}") == 1  # re-read now, not in 30 days
    assert requests.get("GET /api/v1/courses/{id}") == 1
    assert rejected(ws) == {}  # resolved
    assert_recovered(ws.pipeline(), company.truth())


def test_case4_a_user_answered_without_id_comes_back_on_the_next_run(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    truth = company.truth()
    user_id = next(m["user_id"] for m in truth["user_groups"])
    emulator.set_data_faults(
        {"route": "GET /api/v1/users/{id}", "ids": [user_id], "action": "drop", "fields": ["_id"]}
    )
    assert sync(ws, capsys)[0] == 0
    row = rejected(ws)[("users", user_id)]
    assert row["reason"] == "GET users/{user_id} answered an object without an _id (retried)"

    def user_group_ids() -> set[str]:
        pipeline = ws.pipeline()
        users = {r["_id"]: r["_dlt_id"] for r in read_table(pipeline, "users")}
        return {
            r["_id"]
            for r in read_table(pipeline, "users__groups")
            if r["_dlt_parent_id"] == users[user_id]
        }

    assert user_group_ids() == set()  # details (groups...) missing: getUser gave nothing usable
    emulator.set_data_faults()
    assert sync(ws, capsys)[0] == 0
    assert user_group_ids()  # restored by the next clean run
    assert rejected(ws) == {}
    assert_recovered(ws.pipeline(), company.truth())


# ---- case 5 ---------------------------------------------------------------------------------


def test_case5_null_and_non_object_elements_never_fail_the_others(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    emulator.set_data_faults(
        {"route": "GET /api/v1/courses", "action": "insert", "values": [None, 42], "position": 1},
        {"route": "GET /api/v1/users", "action": "insert", "values": [None]},
        {"route": "GET /api/v1/groups", "action": "insert", "values": ["g"]},
        {"route": STATS, "action": "insert", "values": [None]},
        {"route": STATS, "at": "*.stats", "action": "insert", "values": [None], "limit": 1},
        {"route": "GET /api/v1/paths/sessions/{id}/stats/users", "at": "usersStats",
         "action": "insert", "values": [None], "limit": 1},
        {"route": "GET /api/v1/programs/sessions/{id}/stats", "at": "usersStats",
         "action": "insert", "values": [3], "limit": 1},
    )  # fmt: skip
    code, out, err = sync(ws, capsys)
    assert code == 0, err
    assert "Traceback" not in err
    reasons = {r["reason"] for r in read_table(ws.pipeline(), REJECTED)}
    assert {
        "GET courses element is null, not an object",
        "GET courses element is a number, not an object",
        "GET users element is null, not an object",
        "GET groups element is a string, not an object",
        "GET courses/stats element is null, not an object",
        "GET courses/stats stats element is null, not an object",
        "GET paths/sessions/{session_id}/stats/users element is null, not an object",
        "GET programs/sessions/{session_id}/stats element is a number, not an object",
    } <= reasons, reasons
    assert_recovered(ws.pipeline(), company.truth())


# ---- case 10 --------------------------------------------------------------------------------


def test_case10_a_user_gone_from_the_complete_listing_is_flagged_deleted(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    assert sync(ws, capsys)[0] == 0
    truth = company.truth()
    user_id = next(
        m["user_id"] for m in truth["user_groups"] if m["role"] == "learner"
    )  # a learner: the models count them
    company.hard_delete_user(user_id)
    result = run_cli(sync_command(ws), cli_env(emulator))  # its own stderr, as a user sees it
    code, err = result.returncode, result.stderr
    assert code == 0, err
    assert "1 users gone from the complete listing" in err
    users = {r["_id"]: r for r in read_table(ws.pipeline(), "users")}
    assert users[user_id]["deleted"] is True
    assert users[user_id]["deleted_noticed_at"] is not None
    assert sum(1 for u in users.values() if u["deleted_noticed_at"] is not None) == 1
    assert_recovered(ws.pipeline(), company.truth())  # models too: no longer a learner
    # a later run keeps the flag and the time it was first noticed
    noticed = users[user_id]["deleted_noticed_at"]
    assert sync(ws, capsys)[0] == 0
    again = {r["_id"]: r for r in read_table(ws.pipeline(), "users")}
    assert again[user_id]["deleted"] is True and again[user_id]["deleted_noticed_at"] == noticed


# ---- case 11 --------------------------------------------------------------------------------


def test_case11_values_are_never_thrown_away_or_invented(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    truth = company.truth()
    never = truth["user_courses"][0]
    course_without, course_name = next(
        (c["_id"], c["name"])
        for c in truth["courses"]
        if c["_id"] != never["course_id"]
        and any(a["course_id"] == c["_id"] for a in truth["user_courses"])
    )
    group_id = next(r["group_id"] for r in truth["group_catalog"])
    emulator.set_data_faults(
        {"route": STATS, "at": "*.stats.*.attempts", "match": {"_id": never["_id"]},
         "action": "set", "fields": {"lastActivity": "never"}},
        {"route": STATS, "match": {"course": {"_id": course_without, "name": course_name}},
         "action": "set",
         "fields": {"course": None}},
        {"route": "GET /api/v1/groups/{id}/catalog", "ids": [group_id], "action": "set",
         "fields": {"courses": {"a": 1}}},
    )  # fmt: skip
    code, out, err = sync(ws, capsys)
    assert code == 0, err
    quarantined = rejected(ws)
    attempt = quarantined[("user_courses", never["_id"])]
    assert attempt["severity"] == "warning" and '"lastActivity": "never"' in attempt["raw_json"]
    nulls = [r for (t, _k), r in quarantined.items() if r["reason"] == "row without course_id"]
    lost = [a for a in truth["user_courses"] if a["course_id"] == course_without]
    assert lost and len(nulls) == len(lost)
    assert quarantined[("group_catalog", group_id)]["reason"] == (
        "catalog's courses is an object, not a list"
    )
    pipeline = ws.pipeline()
    attempts = {r["_id"]: r for r in read_table(pipeline, "user_courses")}
    assert attempts[never["_id"]]["last_activity"] is None
    assert all(r["course_id"] is not None for r in attempts.values())
    assert all(r["item_id"] != "a" for r in read_table(pipeline, "group_catalog"))
    for row in truth["user_courses"]:
        if row["_id"] == never["_id"]:
            row["last_activity"] = None
    truth["user_courses"] = without(truth["user_courses"], course_id=course_without)
    truth["group_catalog"] = without(truth["group_catalog"], group_id=group_id)
    compare(ws, truth)
    assert_no_duplicate_keys(pipeline)


def test_case11_an_empty_listing_never_empties_a_table_without_a_word(
    ws: Workspace, company: Company, emulator: EmulatorServer, capsys
) -> None:
    assert sync(ws, capsys)[0] == 0
    emulator.set_data_faults({"route": "GET /api/v1/groups", "action": "body", "body": []})
    code, _out, err = sync(ws, capsys)
    assert code == 1, err
    lines = message_lines(err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("learning360 sync failed: refused to load: "), lines[0]
    for table in ("groups", "user_groups", "group_catalog"):
        assert f"; {table} would shrink from" in "; " + lines[0].split(": ", 2)[2], lines[0]
    assert " to 0 rows" in lines[0]
    assert "learning360 sync --allow-shrink" in lines[0]
    pipeline = ws.pipeline()
    assert not pipeline.has_pending_data  # nothing of that sync is kept
    assert_recovered(pipeline, company.truth())  # nothing was loaded: still the truth

    code, _out, err = sync(ws, capsys, "--allow-shrink")  # the user says the API is right
    assert code == 0, err
    assert read_table(ws.pipeline(), "groups") == []
    emulator.set_data_faults()
    assert sync(ws, capsys)[0] == 0
    assert_recovered(ws.pipeline(), company.truth())


# ---- the same contract on PostgreSQL ----------------------------------------------------------


@pytest.mark.postgres
def test_postgres_quarantine_deletions_and_shrink_guard(
    configure, postgres_env: str, tmp_path, company: Company, emulator: EmulatorServer
) -> None:
    configure(RUNTIME__REQUEST_MAX_ATTEMPTS=2)
    pipeline = make_pipeline(
        destination="postgres",
        pipeline_name="learning360_pg_bad",
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name=f"bad_{tmp_path.name[-8:].lower().replace('-', '_')}",
    )
    truth = company.truth()
    user_id = truth["users"][1]["_id"]
    emulator.set_data_faults(
        {"route": "GET /api/v1/users/{id}", "ids": [user_id], "action": "body", "body": None},
        {"route": "GET /api/v1/courses", "action": "insert", "values": [None]},
    )
    result = run_sync(pipeline, build_models=False)
    assert result.requests["rejected"] == {
        "users: GET users/{user_id} answered null, not an object (retried)": 1,
        "courses: GET courses element is null, not an object": 1,
    }
    rows = {(r["table_name"], r["record_key"]) for r in read_table(pipeline, REJECTED)}
    assert ("users", user_id) in rows and len(rows) == 2

    emulator.set_data_faults()
    gone = next(u["_id"] for u in truth["users"] if not u["deleted"] and u["_id"] != user_id)
    company.hard_delete_user(gone)
    run_sync(pipeline)
    users = {r["_id"]: r for r in read_table(pipeline, "users")}
    assert users[gone]["deleted"] is True and users[gone]["deleted_noticed_at"] is not None
    # the user re-read and resolved; the keyless null stays until courses load rows again
    left = read_table(pipeline, REJECTED)
    assert [(r["table_name"], r["record_key"][:1]) for r in left] == [("courses", "#")], left
    assert_warehouse_equals_truth(pipeline, company.truth())
    assert_models_equal_expected(pipeline, company.truth())

    emulator.set_data_faults({"route": "GET /api/v1/groups", "action": "body", "body": []})
    with pytest.raises(Exception, match="refused to load: .*groups would shrink"):
        run_sync(pipeline)
    emulator.set_data_faults()
    assert_warehouse_equals_truth(pipeline, company.truth())
    assert_models_equal_expected(pipeline, company.truth())
