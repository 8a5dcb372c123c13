"""A tiny tenant client for the emulator tests (its own module: `conftest` is ambiguous when
several test folders each have one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

from emulator import Company, EmulatorServer


class Api:
    """A tiny tenant client: query-parameter auth by default, one keep-alive session."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.auth = {"company": server.company_id, "apiKey": server.api_key}

    def get(self, route: str, **params: Any) -> requests.Response:
        return self.session.get(
            f"{self.server.base_url}/api/v1{route}", params={**self.auth, **params}
        )

    def json(self, route: str, **params: Any) -> Any:
        response = self.get(route, **params)
        assert response.status_code == 200, (route, response.status_code, response.text[:200])
        return response.json()

    def admin(self, method: str, route: str, **kw: Any) -> requests.Response:
        headers = {"X-Emulator-Admin": self.server.admin_token}
        return self.session.request(
            method, f"{self.server.base_url}/_emulator{route}", headers=headers, **kw
        )


@contextmanager
def client_of(
    company: Company, client: Callable[[EmulatorServer], Any] = Api, **options: Any
) -> Iterator[Any]:
    """A client (Api, or V2) of an in-process emulator serving `company`, rate limit off."""
    with EmulatorServer(company, **{"rate_limit": 0, **options}) as server:
        api = client(server)
        yield api
        api.session.close()
