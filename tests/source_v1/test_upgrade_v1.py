"""A v1 pipeline synced by the version before issue 15 (user_courses' cursor kept by hand,
``MaxCursor``, as the API's string under ``incremental.lastActivity``) continues incrementally
with ``dlt.sources.incremental``: its cursor is moved once, and the next sync sends the same
requests and loads the same rows as an incremental sync of a pipeline that never upgraded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dlt

from emulator import Company
from pipelines.run import make_pipeline, run_sync
from tests.source_v2.test_upgrade_v2 import previous_version
from tests.warehouse import assert_warehouse_equals_truth

PREVIOUS = "70e1814"  # main before issue 15's registry


def _cursors(pipeline: dlt.Pipeline) -> dict[str, object]:
    resources = pipeline.state["sources"]["learning360"]["resources"]
    return dict(resources["user_courses"]["incremental"])


def test_pipeline_of_the_previous_version_continues_incrementally(
    configure, company: Company, tmp_path: Path
) -> None:
    previous = previous_version(tmp_path, PREVIOUS)

    def where(name: str) -> dict[str, str]:
        return {"pipelines_dir": str(tmp_path / name), "duckdb_path": str(tmp_path / f"{name}.db")}

    old_sync = f"from pipelines.run import make_pipeline, run_sync\nrun_sync(make_pipeline(pipeline_name='upgrade', **{where('upgrade')!r}))\n"
    env = {**os.environ, "PYTHONPATH": str(previous)}
    subprocess.run([sys.executable, "-c", old_sync], cwd=previous, env=env, check=True, timeout=300)
    upgraded = make_pipeline(pipeline_name="upgrade", **where("upgrade"))
    old_slot = _cursors(upgraded)
    assert set(old_slot) == {"lastActivity"} and isinstance(
        old_slot["lastActivity"]["last_value"], str
    )
    # the same company synced by this version, for the requests and rows an incremental costs
    reference = make_pipeline(pipeline_name="reference", **where("reference"))
    run_sync(reference)

    company.advance(days=1)
    expected = run_sync(reference)
    after = run_sync(upgraded)

    assert after.requests["requests"] == expected.requests["requests"]
    assert after.rows_per_table.get("user_courses", 0) == expected.rows_per_table.get(
        "user_courses", 0
    )
    slot = _cursors(upgraded)
    assert set(slot) == {"last_activity"}
    assert slot["last_activity"]["last_value"] == _cursors(reference)["last_activity"]["last_value"]
    assert_warehouse_equals_truth(upgraded, company.truth())
