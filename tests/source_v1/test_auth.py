"""The three v1 auth methods on the wire, the token cache and re-auth on ``jwt expired``."""

from __future__ import annotations

import threading

import pytest

from sources.learning360.client import TokenAuth
from sources.learning360.errors import AuthenticationError

from .conftest import API_KEY, COMPANY_ID
from .fake_http import FakeServer, Reply, Request

TOKEN_PATH = "/api/v2/oauth2/token"
EXPIRED = Reply(401, {"error": "invalid_token", "error_description": "jwt expired"})


def token_route(server: FakeServer, expires_in: object = "3600") -> list[str]:
    """Serve numbered tokens; returns the list of tokens issued."""
    issued: list[str] = []

    def issue(request: Request) -> Reply:
        issued.append(f"jwt-{len(issued) + 1}-abcdef")
        return Reply(
            body={"token_type": "Bearer", "access_token": issued[-1], "expires_in": expires_in}
        )

    server.route("POST", TOKEN_PATH, issue)
    return issued


def test_query_auth_sends_company_and_api_key_params(server: FakeServer, make_client) -> None:
    server.json("/api/v1/groups", [])
    list(make_client("query").iter_array("groups"))
    [request] = server.requests
    assert request.query == {"company": COMPANY_ID, "apiKey": API_KEY}
    assert "Authorization" not in request.headers and "X-apiKey" not in request.headers


def test_header_auth_sends_company_and_api_key_headers(server: FakeServer, make_client) -> None:
    server.json("/api/v1/groups", [])
    list(make_client("header").iter_array("groups"))
    [request] = server.requests
    assert request.headers["X-company-id"] == COMPANY_ID and request.headers["X-apiKey"] == API_KEY
    assert request.query == {}


@pytest.mark.parametrize("expires_in", [3600, "3600"])
def test_oauth_posts_json_once_and_sends_bearer(
    server: FakeServer, make_client, expires_in: object
) -> None:
    issued = token_route(server, expires_in)
    server.json("/api/v1/users/u1", {"_id": "u1"})
    client = make_client("oauth")
    for _ in range(5):
        client.get_json("users/{user_id}", {"user_id": "u1"})
    [token_request] = server.calls(TOKEN_PATH)
    assert token_request.body == {
        "grant_type": "client_credentials",
        "client_id": COMPANY_ID,
        "client_secret": API_KEY,
    }
    assert token_request.headers["Content-Type"] == "application/json"
    api_requests = server.calls("/api/v1/users/u1")
    assert {r.headers["Authorization"] for r in api_requests} == {f"Bearer {issued[0]}"}
    assert all(r.query == {} for r in api_requests)


def test_token_shared_by_threads(server: FakeServer, make_client) -> None:
    token_route(server)
    server.json("/api/v1/users/u1", {"_id": "u1"})
    client = make_client("oauth")
    threads = [
        threading.Thread(
            target=lambda: [client.get_json("users/{user_id}", {"user_id": "u1"}) for _ in range(5)]
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.calls(TOKEN_PATH)) == 1 and len(server.calls("/api/v1/users/u1")) == 40


def _token_auth(clock, lifetime: float = 3600) -> tuple[TokenAuth, list[int]]:
    """A TokenAuth whose token request (the client's transport) is a counter."""
    fetched: list[int] = []
    auth = TokenAuth(COMPANY_ID, API_KEY, clock=clock)

    def post(body: dict) -> dict:
        fetched.append(1)
        return {"access_token": f"token-{len(fetched)}-xxxxxx", "expires_in": lifetime}

    auth.post = post
    return auth, fetched


def test_token_refreshed_60s_before_expiry() -> None:
    now = [0.0]
    auth, _ = _token_auth(lambda: now[0])
    assert auth.token() == "token-1-xxxxxx"
    now[0] = 3539.0
    assert auth.token() == "token-1-xxxxxx"
    now[0] = 3540.0
    assert auth.token() == "token-2-xxxxxx"


def test_short_lived_token_is_not_fetched_on_every_call() -> None:
    now = [0.0]
    auth, fetched = _token_auth(lambda: now[0], lifetime=30)
    auth.token()
    now[0] = 14.0
    auth.token()
    assert len(fetched) == 1  # margin capped at half the lifetime


def test_jwt_expired_refetches_the_token_once_and_retries(
    server: FakeServer, make_client, sleeps: list[float]
) -> None:
    issued = token_route(server)
    server.route("GET", "/api/v1/users/u1", EXPIRED, Reply(body={"_id": "u1"}))
    client = make_client("oauth")
    assert client.get_json("users/{user_id}", {"user_id": "u1"}) == {"_id": "u1"}
    assert len(issued) == 2 and sleeps == []
    last = server.calls("/api/v1/users/u1")[-1]
    assert last.headers["Authorization"] == f"Bearer {issued[1]}"
    assert client.stats.reauthentications == 1 and client.stats.retries == 0


def test_jwt_expired_twice_in_a_row_is_an_auth_error(server: FakeServer, make_client) -> None:
    token_route(server)
    server.route("GET", "/api/v1/users/u1", EXPIRED)
    with pytest.raises(AuthenticationError, match="invalid_token: jwt expired"):
        make_client("oauth").get_json("users/{user_id}", {"user_id": "u1"})
    assert len(server.calls(TOKEN_PATH)) == 2 and len(server.calls("/api/v1/users/u1")) == 2


def test_token_route_retries_server_errors(server: FakeServer, make_client) -> None:
    server.route(
        "POST",
        TOKEN_PATH,
        Reply(503, {"error": "unavailable"}),
        Reply(body={"token_type": "Bearer", "access_token": "jwt-after-retry", "expires_in": 3600}),
    )
    server.json("/api/v1/groups", [])
    list(make_client("oauth").iter_array("groups"))
    assert server.calls("/api/v1/groups")[0].headers["Authorization"] == "Bearer jwt-after-retry"
