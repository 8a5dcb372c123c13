"""Ctrl-C and SIGTERM in every stage of a real `learning360 sync` subprocess (issue 13, case 8),
and a sync interrupted while building the derived models (case 9).

Ctrl-C is SIGINT to the whole process group (what a terminal does: the forked extract gets it
too); SIGTERM goes to the sync's pid only (what `kill` or a scheduler does). The stage is found
as in test_crashes.py (requests served for extract; dlt's working dir for normalize and load)
and, for the models, by the INFO line the build logs once it is recorded as started. Each
interrupted run must exit 130 / 143 with one line and no traceback; the next run completes and
the warehouse equals the truth.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from emulator import Company, EmulatorServer
from pipelines.models.completeness import incomplete_models
from tests.reliability.helpers import (
    ROOT,
    Workspace,
    assert_recovered,
    cli_env,
    message_lines,
    run_cli,
    sync_command,
)
from tests.reliability.test_crashes import observed_stage, package_ids
from tests.warehouse import assert_models_equal_expected

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
LINE = {
    signal.SIGINT: "learning360 sync failed: interrupted by SIGINT (Ctrl-C); the next sync completes",
    signal.SIGTERM: "learning360 sync failed: interrupted by SIGTERM; the next sync completes",
}


MODELS_STARTED = "models: building"  # logged at INFO once the build is recorded as started


def interrupt_sync(
    ws: Workspace,
    server: EmulatorServer,
    stage: str,
    sig: signal.Signals,
    env: dict[str, str],
    extra: tuple[str, ...] = (),
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Starts a sync, sends `sig` once it is in `stage`; the stage seen then and the result."""
    known = package_ids(ws)
    server.reset_metrics()
    level = "INFO" if stage == "models" else "ERROR"  # the models say when they start
    proc = subprocess.Popen(
        sync_command(ws, "--log-level", level, "--progress", "none", *extra),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert proc.stderr is not None and proc.stdout is not None
    err_lines: list[str] = []
    models_started = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            err_lines.append(line)
            if MODELS_STARTED in line:
                models_started.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if stage == "extract" and server.metrics()["total"] >= 15:
            break
        if stage == "models" and models_started.is_set():
            break
        if stage in ("normalize", "load") and observed_stage(ws, known) == stage:
            break
        time.sleep(0.002)
    seen = "finished"
    if proc.poll() is None:
        seen = "models" if models_started.is_set() else observed_stage(ws, known)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C: the foreground process group
        else:
            os.kill(proc.pid, sig)
    out = proc.stdout.read()
    proc.wait(timeout=60)
    reader.join(timeout=10)
    return seen, subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(err_lines))


def test_signal_of_looks_through_dlts_wrappers() -> None:
    """dlt's SignalReceivedException is a KeyboardInterrupt: its own signal code decides."""
    from dlt.common.exceptions import SignalReceivedException

    from pipelines.cli import explain

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            try:
                raise SignalReceivedException(sig)
            except SignalReceivedException as inner:
                raise RuntimeError("failed at step=load") from inner
        except RuntimeError as wrapped:
            code, line = explain(wrapped)
        assert (code, line.split(";")[0]) == (EXIT[sig], LINE[sig].split(": ", 1)[1].split(";")[0])


def assert_interrupted(result: subprocess.CompletedProcess[str], sig: signal.Signals) -> None:
    assert result.returncode == EXIT[sig], (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr
    lines = message_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(LINE[sig]), result.stderr


def _interrupted_then_recovered(
    tmp_path: Path,
    company: Company,
    server: EmulatorServer,
    stage: str,
    sig: signal.Signals,
    extra: tuple[str, ...] = (),
) -> Workspace:
    ws = Workspace(tmp_path)
    env = cli_env(server)
    server.set_faults(seed=9, latency_ms=10)  # extract lasts a second or two
    # a stage may be over before the signal lands: try again
    for _ in range(4):
        seen, result = interrupt_sync(ws, server, stage, sig, env, extra)
        if seen == stage and (stage != "models" or incomplete_models(ws.pipeline())):
            break
        # done before the signal; or done and exiting, when the default handler is back
        assert result.returncode in (0, EXIT[sig], -sig), result.stderr[-3000:]
    assert seen == stage, f"never interrupted during {stage}"
    assert stage != "models" or incomplete_models(ws.pipeline()), "never during the models"
    assert_interrupted(result, sig)
    server.set_faults()
    return ws


CASES = [
    ("extract", signal.SIGINT, ()),
    ("extract", signal.SIGTERM, ()),
    ("normalize", signal.SIGINT, ()),
    ("normalize", signal.SIGTERM, ()),
    ("load", signal.SIGINT, ()),
    ("load", signal.SIGTERM, ()),
    ("extract", signal.SIGTERM, ("--in-process",)),  # dlt's own extract, no forked child
    ("load", signal.SIGTERM, ("--in-process",)),
]
FAST = {("extract", signal.SIGINT, ()), ("load", signal.SIGTERM, ())}


@pytest.mark.parametrize(
    ("stage", "sig", "extra"),
    [
        pytest.param(
            stage,
            sig,
            extra,
            id="-".join((stage, sig.name, *(e.strip("-") for e in extra))),
            marks=() if (stage, sig, extra) in FAST else pytest.mark.slow,
        )
        for stage, sig, extra in CASES
    ],
)
def test_a_signal_in_each_stage_exits_with_one_line_and_the_next_sync_completes(
    tmp_path: Path,
    company: Company,
    emulator: EmulatorServer,
    stage: str,
    sig: signal.Signals,
    extra: tuple[str, ...],
) -> None:
    ws = _interrupted_then_recovered(tmp_path, company, emulator, stage, sig, extra)
    again = run_cli(sync_command(ws), cli_env(emulator))
    assert again.returncode == 0, again.stderr[-3000:]
    assert_recovered(ws.pipeline(), company.truth())


@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(signal.SIGTERM, id="SIGTERM"),
        pytest.param(signal.SIGINT, id="SIGINT", marks=pytest.mark.slow),
    ],
)
def test_interrupted_during_models_status_says_so_and_models_rebuilds_them(
    tmp_path: Path, company: Company, emulator: EmulatorServer, sig: signal.Signals
) -> None:
    """Case 9: raw tables loaded, some derived tables missing. `status` exits 1 naming the
    incomplete models; `learning360 models` rebuilds them and status is clean again."""
    ws = _interrupted_then_recovered(tmp_path, company, emulator, "models", sig)
    env = cli_env(emulator)
    status_args = ["status", *ws.cli_args()]
    status = run_cli([sync_command(ws)[0], *status_args], env)
    assert status.returncode == 1, status.stdout + status.stderr
    assert incomplete_models(ws.pipeline()), "the interrupted build was not recorded"
    assert "derived models incomplete" in status.stdout, status.stdout
    assert "rebuilds incomplete models" in status.stderr

    rebuilt = run_cli([sync_command(ws)[0], "models", *ws.cli_args()], env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert incomplete_models(ws.pipeline()) == []
    status = run_cli([sync_command(ws)[0], *status_args], env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert_models_equal_expected(ws.pipeline(), company.truth())
    assert_recovered(ws.pipeline(), company.truth())


def test_a_sync_killed_during_models_is_rebuilt_by_the_next_sync(
    tmp_path: Path, company: Company, emulator: EmulatorServer
) -> None:
    """SIGKILL (no handler runs) during the models: the record still says `building`; the
    next sync rebuilds every model and marks them built."""
    ws = Workspace(tmp_path)
    env = cli_env(emulator)
    first = run_cli(sync_command(ws), env)
    assert first.returncode == 0, first.stderr
    from pipelines.models.completeness import mark_building
    from pipelines.models.runner import dialect_of, model_order

    pipeline = ws.pipeline()
    with pipeline.sql_client() as client:  # what a kill right after the build started leaves
        mark_building(client, dialect_of(pipeline), model_order())
    status = run_cli([sync_command(ws)[0], "status", *ws.cli_args()], env)
    assert status.returncode == 1, status.stdout + status.stderr
    company.advance(days=1)
    again = run_cli(sync_command(ws), env)
    assert again.returncode == 0, again.stderr
    assert incomplete_models(ws.pipeline()) == []
    assert_recovered(ws.pipeline(), company.truth())
