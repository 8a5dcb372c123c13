"""The overall sync deadline, and a sync lock whose holder is dead or past its deadline
(issue 13, case 2): no hung run makes every later scheduled run exit 75."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulator import Company, EmulatorServer
from pipelines.lock_takeover import parse_record, record
from pipelines.run import lock_path
from tests.reliability.helpers import (
    ROOT,
    Workspace,
    assert_one_line_failure,
    assert_recovered,
    cli_env,
    message_lines,
    run_cli,
    sync_command,
)

# Takes the lock like a sync does, writes its record, then: "orphan" forks a child that keeps
# the inherited lock and exits at once (the holder is dead, its lock lives on); "overdue" stays
# alive, holding the lock past the deadline it recorded; "live" stays alive within its
# deadline. Prints the pid that holds the lock.
HOLDER = """
import fcntl, os, sys, time
from datetime import UTC, datetime, timedelta
from pipelines.lock_takeover import record
path, mode = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(path), exist_ok=True)
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
now = datetime.now(UTC)
until = now - timedelta(hours=1) if mode == "overdue" else now + timedelta(hours=6)
os.pwrite(fd, record(os.getpid(), now - timedelta(hours=7), until).encode(), 0)
if mode == "orphan":
    child = os.fork()
    if child == 0:
        sys.stdout.close()
        time.sleep(120)
        os._exit(0)
    print(child, flush=True)
    os._exit(0)
print(os.getpid(), flush=True)
time.sleep(120)
"""


def _start_holder(ws: Workspace, mode: str) -> tuple[subprocess.Popen[str], int]:
    path = lock_path(ws.pipeline())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    holder = int(proc.stdout.readline())
    return proc, holder


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "[WARNING]" in line and "sync lock" in line]


def test_the_record_round_trips() -> None:
    now = datetime(2026, 1, 1, 2, 17, tzinfo=UTC)
    text = record(4242, now, now + timedelta(hours=6))
    assert text == "pid 4242 since 2026-01-01T02:17:00+00:00 until 2026-01-01T08:17:00+00:00"
    assert parse_record(text) == (4242, now + timedelta(hours=6))
    assert parse_record("pid 4242 since 2026-01-01T02:17:00+00:00") == (4242, None)


def test_a_lock_held_for_a_dead_process_is_taken_over(
    tmp_path: Path, company: Company, emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    parent, orphan = _start_holder(ws, "orphan")
    parent.wait(timeout=10)
    try:
        result = run_cli(sync_command(ws), cli_env(emulator))
        assert result.returncode == 0, result.stderr
        (warning,) = _warnings(result.stderr)
        assert f"held for process {parent.pid}, which is dead" in warning, warning
        assert (lock_path(ws.pipeline()).parent / f"sync.lock.stale-{parent.pid}").exists()
        assert_recovered(ws.pipeline(), company.truth())
        # the fresh lock works as before: the next sync takes it without a warning
        again = run_cli(sync_command(ws), cli_env(emulator))
        assert again.returncode == 0 and not _warnings(again.stderr), again.stderr
    finally:
        os.kill(orphan, signal.SIGKILL)


def test_a_lock_held_past_its_deadline_is_taken_over(
    tmp_path: Path, company: Company, emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    holder, pid = _start_holder(ws, "overdue")
    try:
        result = run_cli(sync_command(ws), cli_env(emulator))
        assert result.returncode == 0, result.stderr
        (warning,) = _warnings(result.stderr)
        assert f"held by pid {pid}, past its deadline" in warning, warning
        assert holder.wait(timeout=10) == -signal.SIGTERM  # stopped, politely
        assert_recovered(ws.pipeline(), company.truth())
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_live_holder_within_its_deadline_is_not_taken_over(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    holder, pid = _start_holder(ws, "live")  # alive, its deadline 6 h away
    try:
        result = run_cli(sync_command(ws), cli_env(emulator))
        assert_one_line_failure(result, f"held by pid {pid} since", code=75)
        assert not _warnings(result.stderr)
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()


def test_a_sync_past_its_deadline_stops_with_one_line_and_releases_the_lock(
    tmp_path: Path, company: Company, emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    emulator.set_faults(latency_ms=200)  # a full sync now takes far longer than 2 s
    started = time.monotonic()
    failed = run_cli(sync_command(ws), cli_env(emulator, LEARNING360__SYNC_DEADLINE=2))
    assert time.monotonic() - started < 30
    assert_one_line_failure(
        failed, "ran past its deadline of 2 s", "learning360.sync_deadline", code=1
    )
    assert message_lines(failed.stderr)[0].count("learning360 sync failed") == 1

    emulator.set_faults()
    again = run_cli(sync_command(ws), cli_env(emulator))  # the lock was released
    assert again.returncode == 0, again.stderr
    assert_recovered(ws.pipeline(), company.truth())


def test_a_sync_deadline_that_is_not_a_number_is_a_configuration_error(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    failed = run_cli(
        sync_command(Workspace(tmp_path)), cli_env(emulator, LEARNING360__SYNC_DEADLINE="soon")
    )
    assert_one_line_failure(failed, "learning360.sync_deadline", code=2)
