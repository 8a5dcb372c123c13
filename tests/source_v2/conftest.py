"""Fixtures for the v2 adapter: an emulator (v1 + v2 over one company), the source pointed at
it through dlt environment variables (``configure_v2`` / ``configure_v1``), DuckDB pipelines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.run import make_pipeline
from tests.conftest import SEED, TEST_RATE

V1_KEYS = ("COMPANY_ID", "API_KEY", "AUTH_METHOD")
V2_KEYS = ("CLIENT_ID", "CLIENT_SECRET")


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


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], settings: dict[str, Any]) -> None:
    for key, value in settings.items():
        env[key.upper()] = str(value)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def configure_v2(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> Callable[..., None]:
    """The config change a user makes: api_version = "v2" plus the v2 client credentials
    (the v1 credentials are removed, as a tenant that only has v2 credentials would)."""

    def _configure(**settings: Any) -> None:
        for key in V1_KEYS:
            monkeypatch.delenv(f"SOURCES__LEARNING360__CREDENTIALS__{key}", raising=False)
        env = {
            "SOURCES__LEARNING360__BASE_URL": emulator.base_url,
            "SOURCES__LEARNING360__API_VERSION": "v2",
            "SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID": emulator.client_id,
            "SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET": emulator.client_secret,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(TEST_RATE),
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
        }
        _set(monkeypatch, env, settings)

    return _configure


@pytest.fixture
def configure_v1(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> Callable[..., None]:
    def _configure(**settings: Any) -> None:
        for key in V2_KEYS:
            monkeypatch.delenv(f"SOURCES__LEARNING360__CREDENTIALS__{key}", raising=False)
        env = {
            "SOURCES__LEARNING360__BASE_URL": emulator.base_url,
            "SOURCES__LEARNING360__API_VERSION": "v1",
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": emulator.company_id,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": emulator.api_key,
            "SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD": "oauth",
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(TEST_RATE),
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
        }
        _set(monkeypatch, env, settings)

    return _configure


@pytest.fixture
def new_pipeline(tmp_path: Path) -> Callable[[str], dlt.Pipeline]:
    """A DuckDB pipeline per name (own file, own working dir)."""

    def _make(name: str = "learning360_v2") -> dlt.Pipeline:
        return make_pipeline(
            pipeline_name=name,
            pipelines_dir=str(tmp_path / "pipelines"),
            duckdb_path=str(tmp_path / f"{name}.duckdb"),
        )

    return _make
