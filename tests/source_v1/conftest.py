"""Fixtures for the source's unit tests: a scripted HTTP server and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sources.learning360.client import Learning360Client, RetryPolicy, build_client
from sources.learning360.credentials import Learning360Credentials
from sources.learning360.stats import RequestStats

from .fake_http import FakeServer

COMPANY_ID = "5e3fccd72117d40c7bf500aa"
API_KEY = "k3y-0f-the-t3nant-d0-not-l0g"


def make_credentials(auth_method: str = "header", api_key: str = API_KEY) -> Learning360Credentials:
    credentials = Learning360Credentials(
        company_id=COMPANY_ID, api_key=api_key, auth_method=auth_method
    )
    credentials.on_resolved()
    return credentials


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(server: FakeServer, sleeps: list[float]):
    def build(
        auth_method: str = "header",
        max_attempts: int = 3,
        rps: float = 0,
        workers: int = 4,
        base_url: str | None = None,
    ) -> Learning360Client:
        return build_client(
            base_url or server.base_url,
            make_credentials(auth_method),
            max_requests_per_second=rps,
            workers=workers,
            stats=RequestStats(),
            retry=RetryPolicy(max_attempts=max_attempts, backoff_factor=1.0, timeout=5.0),
            sleep=sleeps.append,
        )

    return build
