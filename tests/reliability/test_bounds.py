"""Bounded everything (issue 13, case 2): an answer that trickles, a listing that never ends or
loops can not hang a sync. Each case: the emulator misbehaves (``emulator/stuck_faults.py``),
the sync ends within its bounds (set to seconds and hundreds here) with exit 1 and one line
naming the setting, and the next clean run equals the truth."""

from __future__ import annotations

import time

import dlt

from emulator import Company, EmulatorServer
from pipelines.run import run_sync
from tests.reliability.helpers import (
    Workspace,
    assert_one_line_failure,
    assert_recovered,
    assert_state_consistent,
    cli_env,
    run_cli,
    sync_command,
)
from tests.warehouse import assert_warehouse_equals_truth

COURSES = "GET /api/v1/courses"


def test_a_dripping_answer_is_abandoned_at_the_response_deadline_and_retried(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    """One byte every 0.5 s: each read succeeds, so only the total deadline (1.5 s) ends it;
    the retry gets a normal answer and nothing is lost."""
    configure(SOURCES__LEARNING360__RESPONSE_DEADLINE=1.5)
    emulator.set_faults(drip_interval_s=0.5, drip_answers=1, drip_route=COURSES)
    started = time.monotonic()
    result = run_sync(pipeline, build_models=False)
    assert time.monotonic() - started < 30
    assert emulator.metrics()["faults"].get("slow_stream") == 1
    assert result.requests["retries"] >= 1, result.requests
    assert_warehouse_equals_truth(pipeline, company.truth())


def test_an_answer_that_always_drips_fails_the_run_with_one_line(
    tmp_path, company: Company, emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    emulator.set_faults(drip_interval_s=0.5, drip_route=COURSES)
    env = cli_env(
        emulator, SOURCES__LEARNING360__RESPONSE_DEADLINE=1, RUNTIME__REQUEST_MAX_ATTEMPTS=2
    )
    started = time.monotonic()
    failed = run_cli(sync_command(ws), env, timeout=60)
    assert time.monotonic() - started < 40
    line = assert_one_line_failure(
        failed, "GET courses", "no complete answer within 1s", "response_deadline", code=1
    )
    assert "after 2 attempts" in line

    emulator.set_faults()
    again = run_cli(sync_command(ws), cli_env(emulator))  # the lock went with the failed run
    assert again.returncode == 0, again.stderr
    assert_recovered(ws.pipeline(), company.truth())


def test_a_listing_that_never_ends_fails_at_the_element_bound(
    tmp_path, company: Company, emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    first = run_cli(sync_command(ws), cli_env(emulator))
    assert first.returncode == 0, first.stderr
    company.advance(days=1)
    emulator.set_faults(endless_route=COURSES)
    env = cli_env(emulator, SOURCES__LEARNING360__MAX_LISTING_ELEMENTS=500)
    failed = run_cli(sync_command(ws), env, timeout=60)
    assert_one_line_failure(
        failed, "GET courses sent more than 500 elements", "max_listing_elements", code=1
    )
    assert_state_consistent(ws.pipeline())  # nothing of the endless night was loaded

    emulator.set_faults()
    again = run_cli(sync_command(ws), cli_env(emulator))
    assert again.returncode == 0, again.stderr
    assert_recovered(ws.pipeline(), company.truth())
