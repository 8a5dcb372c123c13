"""Server lifecycle and serving while the company changes."""

from __future__ import annotations

import threading

import pytest
import requests

from emulator import Company, EmulatorServer
from tests.emulator.emulator_client import Api


@pytest.mark.integration
def test_stop_joins_threads_and_frees_the_port(small_company: Company) -> None:
    before = set(threading.enumerate())
    server = EmulatorServer(small_company, rate_limit=0).start()
    session = requests.Session()  # a keep-alive connection left open on purpose
    auth = {"company": server.company_id, "apiKey": server.api_key}
    assert session.get(f"{server.base_url}/api/v1/groups", params=auth).status_code == 200
    port = server.port
    server.stop()
    assert set(threading.enumerate()) <= before, "no server thread left behind"
    with EmulatorServer(small_company, port=port) as again:  # the port is free to bind again
        assert again.port == port
    session.close()


def test_serving_while_advancing(server: EmulatorServer, api: Api, small_company: Company) -> None:
    errors: list[BaseException] = []

    def advance() -> None:
        try:
            for _ in range(30):
                small_company.advance(1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=advance)
    worker.start()
    while worker.is_alive():
        for route in ("/courses/stats", "/users", "/groups"):
            assert api.get(route).status_code == 200
    worker.join()
    assert not errors
    assert small_company.truth()["now"] == "2026-07-01T00:00:00.000Z"
