"""Issue 15's one cursor mechanism: a v2 pipeline whose ``user_courses`` cursor the previous
version kept by hand (``v2.completed_cursor``) continues incrementally after the upgrade: its
cursor becomes dlt's ``completedAt`` cursor once, and the next sync reads only completions.
The previous version runs from git, as in test_upgrade_v2.py."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import Company
from pipelines.cli import EXIT_CONFIG, explain
from pipelines.run import make_pipeline, run_sync
from sources.learning360.cursors import parse_timestamp
from tests.source_v2.test_upgrade_v2 import previous_version
from tests.warehouse import read_table

PREVIOUS = "70e1814"  # main before issue 15: v2's hand-kept completed_cursor / full_read_at


def test_hand_kept_attempt_cursor_becomes_dlt_incremental(
    configure_v2, company: Company, tmp_path: Path
) -> None:
    previous = previous_version(tmp_path, PREVIOUS)
    configure_v2(SOURCES__LEARNING360__USER_COURSES_FULL_READ_HOURS=24)
    where = {"pipelines_dir": str(tmp_path / "pipelines"), "duckdb_path": str(tmp_path / "w.db")}
    sync = (
        "import json\n"
        "from pipelines.run import make_pipeline, run_sync\n"
        f"pipeline = make_pipeline(pipeline_name='upgrade', **{where!r})\n"
        "run_sync(pipeline, resources=['user_courses'], build_models=False)\n"
        "print(json.dumps(pipeline.state['sources']['learning360']['resources']['user_courses']))"
    )
    old = subprocess.run(
        [sys.executable, "-c", sync],
        cwd=previous,
        env={**os.environ, "PYTHONPATH": str(previous)},
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    old_state = json.loads(old.stdout.splitlines()[-1])
    old_cursor = parse_timestamp(old_state["v2"]["completed_cursor"])  # the old layout
    assert old_cursor is not None and "incremental" not in old_state

    for _ in range(3):
        company.advance(days=1)
    after = company.truth()["user_courses"]
    pipeline = make_pipeline(pipeline_name="upgrade", **where)
    upgraded = run_sync(pipeline, resources=["user_courses"], build_models=False)
    # not a full read (due in 24 h): only the completions since the migrated cursor
    assert 0 < upgraded.rows_per_table.get("user_courses", 0) < len(after)
    loaded = {r["_id"]: r for r in read_table(pipeline, "user_courses")}
    assert all(loaded.get(a["_id"], {}).get("completed_at") for a in after if a["completed_at"])
    own = pipeline.state["sources"]["learning360"]["resources"]["user_courses"]
    assert "completed_cursor" not in own["v2"] and "full_read_at" in own["v2"]
    cursor = parse_timestamp(own["incremental"]["completedAt"]["last_value"])
    assert cursor is not None and cursor >= old_cursor

    # the next run continues from dlt's cursor: nothing completed since, nothing to read
    again = run_sync(pipeline, resources=["user_courses"], build_models=False)
    assert again.rows_per_table.get("user_courses", 0) < upgraded.rows_per_table["user_courses"]


@pytest.mark.parametrize(
    "key, value",
    [
        ("USER_COURSES_FULL_READ_HOURS", "-1"),
        ("V2_USER_REFRESH_DAYS", "-3"),
        ("CHANGE_FEED_RETENTION_HOURS", "-1"),
        ("CHANGE_FEED", "kafka"),
        ("V2_SKIP_TABLES", "classroom"),
    ],
)
def test_v2_options_are_checked_by_the_source(configure_v2, new_pipeline, key, value) -> None:
    """A bad v2 option is one line naming its key, before any request (it used to fall back
    to 0 silently for user_courses_full_read_hours)."""
    configure_v2(**{f"SOURCES__LEARNING360__{key}": value})
    with pytest.raises(Exception) as failure:
        run_sync(new_pipeline(), build_models=False)
    code, line = explain(failure.value)
    assert code == EXIT_CONFIG and f"sources.learning360.{key.lower()}" in line, line


def test_a_hand_kept_attempt_cursor_that_is_not_a_date_is_reset_with_a_warning(
    configure_v2, new_pipeline, company: Company, caplog: pytest.LogCaptureFixture
) -> None:
    """The previous version's ``v2.completed_cursor`` holding garbage: the migration drops it
    with one WARNING and the sync reads every attempt, as the bad-cursor repair does for dlt's."""
    configure_v2()
    pipeline = new_pipeline()
    run_sync(pipeline, resources=["user_courses"], build_models=False)
    with pipeline.managed_state() as state:
        resource = state["sources"]["learning360"]["resources"]["user_courses"]
        resource.pop("incremental")  # the previous version's layout: no dlt cursor yet
        resource["v2"]["completed_cursor"] = "not-a-date"
    dlt_log = logging.getLogger("dlt")  # dlt's logger does not propagate to the root
    dlt_log.addHandler(caplog.handler)
    try:
        run_sync(pipeline, resources=["user_courses"], build_models=False)
    finally:
        dlt_log.removeHandler(caplog.handler)
    assert "v2.completed_cursor held 'not-a-date', not a timestamp" in caplog.text
    own = pipeline.state["sources"]["learning360"]["resources"]["user_courses"]
    assert "completed_cursor" not in own["v2"] and own["incremental"]["completedAt"]["last_value"]
    assert len(read_table(pipeline, "user_courses")) == len(company.truth()["user_courses"])
