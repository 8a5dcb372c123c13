"""Authentication exactly as reference §2.1, and the admin side door."""

from __future__ import annotations

import time

import pytest
import requests

from emulator import Company, EmulatorServer
from emulator.auth import Tokens
from tests.emulator.emulator_v2_client import token_request


def good_token_body(server: EmulatorServer) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": server.company_id,
        "client_secret": server.api_key,
    }


def test_three_auth_methods(server: EmulatorServer) -> None:
    url = f"{server.base_url}/api/v1/groups"
    by_query = requests.get(url, params={"company": server.company_id, "apiKey": server.api_key})
    by_header = requests.get(
        url, headers={"X-company-id": server.company_id, "X-apiKey": server.api_key}
    )
    token = token_request(server, **good_token_body(server))
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == "3600"
    assert body["access_token"].count(".") == 2
    by_token = requests.get(url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert by_query.status_code == by_header.status_code == by_token.status_code == 200
    assert by_query.json() == by_header.json() == by_token.json()
    assert server.metrics()["tokens_issued"] == 1


def test_401_bodies(server: EmulatorServer) -> None:
    url = f"{server.base_url}/api/v1/users"

    def err(**kw: object) -> tuple[int, dict]:
        r = requests.get(url, **kw)  # type: ignore[arg-type]
        return r.status_code, r.json()

    assert err() == (401, {"error": "missing_company_id"})
    assert err(params={"company": "0" * 24, "apiKey": server.api_key}) == (
        401,
        {"error": "invalid_company_id"},
    )
    assert err(params={"company": server.company_id}) == (401, {"error": "invalid_api_key"})
    assert err(headers={"X-company-id": server.company_id, "X-apiKey": "nope"}) == (
        401,
        {"error": "invalid_api_key"},
    )
    bad_sig = {"error": "invalid_token", "error_description": "invalid signature"}
    assert err(headers={"Authorization": "Bearer not.a.jwt"}) == (401, bad_sig)
    assert err(headers={"Authorization": "Bearer garbage"}) == (401, bad_sig)
    foreign = Tokens(3600, secret=b"another key").issue(server.company_id)
    assert err(headers={"Authorization": f"Bearer {foreign}"}) == (401, bad_sig)


@pytest.mark.integration
def test_expired_token(small_company: Company) -> None:
    with EmulatorServer(small_company, token_ttl=1, rate_limit=0) as server:
        token = token_request(server, **good_token_body(server)).json()
        assert token["expires_in"] == "1"
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert requests.get(f"{server.base_url}/api/v1/groups", headers=headers).status_code == 200
        time.sleep(2.05)
        r = requests.get(f"{server.base_url}/api/v1/groups", headers=headers)
        assert (r.status_code, r.json()) == (
            401,
            {"error": "invalid_token", "error_description": "jwt expired"},
        )


def test_token_route_errors(server: EmulatorServer) -> None:
    good = good_token_body(server)
    url = f"{server.base_url}/api/v2/oauth2/token"

    def post(**changes: object) -> tuple[int, dict]:
        body = {k: v for k, v in {**good, **changes}.items() if v is not None}
        r = requests.post(url, json=body)
        return r.status_code, r.json()

    assert post(grant_type=None) == (400, {"error": "invalid_request"})
    assert post(client_id=None) == (400, {"error": "invalid_request"})
    assert post(client_id="0" * 24) == (400, {"error": "invalid_request"})
    assert post(client_secret=None) == (400, {"error": "invalid_request"})
    assert post(grant_type="password") == (400, {"error": "unsupported_grant_type"})
    assert post(client_secret="wrong") == (401, {"error": "invalid_client"})
    r = requests.post(url, data="{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"error": "invalid_request"})


@pytest.mark.integration
def test_variant_mode_expires_in_is_a_number(small_company: Company) -> None:
    with EmulatorServer(small_company, variants=True) as server:
        assert token_request(server, **good_token_body(server)).json()["expires_in"] == 3600


def test_admin_routes_refuse_tenant_credentials(server: EmulatorServer) -> None:
    url = f"{server.base_url}/_emulator/metrics"
    tenant = {"company": server.company_id, "apiKey": server.api_key}
    assert requests.get(url, params=tenant).status_code == 401
    token = token_request(server, **good_token_body(server)).json()["access_token"]
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert requests.get(url, headers={"X-Emulator-Admin": server.api_key}).status_code == 403
    assert requests.get(url, headers={"X-Emulator-Admin": server.admin_token}).status_code == 200
