"""The models built on DuckDB from raw tables loaded by a real dlt pipeline, compared row for row
with tests/expected.py (computed from the same truth in plain Python)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import dlt
import pytest

from pipelines.models.runner import build_models, model_order
from tests.expected import EXPECTED, KEYS, diff_rows, expected_models
from tests.models.conftest import REPO_ROOT, execute, load_truth, read_rows

Factory = Callable[[str], dlt.Pipeline]


def assert_models_match(pipeline: dlt.Pipeline, truth: dict[str, Any]) -> dict[str, list[dict]]:
    """Every model equals its expected rows; also checks the invariants every model keeps."""
    problems: list[str] = []
    tables: dict[str, list[dict]] = {}
    for name, expected in expected_models(truth).items():
        rows = read_rows(pipeline, name)
        tables[name] = rows
        problems += diff_rows(name, expected, rows)
        for row in rows:
            for column, value in row.items():
                if column.endswith("_rate") and value is not None and not 0 <= value <= 1:
                    problems.append(f"{name}.{column} = {value} outside [0, 1]")
    assert not problems, "\n".join(problems[:40])
    return tables


def test_models_match_expected_on_hand_truth(make_warehouse: Factory, hand_truth: dict) -> None:
    pipeline = make_warehouse("hand")
    load_truth(pipeline, hand_truth)
    counts = build_models(pipeline)
    assert list(counts) == model_order()
    assert counts == {name: len(f(hand_truth)) for name, f in EXPECTED.items()}
    assert_models_match(pipeline, hand_truth)


def test_hand_truth_edge_cases(make_warehouse: Factory, hand_truth: dict) -> None:
    """The edge cases spelled out, so the SQL and expected.py cannot share a blind spot."""
    pipeline = make_warehouse("edges")
    load_truth(pipeline, hand_truth)
    build_models(pipeline)
    vis = {
        (r["user_id"], r["item_type"], r["item_id"]): r
        for r in read_rows(pipeline, "learner_visibility")
    }
    grants = {
        tuple(r[k] for k in KEYS["learner_visibility_grants"])
        for r in read_rows(pipeline, "learner_visibility_grants")
    }

    # deleted (u3) and unknown (ux) users have no rows anywhere
    users = {key[0] for key in vis} | {key[0] for key in grants}
    assert users == {"u1", "u2", "u4"}
    # a catalog path session grants its path; a missing catalog item grants nothing
    assert ("u2", "path", "p2", "group_catalog", "g1") in grants
    assert not any(key[2] in {"c_missing", "ps_missing", "s3"} for key in grants)
    # two groups granting the same course: one visibility row, two grants
    assert vis[("u1", "course", "c1")]["group_count"] == 2
    assert vis[("u1", "course", "c1")]["is_assigned"] is True
    assert vis[("u2", "course", "c1")]["is_assigned"] is False
    assert vis[("u2", "program_session", "ps1")]["via_group_program"] is True
    # a user with no activity still sees their groups' items, completes nothing
    assert not any(r["is_completed"] for k, r in vis.items() if k[0] == "u2")
    # path completion = first completed session of the path
    assert str(vis[("u1", "path", "p1")]["completed_at"].date()) == "2024-01-15"

    stats = {(r["user_id"], r["course_id"]): r for r in read_rows(pipeline, "learner_course_stats")}
    assert stats[("u1", "c1")]["attempts"] == 3
    assert (stats[("u1", "c1")]["best_progress"], stats[("u1", "c1")]["last_progress"]) == (100, 30)
    assert stats[("u1", "c2")]["last_progress"] == 20
    assert stats[("u4", "c2")]["best_score"] is None  # a null score stays null, not 0
    assert stats[("u1", "c1")]["total_time_spent_ms"] == 3500

    groups = {r["group_id"]: r for r in read_rows(pipeline, "group_stats")}
    assert (groups["g1"]["members"], groups["g1"]["active_members"]) == (2, 1)  # u1, u2
    assert groups["g3"]["members"] == 0 and groups["g3"]["completion_rate"] is None
    courses = {r["course_id"]: r for r in read_rows(pipeline, "course_stats")}
    assert courses["c3"]["learners_started"] == 0 and courses["c3"]["completion_rate"] is None
    assert courses["c2"]["completion_rate"] == pytest.approx(0.5)  # u1 done, u4 not


def test_partial_loads_are_ignored(make_warehouse: Factory, hand_truth: dict) -> None:
    """Rows of a load missing from _dlt_loads (crashed) or not in status 0 never reach a model."""
    pipeline = make_warehouse("partial")
    load_truth(pipeline, hand_truth)

    # an incremental load of the merge table (one new attempt) that "crashes" before dlt
    # records it as complete
    new_attempt = {
        **hand_truth["user_courses"][0],
        "_id": "a9",
        "user_id": "u2",
        "course_id": "c2",
        "completed_at": "2024-02-20T00:00:00.000Z",
    }
    increment = {"user_courses": [new_attempt]}
    load_truth(pipeline, increment, ["user_courses"])
    crashed = pipeline.last_trace.last_load_info.loads_ids[-1]
    execute(pipeline, f"DELETE FROM _dlt_loads WHERE load_id = '{crashed}'")
    # and rows from a load recorded with a non-zero status
    execute(pipeline, "INSERT INTO _dlt_loads (load_id, schema_name, status, inserted_at) "
                      "VALUES ('999.1', 'x', 1, now())")  # fmt: skip
    execute(pipeline, "INSERT INTO user_groups (user_id, group_id, role, _dlt_load_id, _dlt_id) "
                      "VALUES ('u4', 'g1', 'learner', '999.1', 'junk')")  # fmt: skip

    build_models(pipeline)
    assert_models_match(pipeline, hand_truth)

    # once a load completes, its rows count
    load_truth(pipeline, increment, ["user_courses"])
    build_models(pipeline)
    changed = copy.deepcopy(hand_truth)
    changed["user_courses"].append(new_attempt)
    assert_models_match(pipeline, changed)


def test_missing_raw_tables_and_columns(make_warehouse: Factory, hand_truth: dict) -> None:
    """A young tenant: some raw tables never loaded, all-null columns never created."""
    young = {
        "users": hand_truth["users"],
        "groups": hand_truth["groups"],
        "user_groups": hand_truth["user_groups"],
        "courses": hand_truth["courses"],
        "user_courses": [
            {**a, "score": None, "completed_at": None} for a in hand_truth["user_courses"]
        ],
    }
    pipeline = make_warehouse("young")
    load_truth(pipeline, young, list(young), hints=False)
    columns = {c for c in read_rows(pipeline, "user_courses")[0]}
    assert "score" not in columns and "completed_at" not in columns
    build_models(pipeline)
    assert_models_match(pipeline, young)


def test_rebuild_replaces_tables_and_only_builds_upstream(
    make_warehouse: Factory, hand_truth: dict
) -> None:
    pipeline = make_warehouse("rebuild")
    load_truth(pipeline, hand_truth)
    first = build_models(pipeline)
    assert build_models(pipeline) == first
    only = build_models(pipeline, only=["course_stats"])
    assert set(only) == {
        "course_stats",
        "learner_course_stats",
        "learner_program_stats",
        "learner_visibility",
        "learner_visibility_grants",
    }
    tables = {r[0] for r in execute(pipeline, "SELECT table_name FROM information_schema.tables")}
    assert not any(t.endswith("__new") for t in tables)
    with pytest.raises(ValueError, match="unknown model"):
        build_models(pipeline, only=["nope"])


def test_build_without_any_load_fails_clearly(make_warehouse: Factory) -> None:
    pipeline = make_warehouse("empty")
    pipeline.run([dlt.resource([{"x": 1}], name="other")])
    execute(pipeline, "DROP TABLE _dlt_loads")
    with pytest.raises(RuntimeError, match="run a sync first"):
        build_models(pipeline)


def _generated_company() -> Any:
    try:
        from emulator import Company

        return Company.generate(seed=7, size="small")
    except (ImportError, AttributeError, NotImplementedError) as exc:
        pytest.skip(f"emulator not available yet: {exc}")


def test_models_match_expected_on_generated_company(make_warehouse: Factory) -> None:
    """The emulator's company before and after a simulated day, on one warehouse."""
    company = _generated_company()
    pipeline = make_warehouse("generated")
    for _day in range(2):
        truth = company.truth()
        load_truth(pipeline, truth)
        build_models(pipeline)
        tables = assert_models_match(pipeline, truth)
        assert tables["learner_visibility"], "a generated company has visible items"
        company.advance(days=1)


def test_docs_example_queries_run(make_warehouse: Factory, hand_truth: dict) -> None:
    """The ten questions in docs/models.md run against the models as written."""
    pipeline = make_warehouse("docs")
    load_truth(pipeline, hand_truth)
    build_models(pipeline)
    docs = (REPO_ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    queries = re.findall(r"```sql\n(.*?)```", docs, re.S)
    assert len(queries) >= 10
    placeholders = {"'X'": "'g1'", "'Y'": "'c1'", "'Z'": "'c1'", "'U'": "'u1'"}
    with pipeline.sql_client() as client:
        client.execute_sql(f"USE {pipeline.dataset_name}")
        for query in queries:
            for placeholder, value in placeholders.items():
                query = query.replace(placeholder, value)
            assert client.execute_sql(query) is not None, query
        # question 1 on the hand truth: u2 is in g1 and has not completed c1
        assert (
            len(client.execute_sql(queries[0].replace("'X'", "'g1'").replace("'Y'", "'c1'"))) == 1
        )
