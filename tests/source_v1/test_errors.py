"""Error mapping (actionable, one line, no retries for auth) and secret redaction."""

from __future__ import annotations

import logging
import socket
import traceback

import pytest

from sources.learning360.client import parse_expires_in
from sources.learning360.errors import (
    AuthenticationError,
    ConnectionFailedError,
    Learning360Error,
    error_code,
    is_not_found,
    redact,
)

from .conftest import API_KEY
from .fake_http import FakeServer, Reply

TOKEN_PATH = "/api/v2/oauth2/token"


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            {"error": "missing_company_id"},
            "set sources.learning360.credentials.company_id (env SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID)",
        ),
        ({"error": "invalid_company_id"}, "check sources.learning360.credentials.company_id"),
        (
            {"error": "invalid_api_key"},
            "360Learning rejected the API key (401 invalid_api_key): check sources.learning360.credentials.api_key (env SOURCES__LEARNING360__CREDENTIALS__API_KEY)",
        ),
        (
            {"error": "invalid_token", "error_description": "invalid signature"},
            "(401 invalid_token: invalid signature)",
        ),
        ({"error": "something_new"}, "sources.learning360.credentials.auth_method"),
    ],
)
def test_401_bodies_name_the_key_to_fix_and_are_not_retried(
    server: FakeServer, make_client, body: dict, expected: str
) -> None:
    server.route("GET", "/api/v1/groups", Reply(401, body))
    with pytest.raises(AuthenticationError) as caught:
        list(make_client("header").iter_array("groups"))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value) and len(server.requests) == 1


@pytest.mark.parametrize(
    "status, code, expected",
    [
        (400, "invalid_request", "(400 invalid_request)"),
        (
            400,
            "unsupported_grant_type",
            "auth_method (env SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD) = header",
        ),
        (
            401,
            "invalid_client",
            "rejected the API key when issuing a token (401 invalid_client): check sources.learning360.credentials.api_key",
        ),
    ],
)
def test_token_route_errors(
    server: FakeServer, make_client, status: int, code: str, expected: str
) -> None:
    server.route("POST", TOKEN_PATH, Reply(status, {"error": code}))
    with pytest.raises(AuthenticationError) as caught:
        make_client("oauth").get_json("users/{user_id}", {"user_id": "u1"})
    assert expected in str(caught.value) and len(server.requests) == 1


def test_403_is_a_permission_error(server: FakeServer, make_client) -> None:
    server.route(
        "GET", "/api/v1/groups", Reply(403, {"error": {"code": "invalid_scope", "message": "m"}})
    )
    with pytest.raises(AuthenticationError, match="403 invalid_scope"):
        list(make_client().iter_array("groups"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_names_base_url_and_hides_the_key(
    make_client, sleeps: list[float]
) -> None:
    client = make_client("query", base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConnectionFailedError) as caught:
        list(client.iter_array("users"))
    text = "".join(traceback.format_exception(caught.value))
    assert "connection refused" in str(caught.value)
    assert "check sources.learning360.base_url (env SOURCES__LEARNING360__BASE_URL)" in str(
        caught.value
    )
    assert API_KEY not in text and "apiKey" not in text
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    # nothing ever answered there in this run: one retry, then a configuration error (exit 2)
    assert len(sleeps) == 1 and caught.value.transient is False
    sleeps.clear()
    client._answered = True  # once the host has answered, a refusal is an outage: retried
    with pytest.raises(ConnectionFailedError) as again:
        list(client.iter_array("users"))
    assert len(sleeps) == 2 and again.value.transient is True


def test_api_key_never_reaches_logs(
    make_client, caplog: pytest.LogCaptureFixture, server: FakeServer
) -> None:
    server.route(
        "GET", "/api/v1/groups", Reply(500, {"error": f"echo apiKey={API_KEY}"}), Reply(body=[])
    )
    with caplog.at_level(logging.DEBUG):
        list(make_client("query").iter_array("groups"))
    assert "/api/v1/groups" in caplog.text  # urllib3 logged the request line...
    assert API_KEY not in caplog.text  # ...with the key masked


def test_redaction_patterns() -> None:
    assert redact("GET /api/v1/users?company=c&apiKey=abc123&deleted=true") == (
        "GET /api/v1/users?company=c&apiKey=***&deleted=true"
    )
    assert (
        redact("{'X-apiKey': 'abc', 'Authorization': 'Bearer eyJ.x.y'}")
        == "{'X-apiKey': '***', 'Authorization': '***'}"
    )
    assert (
        redact('{"client_secret": "s", "client_id": "c"}')
        == '{"client_secret": "***", "client_id": "c"}'
    )


def test_errors_share_a_base_class_with_one_line() -> None:
    error = AuthenticationError("line one\n  line two")
    assert isinstance(error, Learning360Error) and error.one_line() == "line one line two"


# ---- error bodies and token lifetimes (moved from test_parsing.py with the helpers)


@pytest.mark.parametrize(
    "value, expected",
    [(3600, 3600.0), ("3600", 3600.0), ("120.5", 120.5), (None, 3600.0), ("soon", 3600.0)],
)
def test_expires_in_number_or_string(value: object, expected: float) -> None:
    assert parse_expires_in(value) == expected


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (400, {"error": "user_not_found"}, True),
        (404, {"error": "user_not_found"}, True),
        (404, {"message": "Not Found", "documentation_url": "x"}, True),
        (404, {"error": {"code": "userNotFound", "message": "m"}}, True),
        (400, {"error": "invalid_request"}, False),
        (400, None, False),
    ],
)
def test_unknown_user_404_or_400(status: int, body: object, expected: bool) -> None:
    assert is_not_found(status, body) is expected


def test_error_code_shapes() -> None:
    assert error_code({"error": "invalid_token", "error_description": "jwt expired"}) == (
        "invalid_token",
        "jwt expired",
    )
    assert error_code({"error": {"code": "invalid_scope", "message": "m"}}) == (
        "invalid_scope",
        "m",
    )
    assert error_code("an error occurred") == (None, None)
