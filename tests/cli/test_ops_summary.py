"""The summary after `learning360 sync`: requests, rows per table, and what changed since the
previous sync (row counts from the working dir's snapshot, schema from it or from dlt's
``_dlt_version``)."""

from __future__ import annotations

import json
from pathlib import Path

import dlt

from emulator import Company, EmulatorServer
from pipelines.summary import SNAPSHOT_FILE, read_snapshot


def _table_lines(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("table "))
    rows = {}
    for line in lines[start + 1 :]:
        if line.startswith(("rows:", "schema:")):
            break
        parts = line.split()
        rows[parts[0]] = parts[1:]
    return rows


def test_first_sync_summary(configure, cli, company: Company, emulator: EmulatorServer) -> None:
    emulator.reset_metrics()
    run = cli("sync", "--progress", "none")
    assert run.code == 0, run.err
    out = run.out
    assert out.startswith("learning360 sync: done in ")
    assert "warehouse.duckdb" in out.splitlines()[0]
    total = emulator.metrics()["total"]
    assert f"requests: {total} (429 answers: 0, retries: 0)" in out
    assert "busiest: GET users/{user_id}" in out or "busiest: GET" in out
    assert "no earlier sync recorded" in out
    rows = _table_lines(out)
    truth = company.truth()
    # disposition, rows this sync, rows now
    assert rows["user_courses"] == [
        "merge",
        str(len(truth["user_courses"])),
        str(len(truth["user_courses"])),
    ]
    assert rows["user_groups"][0] == "replace"
    assert int(rows["user_groups"][2]) == len(truth["user_groups"])
    assert "schema: version" in out and "nothing earlier to compare with" in out
    assert "derived tables: " in out


def test_summary_shows_what_changed_since_the_last_sync(
    configure, cli, company: Company, pipeline: dlt.Pipeline
) -> None:
    assert cli("sync", "--progress", "none").code == 0
    before = company.truth()
    company.advance(days=1)
    after = company.truth()
    assert len(after["user_courses"]) > len(before["user_courses"]), "the company did not move"

    run = cli("sync", "--progress", "none")
    assert run.code == 0, run.err
    out = run.out
    assert "since the last sync (" in out
    rows = _table_lines(out)
    disposition, loaded, now, previous, change, *note = rows["user_courses"]
    assert disposition == "merge"
    assert int(now) == len(after["user_courses"])
    assert int(previous) == len(before["user_courses"])
    grew = len(after["user_courses"]) - len(before["user_courses"])
    assert change == f"+{grew}"
    assert f"{grew} new" in " ".join(note)
    # replace tables: net change of the full re-read
    for table in ("user_groups", "group_catalog", "user_programs"):
        _, _, now, previous, change, *_ = rows[table]
        assert int(now) == len(after[table]) and int(previous) == len(before[table]), table
        delta = len(after[table]) - len(before[table])
        assert change == (f"{delta:+d}" if delta else "0"), (table, change)
    assert "tables grew" in out
    assert "schema: version" in out and "unchanged" in out.split("schema: version", 1)[1]

    snapshot = read_snapshot(pipeline)
    assert snapshot is not None
    assert snapshot["rows"]["user_courses"] == len(after["user_courses"])
    assert snapshot["previous"]["rows"]["user_courses"] == len(before["user_courses"])


def test_summary_lists_new_columns(configure, cli, pipeline: dlt.Pipeline) -> None:
    """A column the previous sync did not have is reported (here: forgotten from the snapshot,
    as if the API had just started sending it)."""
    assert cli("sync", "--progress", "none", "--no-models").code == 0
    path = Path(pipeline.working_dir) / SNAPSHOT_FILE
    snapshot = json.loads(path.read_text())
    snapshot["columns"]["courses"].remove("lang")
    del snapshot["columns"]["paths__steps"]
    path.write_text(json.dumps(snapshot))

    run = cli("sync", "--progress", "none", "--no-models")
    assert run.code == 0, run.err
    schema_line = next(line for line in run.out.splitlines() if line.startswith("schema:"))
    assert "new tables: paths__steps" in schema_line
    assert "new columns: courses.lang" in schema_line


def test_schema_compared_with_the_destination_without_a_snapshot(
    configure, cli, pipeline: dlt.Pipeline
) -> None:
    """No snapshot (another machine ran the last sync): rows cannot be compared, the schema
    still is, with the one stored in _dlt_version for the previous load."""
    assert cli("sync", "--progress", "none", "--no-models").code == 0
    (Path(pipeline.working_dir) / SNAPSHOT_FILE).unlink()
    run = cli("sync", "--progress", "none", "--no-models")
    assert run.code == 0, run.err
    assert "no earlier sync recorded" in run.out
    schema_line = next(line for line in run.out.splitlines() if line.startswith("schema:"))
    assert "nothing earlier" not in schema_line, schema_line
