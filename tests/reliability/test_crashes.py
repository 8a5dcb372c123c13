"""`learning360 sync` killed with SIGKILL at random points, several times in a row.

The sync runs as a subprocess against an in-process emulator (10 ms latency per request so
extract lasts about a second). Kill points are drawn from a seeded RNG, so every run of the
test kills at the same moments (up to scheduling jitter):

* extract: after the emulator has served a random number of requests;
* normalize / load: when dlt's working dir shows the stage (a package in
  ``normalize/extracted`` / ``load/normalized``), after a random short delay;
* models: when the load package has reached ``load/loaded`` (dlt is done, the derived
  tables are being rebuilt), after a random delay.

The stage actually observed at the moment of the kill is recorded; every stage must have
been hit. Each rerun must complete; afterwards the warehouse equals the truth, no primary key
is duplicated, no package is left pending, and the incremental state agrees with the data
(and a further run loads no incremental row).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from emulator import Company, EmulatorServer
from pipelines.run import run_sync
from tests.reliability.helpers import (
    Workspace,
    assert_recovered,
    cli_env,
    popen_cli,
    run_cli,
    sync_command,
)
from tests.warehouse import (
    assert_warehouse_equals_truth,
    read_table,
)

STAGES = ("extract", "normalize", "load", "models")
# how long after a stage is seen the kill may come (seconds); stages last ~0.3-1 s here
KILL_WINDOWS = {"normalize": 0.08, "load": 0.15, "models": 0.4}


def _ids(path: Path) -> set[str]:
    return {p.name for p in path.iterdir() if p.is_dir()} if path.is_dir() else set()


STAGE_DIRS = (  # where this run's package sits, from the latest stage back
    ("models", ("load", "loaded")),
    ("load", ("load", "normalized")),
    ("normalize", ("load", "new")),
    ("normalize", ("normalize", "extracted")),
)


def package_ids(ws: Workspace) -> set[str]:
    return {i for _, parts in STAGE_DIRS for i in _ids(ws.working_dir.joinpath(*parts))}


def observed_stage(ws: Workspace, known: set[str]) -> str:
    """The stage of the package this run extracts (ids in `known` existed before it started:
    a rerun first finishes those pending packages, before it sends any request)."""
    for stage, parts in STAGE_DIRS:
        if _ids(ws.working_dir.joinpath(*parts)) - known:
            return stage
    return "extract"


def sync_killed_at(
    ws: Workspace, server: EmulatorServer, target: str, rng: random.Random, env: dict[str, str]
) -> str:
    """Starts a sync, kills it with SIGKILL in `target` stage; returns the stage observed at
    the kill ("finished" if it completed first)."""
    known = package_ids(ws)
    server.reset_metrics()
    # a small full sync makes ~120 requests, an incremental one ~45
    requests_before_kill = rng.randint(5, 35)
    delay = rng.uniform(0, KILL_WINDOWS.get(target, 0))
    proc = popen_cli(sync_command(ws, "--log-level", "ERROR"), env)
    deadline = time.monotonic() + 90
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if target == "extract":
                if server.metrics()["total"] >= requests_before_kill:
                    break
            elif observed_stage(ws, known) == target:
                time.sleep(delay)
                break
            time.sleep(0.003)
        stage = observed_stage(ws, known)
        if proc.poll() is not None:
            _, err = proc.communicate()
            assert proc.returncode == 0, err[-2000:]  # it may finish first, never fail
            return "finished"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        return stage
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def _crash_then_recover(
    tmp_path: Path, company: Company, server: EmulatorServer, plan: list[str], advance_every: int
) -> list[str]:
    ws = Workspace(tmp_path)
    env = cli_env(server)
    server.set_faults(seed=9, latency_ms=10)
    rng = random.Random(20240607)
    observed = []
    for n, target in enumerate(plan, start=1):
        observed.append(sync_killed_at(ws, server, target, rng, env))
        if advance_every and n % advance_every == 0:
            company.advance(days=1)
    server.set_faults()
    final = run_cli(sync_command(ws), env)
    assert final.returncode == 0, final.stderr

    pipeline = ws.pipeline()
    truth = company.truth()
    assert_recovered(pipeline, truth)
    assert not pipeline.list_extracted_load_packages(), "extracted packages left behind"
    assert not pipeline.list_normalized_load_packages(), "normalized packages left behind"
    loads = read_table(pipeline, "_dlt_loads")
    assert loads and all(row["status"] == 0 for row in loads), loads

    # the state is consistent with the data: a further run finds nothing new to load
    os.environ.update({k: v for k, v in env.items() if k.startswith(("SOURCES__", "RUNTIME__"))})
    again = run_sync(pipeline, build_models=False)
    for table in ("courses", "paths", "user_courses"):
        assert again.rows_per_table.get(table, 0) == 0, (table, again.rows_per_table)
    assert_warehouse_equals_truth(pipeline, truth)
    return observed


@pytest.fixture
def restore_env():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_killed_during_extract_and_during_load_then_recovers(
    tmp_path: Path, company: Company, emulator: EmulatorServer, restore_env
) -> None:
    observed = _crash_then_recover(tmp_path, company, emulator, ["extract", "load"], 1)
    assert observed == ["extract", "load"], observed


@pytest.mark.slow
def test_killed_once_in_each_stage_then_recovers(
    tmp_path: Path, company: Company, emulator: EmulatorServer, restore_env
) -> None:
    observed = _crash_then_recover(tmp_path, company, emulator, list(STAGES), advance_every=0)
    assert set(STAGES) <= set(observed), observed


@pytest.mark.slow
def test_killed_many_times_in_a_row_while_the_company_changes(
    tmp_path: Path, company: Company, emulator: EmulatorServer, restore_env
) -> None:
    """Twelve kills in a row (three per stage, shuffled), the company advancing a day after
    every second kill; every stage must have been hit at least once."""
    plan = list(STAGES) * 3
    random.Random(7).shuffle(plan)
    observed = _crash_then_recover(tmp_path, company, emulator, plan, advance_every=2)
    assert set(STAGES) <= set(observed), observed
