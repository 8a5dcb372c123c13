"""The request-saving strategies load the same tables as the per-user routes, and a cheap
incremental sync after one simulated day leaves the warehouse equal to the ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest

from emulator import Company
from pipelines.run import make_pipeline, run_sync
from tests.warehouse import (
    CONTRACT,
    assert_models_equal_expected,
    assert_same_rows,
    assert_warehouse_equals_truth,
    canonical,
)


def _pipeline(tmp_path: Path, name: str) -> dlt.Pipeline:
    return make_pipeline(
        pipeline_name=name,
        pipelines_dir=str(tmp_path / name),
        duckdb_path=str(tmp_path / f"{name}.duckdb"),
    )


def _rows(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client, client.execute_query(sql) as cursor:
        return sorted((tuple(canonical(v) for v in row) for row in cursor.fetchall()), key=repr)


def _table(pipeline: dlt.Pipeline, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every column but dlt's own, sorted rows: the whole table, not only the contract."""
    columns = sorted(
        c for c in pipeline.default_schema.get_table_columns(table) if not c.startswith("_dlt")
    )
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
    selected = ", ".join(f'"{column}"' for column in columns)
    return columns, _rows(pipeline, f"SELECT {selected} FROM {name}")


def _user_groups_snapshot(pipeline: dlt.Pipeline) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        users = client.make_qualified_table_name("users")
        groups = client.make_qualified_table_name("users__groups")
    return _rows(
        pipeline,
        f"SELECT u._id, g._id, g.name FROM {users} u JOIN {groups} g "
        "ON g._dlt_parent_id = u._dlt_id",
    )


@pytest.mark.parametrize("table", ["user_programs", "user_courses"])
def test_bulk_and_per_user_strategies_load_identical_tables(
    table: str, configure, tmp_path: Path, company: Company
) -> None:
    loaded = {}
    for strategy in ("bulk", "per_user"):
        configure(**{f"SOURCES__LEARNING360__{table.upper()}_STRATEGY": strategy})
        pipeline = _pipeline(tmp_path, f"{table}_{strategy}")
        result = run_sync(pipeline, resources=[table], build_models=False)
        per_user_route = "GET users/{user_id}/" + table.split("_")[1]
        assert (result.requests["requests"].get(per_user_route, 0) > 0) == (strategy == "per_user")
        key, columns = CONTRACT[table]
        assert_same_rows(table, _dicts(pipeline, table), company.truth()[table], key, columns)
        loaded[strategy] = _table(pipeline, table)
    assert loaded["bulk"][0] == loaded["per_user"][0]  # same columns
    assert loaded["bulk"][1] == loaded["per_user"][1]  # same rows, every column


def _dicts(pipeline: dlt.Pipeline, table: str) -> list[dict[str, Any]]:
    columns, rows = _table(pipeline, table)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_user_details_policy_loads_the_same_users_as_every_user_every_run(
    configure, tmp_path: Path, company: Company
) -> None:
    """Full sync: the rotating-refresh policy reads every user's details, as the old
    every-run policy does; after a day, new and changed users get theirs and the contract
    columns equal the truth."""
    loaded = {}
    for days in ("30", "0"):
        configure(SOURCES__LEARNING360__USER_DETAILS_REFRESH_DAYS=days)
        pipeline = _pipeline(tmp_path, f"users_{days}")
        result = run_sync(pipeline, resources=["users"], build_models=False)
        assert result.requests["requests"]["GET users/{user_id}"] == len(company.users)
        loaded[days] = (_table(pipeline, "users"), _user_groups_snapshot(pipeline))
    assert loaded["30"] == loaded["0"]

    before = {u["_id"]: u for u in company.truth()["users"]}
    for _ in range(20):  # a small company gains or loses a user every other day or so
        company.advance(days=1)
        after = company.truth()["users"]
        changed = sum(1 for u in after if before.get(u["_id"]) != u)
        if changed:
            break
    assert changed > 0
    configure(SOURCES__LEARNING360__USER_DETAILS_REFRESH_DAYS="30")
    pipeline = _pipeline(tmp_path, "users_30")
    result = run_sync(pipeline, resources=["users"], build_models=False)
    fetched = result.requests["requests"].get("GET users/{user_id}", 0)
    # only the buckets of changed users (a handful of users each), not everyone
    assert changed <= fetched < len(company.users) / 2, (changed, fetched)
    key, columns = CONTRACT["users"]
    assert_same_rows("users", _dicts(pipeline, "users"), after, key, columns)
    new_ids = {u["_id"] for u in after} - set(before)
    with_details = {row[0] for row in _user_groups_snapshot(pipeline)}
    assert new_ids <= with_details  # new users came with their getUser details


def test_incremental_after_one_day_is_cheap_and_equals_truth(
    configure, pipeline: dlt.Pipeline, company: Company
) -> None:
    full = run_sync(pipeline)
    company.advance(days=1)
    incremental = run_sync(pipeline)
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)
    routes = incremental.requests["requests"]
    assert routes.get("GET users/{user_id}", 0) < len(company.users) / 2
    assert "GET users/{user_id}/programs" not in routes  # bulk program-session stats instead
    assert "GET groups/{group_id}/programs" not in routes  # getProgramSessions' groups instead
    assert incremental.requests["total"] < full.requests["total"] / 2
