"""API v2 end to end: the real source over real HTTP to the emulator's v2 routes, into a real
DuckDB file, compared with the emulator's ground truth (as v2 renders it, tests/source_v2/truth.py)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import Company, EmulatorServer
from pipelines.run import run_sync
from sources.learning360.tables import V1_ONLY_TABLES
from tests.source_v2.truth import assert_v2_warehouse_equals_truth, drafts, v2_view
from tests.warehouse import (
    CONTRACT,
    assert_models_equal_expected,
    assert_same_rows,
    read_table,
    table_exists,
)

INCREMENTAL_TABLES = ("courses", "paths")


def _pairs(rows: list[dict[str, Any]], a: str, b: str) -> set[tuple[Any, Any]]:
    return {(r[a], r[b]) for r in rows}


def test_full_sync_equals_ground_truth(configure_v2, new_pipeline, company: Company) -> None:
    configure_v2()
    pipeline = new_pipeline()
    result = run_sync(pipeline)
    truth = company.truth()
    assert drafts(truth), "the company has no draft course: the draft rule is not exercised"
    assert_v2_warehouse_equals_truth(pipeline, truth)
    # the derived models run unchanged and equal their independent computation
    assert_models_equal_expected(pipeline, v2_view(truth))
    # v1-only tables are not produced; the models read them as empty
    for table in V1_ONLY_TABLES:
        assert not table_exists(pipeline, table)
    assert result.models["program_session_stats"] == 0
    by_route = result.requests["requests"]
    assert by_route["GET courses/stats"] >= 1 and "POST /api/v2/oauth2/token" in by_route


@pytest.mark.parametrize("server_options", [{"v2_page_size": 3}])
def test_small_pages_load_the_same_tables(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer
) -> None:
    configure_v2()
    pipeline = new_pipeline()
    result = run_sync(pipeline)
    truth = company.truth()
    assert_v2_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, v2_view(truth))
    # every listing was followed through its Link headers
    pages = result.requests["requests"]["GET courses/stats"]
    assert pages >= len(truth["user_courses"]) // 3


def test_incremental_sync_follows_the_company(configure_v2, new_pipeline, company: Company) -> None:
    # memberships and catalogs have no change signal: read every group every run here (the
    # default rotation is tested in test_request_economy_v2.py)
    configure_v2(SOURCES__LEARNING360__V2_GROUP_REFRESH_DAYS=0)
    pipeline = new_pipeline()
    run_sync(pipeline)
    before = company.truth()
    for _ in range(15):
        company.advance(days=1)
        after = company.truth()
        if (
            _pairs(before["user_groups"], "user_id", "group_id")
            - _pairs(after["user_groups"], "user_id", "group_id")
            and sum(u["deleted"] for u in after["users"])
            > sum(u["deleted"] for u in before["users"])
            and {(c["_id"], c["modification_date"]) for c in after["courses"]}
            - {(c["_id"], c["modification_date"]) for c in before["courses"]}
        ):
            break
    else:
        pytest.fail("15 simulated days brought no leave, deletion and course change")
    second = run_sync(pipeline)
    assert_v2_warehouse_equals_truth(pipeline, after)
    assert_models_equal_expected(pipeline, v2_view(after))
    # courses came through modifiedAt[gte]: only the changed ones were loaded
    changed = {(c["_id"], c["modification_date"]) for c in v2_view(after)["courses"]} - {
        (c["_id"], c["modification_date"]) for c in before["courses"]
    }
    assert 0 < second.rows_per_table.get("courses", 0) <= len(changed)

    # a run without change loads nothing for the incremental tables
    third = run_sync(pipeline)
    for table in INCREMENTAL_TABLES:
        assert third.rows_per_table.get(table, 0) == 0, (table, third.rows_per_table)
    assert_v2_warehouse_equals_truth(pipeline, after)


def test_completed_only_runs_between_full_reads(
    configure_v2, new_pipeline, company: Company
) -> None:
    """user_courses_full_read_hours > 0: runs between two full reads fetch new completions only
    (completedAt[gte]); progress of open attempts waits for the next full read."""
    configure_v2(SOURCES__LEARNING360__USER_COURSES_FULL_READ_HOURS=24)
    pipeline = new_pipeline()
    first = run_sync(pipeline, resources=["user_courses"], build_models=False)
    for _ in range(3):
        company.advance(days=1)
    after = company.truth()["user_courses"]
    second = run_sync(pipeline, resources=["user_courses"], build_models=False)
    loaded = {r["_id"]: r for r in read_table(pipeline, "user_courses")}
    completed = [a for a in after if a["completed_at"]]
    assert all(loaded.get(a["_id"], {}).get("completed_at") for a in completed)
    assert first.rows_per_table["user_courses"] > 0
    assert 0 < second.rows_per_table.get("user_courses", 0) < len(after)
    # a full read (hours = 0) brings everything, open attempts included
    configure_v2(SOURCES__LEARNING360__USER_COURSES_FULL_READ_HOURS=0)
    run_sync(pipeline, resources=["user_courses"], build_models=False)
    key, columns = CONTRACT["user_courses"]
    assert_same_rows("user_courses", read_table(pipeline, "user_courses"), after, key, columns)


@pytest.mark.parametrize(
    "server_options",
    [
        {
            "v2_page_size": 20,
            "faults": {
                "error_rate": 0.08,
                "reset_rate": 0.03,
                "truncate_rate": 0.03,
                "html_rate": 0.02,
                "burst_429_rate": 0.03,
                "seed": 11,
            },
        }
    ],
)
def test_transient_faults_change_nothing(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer
) -> None:
    """The v1 fault matrix's twin: 5xx, resets, cut bodies, HTML pages and 429s mid-pagination
    are retried (page by page, following the same Link) and the warehouse still equals truth."""
    configure_v2()
    pipeline = new_pipeline()
    result = run_sync(pipeline)
    truth = company.truth()
    assert_v2_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, v2_view(truth))
    assert result.requests["retries"] > 0
    assert sum(emulator.metrics()["faults"].values()) > 0


@pytest.mark.parametrize("server_options", [{"variants": True}])
def test_variant_shapes_change_nothing(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer
) -> None:
    """The tolerance twin: the emulator's variant mode (e.g. expires_in as a string) loads the
    same tables."""
    configure_v2()
    pipeline = new_pipeline()
    run_sync(pipeline)
    assert_v2_warehouse_equals_truth(pipeline, company.truth())
