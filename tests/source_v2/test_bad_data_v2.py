"""Issue 13 case 1 on API v2: a ``modifiedAt`` that is not a date never becomes the cursor (the
row loads without it, a warning row in ``_learning360_rejected``), and the next sync runs."""

from __future__ import annotations

from emulator import Company, EmulatorServer
from pipelines.run import run_sync
from sources.learning360.cursors import parse_timestamp
from tests.source_v2.truth import assert_v2_warehouse_equals_truth
from tests.warehouse import read_table

COURSES = "GET /api/v2/courses"


def test_a_v2_modified_at_that_is_not_a_date_never_moves_the_cursor(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer
) -> None:
    configure_v2()
    pipeline = new_pipeline()
    course_id = company.truth()["courses"][0]["_id"]
    emulator.set_data_faults(
        {"route": COURSES, "match": {"_id": course_id}, "action": "set",
         "fields": {"modifiedAt": "not-a-date"}}
    )  # fmt: skip
    run_sync(pipeline, build_models=False)
    assert emulator.data_faults.applied[COURSES] >= 1
    resources = pipeline.state["sources"]["learning360"]["resources"]
    cursor = resources["courses"]["incremental"]["modifiedAt"]["last_value"]
    assert parse_timestamp(cursor) is not None, cursor
    rejected = read_table(pipeline, "_learning360_rejected")
    assert [(r["table_name"], r["record_key"], r["severity"]) for r in rejected] == [
        ("courses", course_id, "warning")
    ]
    assert '"not-a-date"' in rejected[0]["raw_json"]
    courses = {r["_id"]: r for r in read_table(pipeline, "courses")}
    assert courses[course_id]["modification_date"] is None
    company.advance(days=1)
    emulator.set_data_faults()
    run_sync(pipeline, build_models=False)  # used to fail: could not convert 'not-a-date'


def test_null_elements_in_v2_listings_never_fail_the_others(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer
) -> None:
    configure_v2()
    pipeline = new_pipeline()
    emulator.set_data_faults(
        {"route": "GET /api/v2/users", "action": "insert", "values": [None]},
        {"route": COURSES, "action": "insert", "values": [42], "position": 1},
    )
    run_sync(pipeline, build_models=False)  # a null user used to fail the sync
    assert emulator.data_faults.applied["GET /api/v2/users"] >= 1
    reasons = {r["reason"] for r in read_table(pipeline, "_learning360_rejected")}
    assert reasons == {
        "GET users element is null, not an object",
        "GET courses element is a number, not an object",
    }
    assert_v2_warehouse_equals_truth(pipeline, company.truth())
