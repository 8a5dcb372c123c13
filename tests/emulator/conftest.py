"""Fixtures for the emulator's own tests: a small company and an in-process server over real
HTTP on 127.0.0.1 (rate limit off unless a test sets it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator import Company, EmulatorServer
from tests.emulator.emulator_client import Api, client_of

SEED = 11


@pytest.fixture
def small_company() -> Company:
    return Company.generate(seed=SEED, size="small")


@pytest.fixture
def server(small_company: Company) -> Iterator[EmulatorServer]:
    with EmulatorServer(small_company, rate_limit=0) as srv:
        yield srv


@pytest.fixture
def api(server: EmulatorServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.session.close()


@pytest.fixture(scope="module")
def shared_company() -> Company:
    """Read-only tests share one company and server (never advance it)."""
    return Company.generate(seed=SEED, size="small")


@pytest.fixture(scope="module")
def shared_api(shared_company: Company) -> Iterator[Api]:
    with client_of(shared_company) as client:
        yield client
