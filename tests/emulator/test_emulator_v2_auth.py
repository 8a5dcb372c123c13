"""API v2 authentication: client credentials, version header, scopes, v1/v2 separation, the
shared rate limit, faults and metrics on v2 routes, and the CLI's v2 options."""

from __future__ import annotations

import time

import pytest
import requests

from emulator import Company, EmulatorServer
from emulator.cli import add_arguments
from emulator.v2_auth import ALL_SCOPES
from tests.emulator.emulator_v2_client import HEADERS, V2, token_request, v2_body

INVALID_TOKEN = (401, {"error": "invalid_token"})


def status_json(r: requests.Response) -> tuple[int, object]:
    return r.status_code, r.json()


def test_client_credentials_flow(server: EmulatorServer) -> None:
    assert len(server.client_id) == 32 and int(server.client_id, 16) >= 0
    assert server.client_secret and server.client_secret != server.api_key
    r = token_request(server, **v2_body(server))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].count(".") == 2
    headers = {**HEADERS, "Authorization": f"Bearer {body['access_token']}"}
    users = requests.get(f"{server.base_url}/api/v2/users", headers=headers)
    assert users.status_code == 200 and isinstance(users.json(), list)
    assert server.metrics()["tokens_issued"] == 1
    # optional body fields: the tenant's company id, an existing user id
    user_id = next(iter(server.company.users))
    r = token_request(server, **v2_body(server), company_id=server.company_id, user_id=user_id)
    assert r.status_code == 200


def test_token_route_v2_errors(server: EmulatorServer) -> None:
    good = v2_body(server)

    def post(**changes: object) -> tuple[int, object]:
        body = {k: v for k, v in {**good, **changes}.items() if v is not None}
        return status_json(token_request(server, **body))

    assert post(grant_type=None) == (400, {"error": "invalid_request"})
    assert post(grant_type="password") == (400, {"error": "unsupported_grant_type"})
    assert post(client_secret=None) == (400, {"error": "invalid_request"})
    assert post(client_secret="wrong") == (401, {"error": "invalid_client"})
    assert post(client_secret=server.api_key) == (401, {"error": "invalid_client"})
    assert post(client_id="f" * 32) == (400, {"error": "invalid_request"})  # unknown client
    assert post(company_id="0" * 24) == (400, {"error": "invalid_request"})
    assert post(user_id="0" * 24) == (400, {"error": "non_existing_user"})
    assert server.metrics()["tokens_issued"] == 0


@pytest.mark.integration
def test_expires_in_is_a_string_in_variant_mode(small_company: Company) -> None:
    with EmulatorServer(small_company, variants=True, rate_limit=0) as server:
        assert token_request(server, **v2_body(server)).json()["expires_in"] == "3600"


@pytest.mark.integration
def test_custom_credentials_and_ttl(small_company: Company) -> None:
    with EmulatorServer(
        small_company, rate_limit=0, client_id="a" * 32, client_secret="s3cret", token_ttl=90
    ) as server:
        assert (server.client_id, server.client_secret) == ("a" * 32, "s3cret")
        body = token_request(server, **v2_body(server)).json()
        assert body["expires_in"] == 90
        server.configure(token_ttl=120)
        assert token_request(server, **v2_body(server)).json()["expires_in"] == 120


def test_version_header(server: EmulatorServer) -> None:
    token = server.issue_v2_token()
    url = f"{server.base_url}/api/v2/courses"
    auth = {"Authorization": f"Bearer {token}"}
    for headers in (auth, {**auth, "360-api-version": "v1.0"}, {"360-api-version": "2.0"}, {}):
        r = requests.get(url, headers=headers)
        assert r.status_code == 400, headers
        assert r.json()["error"]["code"] == "invalidApiVersion"
        assert r.json()["error"]["message"]
    # the version is checked first: a good header without a token is a 401
    assert status_json(requests.get(url, headers=HEADERS)) == INVALID_TOKEN
    assert requests.get(url, headers={**auth, "360-API-Version": "v2.0"}).status_code == 200


def test_bad_tokens(server: EmulatorServer) -> None:
    url = f"{server.base_url}/api/v2/groups"
    for auth in ("Bearer nope", "Bearer a.b.c", "Basic xyz", "Bearer "):
        r = requests.get(url, headers={**HEADERS, "Authorization": auth})
        assert status_json(r) == INVALID_TOKEN, auth
    expired = server._v2_tokens.issue(
        server.company_id, now=time.time() - 7200, extra={"api": "v2", "scope": "groups:read"}
    )
    r = requests.get(url, headers={**HEADERS, "Authorization": f"Bearer {expired}"})
    assert status_json(r) == INVALID_TOKEN


@pytest.mark.integration
def test_token_expires(small_company: Company) -> None:
    with EmulatorServer(small_company, token_ttl=1, rate_limit=0) as server:
        api = V2(server)
        assert api.get("/groups").status_code == 200
        time.sleep(2.05)
        assert status_json(api.get("/groups")) == INVALID_TOKEN


def test_v1_and_v2_credentials_never_mix(server: EmulatorServer) -> None:
    v1_token = token_request(
        server, grant_type="client_credentials", client_id=server.company_id,
        client_secret=server.api_key,
    ).json()["access_token"]  # fmt: skip
    v2_token = token_request(server, **v2_body(server)).json()["access_token"]
    v2_url = f"{server.base_url}/api/v2/users"
    v1_url = f"{server.base_url}/api/v1/users"
    # a v1 token, v1 query or header credentials on v2: invalid_token
    r = requests.get(v2_url, headers={**HEADERS, "Authorization": f"Bearer {v1_token}"})
    assert status_json(r) == INVALID_TOKEN
    r = requests.get(
        v2_url, params={"company": server.company_id, "apiKey": server.api_key}, headers=HEADERS
    )
    assert status_json(r) == INVALID_TOKEN
    r = requests.get(
        v2_url, headers={**HEADERS, "X-company-id": server.company_id, "X-apiKey": server.api_key}
    )
    assert status_json(r) == INVALID_TOKEN
    # a v2 token on v1: invalid_token too; v2 credentials are no v1 API key
    r = requests.get(v1_url, headers={"Authorization": f"Bearer {v2_token}"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    r = requests.get(v1_url, params={"company": server.company_id, "apiKey": server.client_secret})
    assert status_json(r) == (401, {"error": "invalid_api_key"})
    # each token still works on its own API
    assert requests.get(v1_url, headers={"Authorization": f"Bearer {v1_token}"}).ok
    assert requests.get(v2_url, headers={**HEADERS, "Authorization": f"Bearer {v2_token}"}).ok


@pytest.mark.integration
def test_scopes(small_company: Company) -> None:
    with EmulatorServer(small_company, rate_limit=0, v2_scopes=["users:read"]) as server:
        api = V2(server)
        assert api.get("/users").status_code == 200
        r = api.get("/courses")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "invalid_scope" and r.json()["error"]["message"]
        assert api.get("/courses/stats").status_code == 403
        assert api.get("/groups").status_code == 403
    with EmulatorServer(small_company, rate_limit=0) as server:
        assert server.v2_scopes == frozenset(ALL_SCOPES)
        token = server.issue_v2_token(["courses:read"])
        headers = {**HEADERS, "Authorization": f"Bearer {token}"}
        assert requests.get(f"{server.base_url}/api/v2/courses", headers=headers).ok
        r = requests.get(f"{server.base_url}/api/v2/courses/stats", headers=headers)
        assert r.status_code == 403


def test_unknown_scope_is_refused(small_company: Company) -> None:
    try:
        EmulatorServer(small_company, v2_scopes=["courses:write"])
    except ValueError as exc:
        assert "courses:write" in str(exc)
    else:
        raise AssertionError("an unknown scope was accepted")


@pytest.mark.integration
def test_rate_limit_is_shared_by_v1_and_v2(small_company: Company) -> None:
    with EmulatorServer(small_company, rate_limit=5) as server:
        api = V2(server)
        v1 = {"company": server.company_id, "apiKey": server.api_key}
        codes = [requests.get(f"{server.base_url}/api/v1/groups", params=v1).status_code]
        codes += [api.get("/groups").status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        limited = api.get("/groups")
        assert status_json(limited) == (429, {"error": "tooManyRequests"})
        assert "Retry-After" not in limited.headers
        assert server.metrics()["rate_limited"] >= 2
        time.sleep(1.05)
        assert api.get("/groups").status_code == 200


def test_faults_and_metrics_apply_to_v2(server: EmulatorServer) -> None:
    api = V2(server)
    server.reset_metrics()
    api.get("/courses")
    api.get(f"/courses/{next(iter(server.company.courses))}")
    api.get("/nope")
    requests.post(f"{server.base_url}/api/v2/courses")
    requests_seen = server.metrics()["requests"]
    assert requests_seen["GET /api/v2/courses"] == 1
    assert requests_seen["GET /api/v2/courses/{courseId}"] == 1
    assert requests_seen["unknown"] == 2
    server.set_faults(error_rate=1.0, seed=1)
    codes = {api.get("/groups").status_code for _ in range(5)}
    assert codes <= {500, 502, 503, 504} and codes
    assert sum(server.metrics()["faults"].values()) == 5
    server.set_faults()
    assert api.get("/groups").status_code == 200
    r = api.get("/nope")
    assert r.status_code == 404


def test_info_config_and_cli_options(server: EmulatorServer) -> None:
    info = server.info()
    assert info["client_id"] == server.client_id and info["client_secret"] == server.client_secret
    assert info["v2_scopes"] == list(ALL_SCOPES)
    assert server.config()["v2_page_size"] is None
    assert server.configure(v2_page_size=3)["v2_page_size"] == 3
    assert len(V2(server).get("/users").json()) == 3
    assert server.configure(v2_page_size=None)["v2_page_size"] is None
    import argparse

    args = add_arguments(argparse.ArgumentParser()).parse_args(
        ["--client-id", "c" * 32, "--client-secret", "x", "--v2-scopes", "users:read,groups:read",
         "--v2-page-size", "5"]
    )  # fmt: skip
    assert (args.client_id, args.client_secret, args.v2_scopes, args.v2_page_size) == (
        "c" * 32,
        "x",
        "users:read,groups:read",
        5,
    )
