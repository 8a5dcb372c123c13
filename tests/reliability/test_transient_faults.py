"""Transient faults (emulator fault injection) never cost a row nor add one.

Each case runs a whole sync against the faulty emulator and compares the warehouse with the
emulator's ground truth, row for row. When retries are exhausted the run exits non-zero with
one line, and the next run completes with nothing lost.

The OAuth case scales "a token that expires every 30 s" down to 2 s (`token_ttl=2`) so it
expires many times within one ~3 s sync of the small company.
"""

from __future__ import annotations

import time
from typing import Any

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.run import run_sync
from tests.reliability.helpers import (
    Workspace,
    assert_no_duplicate_keys,
    assert_one_line_failure,
    assert_recovered,
    assert_state_consistent,
    cli_env,
    run_cli,
    sync_command,
)
from tests.warehouse import assert_models_equal_expected, assert_warehouse_equals_truth

FAULTS: dict[str, dict[str, Any]] = {
    # 10% of requests answered 500 (JSON), 502 or 503 (plain text)
    "5xx": {"error_rate": 0.10},
    # connections closed with RST before any answer
    "resets": {"reset_rate": 0.08},
    # headers announce the whole body, the body stops half way (mid-stream for listings)
    "truncated": {"truncate_rate": 0.08},
    # a proxy's HTML error page (502/503) and a 200 HTML maintenance page instead of JSON
    "html": {"html_rate": 0.06, "html_200_rate": 0.06},
    # 429 bursts regardless of the rate limiter
    "429_bursts": {"burst_429_rate": 0.15},
    # latency spikes; with a 0.22 s request timeout about 1 request in 8 times out
    "latency_spikes": {"latency_ms": 0, "jitter_ms": 250},
    # a body trickled out slowly (listings take seconds to stream)
    "slow_stream": {"slow_stream_bytes_per_s": 400_000},
}


def _sync_and_compare(pipeline: dlt.Pipeline, company: Company, models: bool = False) -> Any:
    result = run_sync(pipeline, build_models=models)
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    if models:
        assert_models_equal_expected(pipeline, truth)
    assert_no_duplicate_keys(pipeline)
    return result


# the fault kinds whose recovery paths overlap others' run with the slow tests
SLOW_KINDS = {"latency_spikes", "slow_stream"}


@pytest.mark.parametrize(
    "kind",
    [pytest.param(k, marks=pytest.mark.slow) if k in SLOW_KINDS else k for k in sorted(FAULTS)],
)
def test_sync_through_transient_faults_equals_truth(
    kind: str, configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    if kind == "latency_spikes":
        configure(RUNTIME__REQUEST_TIMEOUT=0.22)
    emulator.set_faults(seed=11, **FAULTS[kind])
    result = _sync_and_compare(pipeline, company)
    faults = emulator.metrics()["faults"]
    if kind != "latency_spikes":  # latency is not counted as a fault
        assert sum(faults.values()) > 0, faults  # the faults really happened
    if kind != "slow_stream":
        assert result.requests["retries"] > 0, result.requests
    assert not result.requests["dropped"], result.requests


def test_oauth_token_expiring_every_two_seconds(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    """The token lives 2 s (standing in for 30 s): the client refreshes it before it expires
    and, when one still arrives expired (requests in flight, clock skew), re-authenticates."""
    emulator.configure(token_ttl=2)
    emulator.set_faults(seed=3, latency_ms=80, jitter_ms=80)  # extract lasts > 2 s
    _sync_and_compare(pipeline, company)
    assert emulator.metrics()["tokens_issued"] >= 2


@pytest.mark.slow
def test_oauth_token_revoked_before_its_advertised_lifetime(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    """The server says a token lives 30 s but rejects it as `jwt expired` after 2 s: every
    expiry is discovered by a 401 mid-sync, answered by one new token and a replay."""
    emulator.configure(token_ttl=30)
    tokens = emulator._tokens
    issue = tokens.issue

    def short_lived(company_id: str, now: float | None = None, extra: Any = None) -> str:
        return issue(company_id, now=time.time() - 29, extra=extra)  # exp in 1-2 s

    tokens.issue = short_lived  # type: ignore[method-assign]
    emulator.set_faults(seed=5, latency_ms=80, jitter_ms=80)  # extract lasts > 2 s
    result = _sync_and_compare(pipeline, company)
    metrics = emulator.metrics()
    assert result.requests["reauthentications"] >= 1, (result.requests, metrics)
    assert metrics["status"].get("401", 0) >= 1


def test_all_faults_at_once_then_incremental(
    configure, pipeline: dlt.Pipeline, company: Company, emulator: EmulatorServer
) -> None:
    """Every fault together, a 2 s token, then the company moves on and a second (incremental)
    sync through the same storm: raw tables and derived models equal the truth both times."""
    # ~20 % of requests fail: with dlt's default 5 attempts, one of ~600 requests runs out about
    # one run in five on a loaded machine (timeouts add up); 8 attempts make that ~1 in 10,000
    configure(RUNTIME__REQUEST_TIMEOUT=1.0, RUNTIME__REQUEST_MAX_ATTEMPTS=8)
    emulator.configure(token_ttl=2)
    emulator.set_faults(
        seed=23,
        error_rate=0.05,
        reset_rate=0.03,
        truncate_rate=0.03,
        html_rate=0.02,
        html_200_rate=0.02,
        burst_429_rate=0.05,
        latency_ms=5,
        jitter_ms=60,
    )
    _sync_and_compare(pipeline, company, models=True)
    company.advance(days=2)
    _sync_and_compare(pipeline, company, models=True)
    assert_state_consistent(pipeline)


def test_exhausted_retries_fail_with_one_line_and_the_next_run_loses_nothing(
    tmp_path, company: Company, emulator: EmulatorServer
) -> None:
    """Half of all requests fail and only 2 attempts are allowed: the run gives up with exit
    code 1 and one line; nothing half-done is loaded. The next (healthy) run equals the truth."""
    ws = Workspace(tmp_path)
    first = run_cli(sync_command(ws), cli_env(emulator))  # a good night first
    assert first.returncode == 0, first.stderr
    company.advance(days=1)
    emulator.set_faults(seed=1, error_rate=0.5)
    failed = run_cli(sync_command(ws), cli_env(emulator, RUNTIME__REQUEST_MAX_ATTEMPTS=2))
    line = assert_one_line_failure(failed, "failed after 2 attempts", code=1)
    assert "server error" in line
    pipeline = ws.pipeline()
    assert_state_consistent(pipeline)  # the failed night moved no cursor

    emulator.set_faults()
    again = run_cli(sync_command(ws), cli_env(emulator))
    assert again.returncode == 0, again.stderr
    pipeline = ws.pipeline()
    truth = company.truth()
    assert_recovered(pipeline, truth)
