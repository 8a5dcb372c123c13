"""The migration guarantee (docs/migration-v2.md): switching api_version from v1 to v2 is a
config change, not a dashboard rebuild.

1. The same company loaded once through v1 and once through v2 (two DuckDB files) gives the
   same derived tables for everything both APIs carry (program sessions and drafts aside).
2. The documented procedure (same pipeline name and dataset; change api_version and the
   credentials; sync) keeps the history, duplicates no key, and the tables equal the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import dlt
from dlt.pipeline.helpers import pipeline_drop

from emulator import Company
from pipelines.run import run_models, run_sync
from sources.learning360.tables import V1_ONLY_TABLES
from tests.expected import KEYS, diff_rows
from tests.source_v2.truth import (
    SHARED_TABLES,
    assert_shared_tables_equal,
    assert_v2_only_tables_equal,
    drafts,
    v2_catalog,
    v2_view,
)
from tests.warehouse import (
    CONTRACT,
    assert_models_equal_expected,
    assert_same_rows,
    read_table,
)

Row = Mapping[str, Any]


def _same_model(
    model: str,
    v1: dlt.Pipeline,
    v2: dlt.Pipeline,
    keep: Callable[[Row], bool] = lambda row: True,
    columns: tuple[str, ...] | None = None,
) -> list[str]:
    """Rows of ``model`` in the v2 warehouse vs the v1 warehouse (rows passing ``keep``,
    restricted to ``columns`` when given)."""
    keys = KEYS[model]

    def pick(row: Row) -> dict[str, Any]:
        return dict(row) if columns is None else {c: row[c] for c in (*keys, *columns)}

    want = {tuple(r[k] for k in keys): pick(r) for r in read_table(v1, model) if keep(r)}
    got = [pick(r) for r in read_table(v2, model) if keep(r)]
    return diff_rows(model, want, got)


def test_v1_and_v2_give_the_same_derived_tables(
    configure_v1, configure_v2, new_pipeline, company: Company
) -> None:
    configure_v1()
    v1 = new_pipeline("through_v1")
    run_sync(v1)
    configure_v2()
    v2 = new_pipeline("through_v2")
    run_sync(v2)
    truth = company.truth()
    draft_ids = drafts(truth)

    def not_program(row: Row) -> bool:
        return row["item_type"] != "program_session"

    problems = [
        # statistics of courses and learners: identical (drafts have no row in v2)
        *_same_model("learner_course_stats", v1, v2),
        *_same_model("course_stats", v1, v2, lambda r: r["course_id"] not in draft_ids),
        # visibility of courses and paths: identical (a catalog path = its sessions in v2)
        *_same_model("learner_visibility", v1, v2, not_program),
        *_same_model("learner_visibility_grants", v1, v2, not_program),
        # groups: same groups and members; the counts that include program sessions differ
        *_same_model("group_stats", v1, v2, columns=("group_name", "parent_group_id", "members")),
    ]
    assert not problems, "\n".join(problems[:30])
    assert read_table(v2, "program_session_stats") == []

    # raw tables: the same rows on every contract column both versions carry
    for table in SHARED_TABLES:
        key, columns = CONTRACT[table]
        old, new = read_table(v1, table), read_table(v2, table)
        if table == "courses":
            old = [r for r in old if r["_id"] not in draft_ids]
            # v1 sends the author's mail, v2 copies none: both carry author_id, compared here
            columns = tuple(c for c in columns if c != "author")
        if table == "group_catalog":
            old = v2_catalog({"group_catalog": old, "path_sessions": truth["path_sessions"]})
        assert_same_rows(table, new, old, key, columns)


def test_switching_an_existing_pipeline_keeps_its_history(
    configure_v1, configure_v2, new_pipeline, company: Company
) -> None:
    # an existing v1 pipeline ...
    configure_v1()
    run_sync(new_pipeline("learning360"))
    at_switch = company.truth()
    v1_attempts = {r["_id"] for r in at_switch["user_courses"]}
    v1_drafts = {c["_id"]: c for c in at_switch["courses"] if c["status"] == "draft"}
    # ... the company moves on (deletions, new attempts, catalog changes) ...
    deleted_before = sum(u["deleted"] for u in at_switch["users"])
    for _ in range(15):
        company.advance(days=1)
        after = company.truth()
        if sum(u["deleted"] for u in after["users"]) > deleted_before:
            break
    else:
        raise AssertionError("15 simulated days deleted nobody")

    # ... the procedure: same pipeline name and dataset, api_version + credentials changed
    configure_v2()
    pipeline = new_pipeline("learning360")
    assert pipeline.dataset_name == "learning360_data"
    run_sync(pipeline)

    # every table v2 carries equals the truth; no key is duplicated (assert_same_rows checks)
    still_drafts = drafts(after)
    assert_shared_tables_equal(pipeline, v2_view(after), skip_courses=still_drafts)
    assert_v2_only_tables_equal(pipeline, after)

    # history: every attempt loaded through v1 is still there, deleted users' attempts too
    attempts = {r["_id"]: r for r in read_table(pipeline, "user_courses")}
    assert v1_attempts <= set(attempts)
    deleted = {u["_id"] for u in after["users"] if u["deleted"]}
    assert any(r["user_id"] in deleted for r in attempts.values())
    # drafts v2 cannot see keep their last v1 state (published ones were updated through v2)
    courses = {r["_id"]: r for r in read_table(pipeline, "courses")}
    assert set(v1_drafts) <= set(courses)
    for course_id in still_drafts & set(v1_drafts):
        assert courses[course_id]["status"] == "draft"

    # v1-only tables keep their last v1 state (documented), still used by the models
    for table in V1_ONLY_TABLES:
        key, columns = CONTRACT[table]
        assert_same_rows(table, read_table(pipeline, table), at_switch[table], key, columns)

    # the models equal their computation from exactly that mix
    mixed = v2_view(after)
    mixed["courses"] = mixed["courses"] + [
        c for c in at_switch["courses"] if c["_id"] in still_drafts and c["_id"] in v1_drafts
    ]
    for table in V1_ONLY_TABLES:
        mixed[table] = at_switch[table]
    assert_models_equal_expected(pipeline, mixed)

    # and the next v2 run is incremental
    again = run_sync(pipeline)
    for table in ("courses", "paths"):
        assert again.rows_per_table.get(table, 0) == 0, (table, again.rows_per_table)

    # the documented way to retire the v1-only tables: the models then read them as empty
    pipeline_drop(pipeline, resources=list(V1_ONLY_TABLES))()
    built = run_models(new_pipeline("learning360"))
    assert built["program_session_stats"] == 0 and built["learner_program_stats"] == 0
    assert_models_equal_expected(pipeline, v2_view(after) | {"courses": mixed["courses"]})
