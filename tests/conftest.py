"""Shared fixtures: an in-process emulator, source config through env vars, a DuckDB pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.run import make_pipeline

# throwaway PostgreSQL server and BigQuery emulator fixtures; the unit/integration split
pytest_plugins = ["tests.destinations.servers", "tests.unit_guard"]

SEED = 7
# tests run the client faster than production defaults; the emulator still enforces a limit
TEST_RATE = 400.0


@pytest.fixture
def company() -> Company:
    return Company.generate(seed=SEED, size="small")


@pytest.fixture
def server_options() -> dict[str, Any]:
    """Extra EmulatorServer options; tests override this fixture (page size, ttl, scopes)."""
    return {}


@pytest.fixture
def emulator(company: Company, server_options: dict[str, Any]) -> Iterator[EmulatorServer]:
    with EmulatorServer(company, port=0, rate_limit=TEST_RATE * 1.25, **server_options) as server:
        yield server


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> Callable[..., None]:
    """Points the source at the emulator the way a user would: dlt environment variables."""

    def _configure(auth_method: str = "oauth", **settings: object) -> None:
        env = {
            "SOURCES__LEARNING360__BASE_URL": emulator.base_url,
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": emulator.company_id,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": emulator.api_key,
            "SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD": auth_method,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(TEST_RATE),
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
        }
        for key, value in settings.items():
            env[key.upper()] = str(value)
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    _configure()
    return _configure


@pytest.fixture
def pipeline(tmp_path: Path) -> dlt.Pipeline:
    return make_pipeline(
        pipeline_name="learning360_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        duckdb_path=str(tmp_path / "warehouse.duckdb"),
    )
