"""End to end: the real source, over real HTTP to the emulator, into a real DuckDB file,
compared with the emulator's ground truth row for row."""

from __future__ import annotations

from typing import Any

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.run import run_sync
from tests.warehouse import (
    CONTRACT,
    assert_models_equal_expected,
    assert_same_rows,
    assert_warehouse_equals_truth,
    read_table,
)

INCREMENTAL_TABLES = ("courses", "paths", "user_courses")


def _pairs(rows: list[dict[str, Any]], a: str, b: str) -> set[tuple[Any, Any]]:
    return {(r[a], r[b]) for r in rows}


def _deleted(truth: dict[str, Any]) -> int:
    return sum(bool(u["deleted"]) for u in truth["users"])


@pytest.mark.parametrize("auth_method", ["oauth", "header", "query"])
def test_full_sync_equals_ground_truth(
    auth_method: str, configure, pipeline: dlt.Pipeline, company: Company
) -> None:
    configure(auth_method=auth_method)
    result = run_sync(pipeline)
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)
    assert result.requests["total"] > 0


def test_incremental_sync_follows_the_company(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    run_sync(pipeline)
    before = company.truth()
    # advance until the change exercises a leave, a catalog removal and a deletion
    for _ in range(15):
        company.advance(days=1)
        after = company.truth()
        if (
            _pairs(before["user_groups"], "user_id", "group_id")
            - _pairs(after["user_groups"], "user_id", "group_id")
            and _pairs(before["group_catalog"], "group_id", "item_id")
            - _pairs(after["group_catalog"], "group_id", "item_id")
            and _deleted(after) > _deleted(before)
        ):
            break
    else:
        pytest.fail("15 simulated days brought no leave, catalog removal and deletion")

    run_sync(pipeline)
    assert_warehouse_equals_truth(pipeline, after)
    assert_models_equal_expected(pipeline, after)


def test_second_sync_without_change_loads_nothing_incremental(
    configure, pipeline: dlt.Pipeline, company: Company
) -> None:
    run_sync(pipeline)
    again = run_sync(pipeline)
    for table in INCREMENTAL_TABLES:
        assert again.rows_per_table.get(table, 0) == 0, (table, again.rows_per_table)
    assert_warehouse_equals_truth(pipeline, company.truth())


def test_user_courses_strategies_produce_the_same_table(
    configure, tmp_path, company: Company
) -> None:
    from pipelines.run import make_pipeline

    tables = {}
    for strategy in ("bulk", "per_user"):
        configure(SOURCES__LEARNING360__USER_COURSES_STRATEGY=strategy)
        p = make_pipeline(
            pipeline_name=f"strategy_{strategy}",
            pipelines_dir=str(tmp_path / strategy),
            duckdb_path=str(tmp_path / f"{strategy}.duckdb"),
        )
        run_sync(p, resources=["user_courses"], build_models=False)
        key, columns = CONTRACT["user_courses"]
        tables[strategy] = read_table(p, "user_courses")
        assert_same_rows(
            "user_courses", tables[strategy], company.truth()["user_courses"], key, columns
        )


def test_variant_shapes_load_the_same_tables(
    configure, monkeypatch: pytest.MonkeyPatch, pipeline: dlt.Pipeline
) -> None:
    """The reference's §12 variants (ids as strings, stats at top level, path sessions listed
    under a catalog's paths, 404 for unknown users, numeric expires_in ...) change nothing but
    the catalog's item_type, which says honestly that the tenant listed a path session."""
    company = Company.generate(seed=7, size="small", groups=20)  # 20 groups: one lists sessions
    with EmulatorServer(company, port=0, rate_limit=None, variants=True) as server:
        monkeypatch.setenv("SOURCES__LEARNING360__BASE_URL", server.base_url)
        monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID", server.company_id)
        monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__API_KEY", server.api_key)
        run_sync(pipeline)
    truth = company.truth()
    catalog = read_table(pipeline, "group_catalog")
    session_path = {s["_id"]: s["path_id"] for s in truth["path_sessions"]}
    listed_sessions = [r for r in catalog if r["item_type"] == "path_session"]
    assert listed_sessions, "the variant company lists no path session in a catalog"
    as_paths = {
        (
            r["group_id"],
            "path" if r["item_type"] == "path_session" else r["item_type"],
            session_path.get(r["item_id"], r["item_id"]),
        )
        for r in catalog
    }
    assert as_paths == {
        (r["group_id"], r["item_type"], r["item_id"]) for r in truth["group_catalog"]
    }
    for table in set(CONTRACT) - {"group_catalog"}:
        key, columns = CONTRACT[table]
        assert_same_rows(table, read_table(pipeline, table), truth[table], key, columns)
    assert_models_equal_expected(pipeline, truth)
