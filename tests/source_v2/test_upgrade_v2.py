"""A v2 pipeline synced by the version before the request economy (every user and group read
every run, four tables ``replace``) continues with this one: same pipeline, same dataset, the
state it left is read as is, and the warehouse equals the truth after the company advances."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

import sources.learning360.refresh as refresh
from emulator import Company, EmulatorServer
from pipelines.run import make_pipeline, run_sync
from tests.source_v2.test_request_economy_v2 import NO_SIGNAL, _assert_tables_equal
from tests.source_v2.truth import assert_v2_warehouse_equals_truth
from tests.warehouse import CONTRACT

PREVIOUS = "26d875f"  # main before issue 16's request economy
REPO = Path(__file__).resolve().parents[2]
DAY = 86_400


def previous_version(into: Path, commit: str = PREVIOUS) -> Path:
    """The source tree at ``commit`` (from git), extracted under ``into`` (skips without that history)."""
    archive = into / "previous.tar"
    try:
        with archive.open("wb") as out:
            subprocess.run(
                ["git", "-C", str(REPO), "archive", commit], stdout=out, check=True, timeout=60
            )
    except (OSError, subprocess.SubprocessError):
        pytest.skip(f"git history with commit {commit} is not available")
    with tarfile.open(archive) as tar:
        tar.extractall(into / "previous", filter="data")
    return into / "previous"


def test_pipeline_of_the_previous_version_continues(
    configure_v2, company: Company, emulator: EmulatorServer, tmp_path: Path, monkeypatch
) -> None:
    previous = previous_version(tmp_path)
    configure_v2()
    where = {"pipelines_dir": str(tmp_path / "pipelines"), "duckdb_path": str(tmp_path / "w.db")}
    sync = (
        "from pipelines.run import make_pipeline, run_sync\n"
        f"result = run_sync(make_pipeline(pipeline_name='upgrade', **{where!r}))\n"
        "print(result.requests['requests'].get('GET users/{user_id}/certificates', 0))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(previous)}
    old = subprocess.run(
        [sys.executable, "-c", sync],
        cwd=previous,
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    # it was the previous version: one certificates request per user
    assert old.stdout.split()[-1] == str(len(company.users))

    # the previous version copied author mails into courses.author; those rows keep them until
    # the course changes (docs/migration-v2.md §5), so `author` is not compared here
    key, columns = CONTRACT["courses"]
    monkeypatch.setitem(CONTRACT, "courses", (key, tuple(c for c in columns if c != "author")))
    company.advance(days=1)
    monkeypatch.setattr(refresh, "clock", lambda: time.time() + DAY)
    pipeline = make_pipeline(pipeline_name="upgrade", **where)
    first = run_sync(pipeline)
    assert_v2_warehouse_equals_truth(pipeline, company.truth())
    # courses and paths kept their cursors; the new per-parent state starts with a full read
    assert first.rows_per_table.get("courses", 0) < len(company.courses) / 2
    assert first.requests["requests"]["GET users/{user_id}/custom-fields/values"] == len(
        company.users
    )

    company.advance(days=1)
    monkeypatch.setattr(refresh, "clock", lambda: time.time() + 2 * DAY)
    second = run_sync(pipeline).requests["requests"]
    _assert_tables_equal(pipeline, company.truth(), skip=NO_SIGNAL)
    assert second.get("GET users/{user_id}/custom-fields/values", 0) < len(company.users) / 4
