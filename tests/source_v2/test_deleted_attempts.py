"""v2 ``user_courses`` follows deletions: an attempt a full ``/courses/stats`` read no longer
returns keeps its row, flagged ``deleted`` with the time the sync noticed, and leaves the
models; the ``completedAt[gte]`` runs between full reads list completions only and flag
nothing (docs/reliability.md, "Deletions"). Real HTTP to the emulator, real DuckDB files."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pytest

from emulator import Company
from pipelines.run import make_pipeline, run_sync
from tests.source_v2.truth import assert_v2_warehouse_equals_truth, drafts, v2_view
from tests.warehouse import assert_models_equal_expected, read_table

Row = dict[str, Any]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _attempts(pipeline: dlt.Pipeline) -> dict[str, Row]:
    return {r["_id"]: r for r in read_table(pipeline, "user_courses")}


def _flagged(rows: dict[str, Row]) -> set[str]:
    return {key for key, row in rows.items() if row["deleted"]}


def _counted_attempt(truth: dict[str, Any]) -> Row:
    """An attempt the models count (active learner, course v2 serves), one whose (user,
    course) has another attempt if any: its learner_course_stats row stays, one attempt fewer."""
    active = {u["_id"] for u in truth["users"] if not u["deleted"]}
    hidden = drafts(truth)
    counted = [
        a for a in truth["user_courses"] if a["user_id"] in active and a["course_id"] not in hidden
    ]
    pairs = Counter((a["user_id"], a["course_id"]) for a in counted)
    return max(counted, key=lambda a: (pairs[(a["user_id"], a["course_id"])] > 1, a["_id"]))


def _counted(pipeline: dlt.Pipeline, attempt: Row) -> int:
    """learner_course_stats.attempts of the attempt's (user, course); 0 without a row."""
    key = (attempt["user_id"], attempt["course_id"])
    rows = read_table(pipeline, "learner_course_stats")
    return next((r["attempts"] for r in rows if (r["user_id"], r["course_id"]) == key), 0)


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_attempt_gone_from_a_full_read_is_flagged_and_leaves_the_models(
    configure_v2, new_pipeline, company: Company, destination: str, request, tmp_path: Path
) -> None:
    configure_v2()
    if destination == "postgres":
        request.getfixturevalue("postgres_env")  # a throwaway server, skips without one
        pipeline = make_pipeline(
            destination="postgres",
            pipeline_name="learning360_v2_deleted",
            pipelines_dir=str(tmp_path / "pipelines"),
            dataset_name=f"deleted_{tmp_path.name[-8:].lower().replace('-', '_')}",
        )
    else:
        pipeline = new_pipeline()
    run_sync(pipeline)
    attempt = _counted_attempt(company.truth())
    counted_before = _counted(pipeline, attempt)
    assert counted_before >= 1
    assert not _flagged(_attempts(pipeline))

    company.hard_delete_attempt(attempt["_id"])
    started = datetime.now(UTC)
    run_sync(pipeline)
    finished = datetime.now(UTC)

    rows = _attempts(pipeline)
    assert _flagged(rows) == {attempt["_id"]}
    noticed = _aware(rows[attempt["_id"]]["deleted_noticed_at"])
    assert started <= noticed <= finished
    assert all(row["deleted_noticed_at"] is None for k, row in rows.items() if k != attempt["_id"])
    # the warehouse is the truth row for row (the flagged attempt kept with its last values)
    truth = company.truth()
    assert {a["_id"] for a in truth["user_courses"] if a.get("deleted")} == _flagged(rows)
    assert_v2_warehouse_equals_truth(pipeline, truth)
    # the models no longer count it
    assert_models_equal_expected(pipeline, v2_view(truth))
    assert _counted(pipeline, attempt) == counted_before - 1

    # a later full read keeps the flag and the time it was first noticed
    run_sync(pipeline, resources=["user_courses"], build_models=False)
    again = _attempts(pipeline)
    assert _flagged(again) == {attempt["_id"]}
    assert _aware(again[attempt["_id"]]["deleted_noticed_at"]) == noticed

    # an attempt that comes back is reloaded unflagged by the next full read
    company.add_attempt(company.hard_deleted_attempts.pop(attempt["_id"]))
    run_sync(pipeline, resources=["user_courses"], build_models=False)
    back = _attempts(pipeline)[attempt["_id"]]
    assert not back["deleted"] and back["deleted_noticed_at"] is None


def test_completed_only_runs_flag_nothing(configure_v2, new_pipeline, company: Company) -> None:
    """Between full reads (user_courses_full_read_hours > 0) /courses/stats?completedAt[gte]
    lists completions only: what it does not return is not gone. The next full read flags."""
    configure_v2(SOURCES__LEARNING360__USER_COURSES_FULL_READ_HOURS=24)
    pipeline = new_pipeline()
    run_sync(pipeline, resources=["user_courses"], build_models=False)
    attempt = _counted_attempt(company.truth())
    company.hard_delete_attempt(attempt["_id"])

    incremental = run_sync(pipeline, resources=["user_courses"], build_models=False)
    assert incremental.rows_per_table.get("user_courses", 0) < len(company.truth()["user_courses"])
    rows = _attempts(pipeline)
    assert attempt["_id"] in rows and not _flagged(rows)

    configure_v2(SOURCES__LEARNING360__USER_COURSES_FULL_READ_HOURS=0)
    run_sync(pipeline, resources=["user_courses"], build_models=False)
    assert _flagged(_attempts(pipeline)) == {attempt["_id"]}


def test_too_many_gone_at_once_is_refused(configure_v2, new_pipeline, company: Company) -> None:
    """The shrink guard covers attempts too: more than max_shrink_share of them gone at once
    loads nothing (0 here: any); --allow-shrink accepts it."""
    configure_v2(SOURCES__LEARNING360__MAX_SHRINK_SHARE=0)
    pipeline = new_pipeline()
    run_sync(pipeline, resources=["user_courses"], build_models=False)
    attempt = _counted_attempt(company.truth())
    company.hard_delete_attempt(attempt["_id"])

    with pytest.raises(Exception, match=r"refused to load: 1 of \d+ user_courses would be flagged"):
        run_sync(pipeline, resources=["user_courses"], build_models=False)
    assert not _flagged(_attempts(pipeline))
    run_sync(pipeline, resources=["user_courses"], build_models=False, allow_shrink=True)
    assert _flagged(_attempts(pipeline)) == {attempt["_id"]}
