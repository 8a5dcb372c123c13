"""Two syncs of the same pipeline at once: the second refuses at once with one line (exit 75)
and touches nothing; the first completes; the warehouse and the state are intact."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from emulator import Company, EmulatorServer
from pipelines.cli import EXIT_LOCKED, main
from pipelines.run import SyncAlreadyRunning, lock_path, run_models, run_sync, sync_lock
from tests.reliability.helpers import (
    Workspace,
    assert_one_line_failure,
    assert_recovered,
    cli_env,
    popen_cli,
    run_cli,
    sync_command,
)


def _held_elsewhere(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also drops a lock we just took
    return False


def test_a_held_lock_refuses_sync_and_models_with_one_line(
    tmp_path: Path, configure, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = Workspace(tmp_path)
    pipeline = ws.pipeline()
    path = lock_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process, as far as flock knows
    os.write(fd, b"pid 4242 since 2026-01-01T02:17:00+00:00")
    try:
        with pytest.raises(SyncAlreadyRunning, match="another sync of pipeline"):
            run_sync(pipeline)
        with pytest.raises(SyncAlreadyRunning):
            run_models(pipeline)
        for command in ("sync", "models"):
            assert main([command, *ws.cli_args()]) == EXIT_LOCKED
            err = capsys.readouterr().err.strip().splitlines()
            assert err == [
                f"learning360 {command} failed: another sync of pipeline {ws.name} is running "
                f"(lock file {path}, held by pid 4242 since 2026-01-01T02:17:00+00:00); "
                "try again when it has finished"
            ]
    finally:
        os.close(fd)
    assert not ws.duckdb_path.exists()  # refused before touching the warehouse
    # released: the same pipeline syncs now, and the lock is re-entrant within one thread
    with sync_lock(pipeline):
        result = run_sync(pipeline, build_models=False)
    assert result.rows_per_table["users"] > 0


def test_second_concurrent_sync_refuses_and_the_first_completes(
    tmp_path: Path, company: Company, emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    env = cli_env(emulator)
    emulator.set_faults(seed=2, latency_ms=25)  # the first sync takes several seconds
    first = popen_cli(sync_command(ws), env)
    try:
        deadline = time.monotonic() + 60
        path = ws.working_dir / "sync.lock"
        while not (path.exists() and _held_elsewhere(path)):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert emulator.metrics()["total"] < 150  # still extracting
        second = run_cli(sync_command(ws), env, timeout=60)
        assert first.poll() is None  # the refusal came while the first was running
        line = assert_one_line_failure(
            second, "another sync of pipeline", str(path), code=EXIT_LOCKED
        )
        assert f"pid {first.pid}" in line
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    pipeline = ws.pipeline()
    truth = company.truth()
    assert_recovered(pipeline, truth)
    assert len(pipeline.list_completed_load_packages()) == 1  # the refused run loaded nothing
