"""`learning360 status` after real syncs (emulator over HTTP, real DuckDB)."""

from __future__ import annotations

import re
from pathlib import Path

import dlt

from emulator import Company, EmulatorServer
from pipelines.run import table_row_counts
from pipelines.status import EXIT_ATTENTION, EXIT_NEVER_SYNCED, EXIT_OK, cursors_of
from sources.learning360 import learning360


def _loads(pipeline: dlt.Pipeline) -> list[tuple[str, int]]:
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("_dlt_loads")
        return [
            (str(r[0]), int(r[1]))
            for r in client.execute_sql(f"SELECT load_id, status FROM {table}")
        ]


def test_status_after_sync_shows_loads_rows_and_cursors(
    configure, cli, pipeline: dlt.Pipeline, company: Company
) -> None:
    assert cli("sync", "--progress", "none").code == 0
    company.advance(days=1)
    assert cli("sync", "--progress", "none").code == 0

    run = cli("status")
    assert run.code == EXIT_OK, run.out + run.err
    out = run.out
    loads = _loads(pipeline)
    assert len(loads) == 2
    for load_id, status in loads:
        assert status == 0
        line = next(line for line in out.splitlines() if load_id in line)
        assert "completed" in line
    truth = company.truth()
    rows = {
        line.split()[0]: line.split()[1:]
        for line in out.split("rows per table now", 1)[1]
        .split("incremental cursors")[0]
        .splitlines()[1:]
    }
    for table in ("user_courses", "users", "user_groups", "group_catalog", "courses"):
        assert int(rows[table][0]) == len(truth[table]), (table, rows[table])
    # and the row counts before the last sync, from the previous summary's snapshot
    assert rows["user_courses"][1] != "", rows["user_courses"]
    cursors = cursors_of(pipeline.state)
    assert {c.resource for c in cursors} >= {"courses", "paths"}
    for cursor in cursors:
        assert any(
            cursor.resource in line and cursor.cursor in line and str(cursor.last_value) in line
            for line in out.splitlines()
        ), cursor
    assert "pending load packages: none" in out
    assert re.search(r"last sync from this working dir: at \S+, [\d.]+ s, \d+ requests", out)
    assert (
        f"dlt pipeline --pipelines-dir {Path(pipeline.pipelines_dir)} learning360_test info" in out
    )


def test_status_on_a_never_synced_pipeline_says_so(configure, cli, tmp_path: Path) -> None:
    run = cli("status")
    assert run.code == EXIT_NEVER_SYNCED
    assert "never synced" in run.out
    assert not (tmp_path / "warehouse.duckdb").exists(), "status must not create a warehouse"
    assert not (tmp_path / "pipelines").exists(), "status must not create a working dir"


def test_status_on_a_fresh_machine_restores_from_the_destination(
    configure, cli, tmp_path: Path, company: Company
) -> None:
    """Only the warehouse exists (an ephemeral runner): state and cursors come from it, and
    nothing is written to the (empty) pipelines dir."""
    assert cli("sync", "--progress", "none", "--no-models").code == 0
    run = cli("status", pipelines="fresh-runner")
    assert run.code == EXIT_OK, run.out + run.err
    assert "restored from the destination" in run.out
    assert "completed" in run.out
    assert "modificationDate" in run.out  # the courses cursor, from _dlt_pipeline_state
    assert f"user_courses {len(company.truth()['user_courses'])}".split() == next(
        line.split() for line in run.out.splitlines() if line.strip().startswith("user_courses ")
    )
    assert not (tmp_path / "fresh-runner").exists()


def test_a_sync_on_a_fresh_machine_continues_from_the_destinations_state(
    configure, cli, emulator: EmulatorServer
) -> None:
    """An ephemeral runner (GitHub Actions) has only the warehouse: the sync restores state and
    cursors from it before extracting, so it is an incremental sync, not a second full one."""
    emulator.reset_metrics()
    assert cli("sync", "--progress", "none", "--no-models").code == 0
    full = emulator.metrics()["total"]
    emulator.reset_metrics()
    run = cli("sync", "--progress", "none", "--no-models", pipelines="fresh-runner")
    assert run.code == EXIT_OK, run.err
    assert emulator.metrics()["total"] < full / 2, (full, emulator.metrics())


def test_status_reports_pending_packages(configure, cli, pipeline: dlt.Pipeline) -> None:
    """Extracted and normalized but never loaded (a crash before load): status exits 1 and
    names the package the next sync will load first."""
    assert cli("sync", "--progress", "none", "--no-models").code == 0
    pipeline.extract(learning360().with_resources("groups"))
    pipeline.normalize()
    pending = pipeline.list_normalized_load_packages()
    assert len(pending) == 1

    run = cli("status")
    assert run.code == EXIT_ATTENTION
    assert "pending load packages" in run.out
    line = next(line for line in run.out.splitlines() if pending[0] in line)
    assert "normalized" in line and "groups" in line
    assert "needs attention" in run.err
    # status reads the table counts of the destination, not the pending package
    assert table_row_counts(pipeline)["groups"] > 0
