"""Fixtures for the v2 adapter: the source pointed at the root conftest's emulator (v1 + v2 over
one company) through dlt environment variables (``configure_v2`` / ``configure_v1``), DuckDB
pipelines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import pytest

from emulator import EmulatorServer
from pipelines.run import make_pipeline
from tests.conftest import TEST_RATE

V1_KEYS = ("COMPANY_ID", "API_KEY", "AUTH_METHOD")
V2_KEYS = ("CLIENT_ID", "CLIENT_SECRET")


def _configurer(
    monkeypatch: pytest.MonkeyPatch, drop: tuple[str, ...], env: dict[str, str]
) -> Callable[..., None]:
    """Points the source at the emulator with one API version's credentials, the other's
    removed (as a tenant that has only those); keyword settings become env variables."""

    def _configure(**settings: Any) -> None:
        for key in drop:
            monkeypatch.delenv(f"SOURCES__LEARNING360__CREDENTIALS__{key}", raising=False)
        env["SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND"] = str(TEST_RATE)
        env["RUNTIME__REQUEST_BACKOFF_FACTOR"] = "0.05"
        env.update({key.upper(): str(value) for key, value in settings.items()})
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return _configure


@pytest.fixture
def configure_v2(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> Callable[..., None]:
    """The config change a user makes: api_version = "v2" plus the v2 client credentials."""
    return _configurer(
        monkeypatch,
        V1_KEYS,
        {
            "SOURCES__LEARNING360__BASE_URL": emulator.base_url,
            "SOURCES__LEARNING360__API_VERSION": "v2",
            "SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID": emulator.client_id,
            "SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET": emulator.client_secret,
        },
    )


@pytest.fixture
def configure_v1(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> Callable[..., None]:
    return _configurer(
        monkeypatch,
        V2_KEYS,
        {
            "SOURCES__LEARNING360__BASE_URL": emulator.base_url,
            "SOURCES__LEARNING360__API_VERSION": "v1",
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": emulator.company_id,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": emulator.api_key,
            "SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD": "oauth",
        },
    )


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
