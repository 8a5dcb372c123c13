"""The HTTP client over real sockets: retries, streaming, missing items, stats."""

from __future__ import annotations

import time

import pytest

from sources.learning360.errors import ApiError, MalformedResponseError, NotFoundError

from .fake_http import FakeServer, Reply

USERS = [{"_id": f"u{i}", "mail": f"u{i}@example.com"} for i in range(40)]


def test_retries_a_5xx_then_succeeds(server: FakeServer, make_client, sleeps: list[float]) -> None:
    server.route(
        "GET",
        "/api/v1/groups",
        Reply(502, b"bad gateway", content_type="text/plain"),
        Reply(body=[{"_id": "g1"}]),
    )
    client = make_client()
    assert list(client.iter_array("groups")) == [{"_id": "g1"}]
    assert sleeps == [1.0] and client.stats.retries == 1 and client.stats.requests == 2


def test_429_honours_retry_after(server: FakeServer, make_client, sleeps: list[float]) -> None:
    server.route(
        "GET",
        "/api/v1/users/u1",
        Reply(429, {"error": "tooManyRequests"}, headers={"Retry-After": "2"}),
        Reply(429, {"error": "tooManyRequests"}),
        Reply(body={"_id": "u1"}),
    )
    client = make_client()
    assert client.get_json("users/{user_id}", {"user_id": "u1"}) == {"_id": "u1"}
    assert sleeps == [2.0, 2.0]  # Retry-After, then backoff 1 * 2**1
    assert client.stats.rate_limited == 2


def test_200_with_html_body_is_a_retryable_fault(server: FakeServer, make_client) -> None:
    html = Reply(body=b"<html>maintenance</html>", content_type="text/html")
    server.route("GET", "/api/v1/courses/c1", html, Reply(body={"_id": "c1"}))
    server.route("GET", "/api/v1/courses", html, Reply(body=[{"_id": "c1"}]))
    client = make_client()
    assert client.get_json("courses/{course_id}", {"course_id": "c1"}) == {"_id": "c1"}
    assert list(client.iter_array("courses")) == [{"_id": "c1"}]
    assert client.stats.retries == 2


def test_truncated_json_is_retried_then_reported(server: FakeServer, make_client) -> None:
    server.route("GET", "/api/v1/groups/g1", Reply(body=b'{"_id": "g1", "na'))
    client = make_client(max_attempts=2)
    with pytest.raises(MalformedResponseError, match="GET groups/\\{group_id\\}.*2 attempts"):
        client.get_json("groups/{group_id}", {"group_id": "g1"})
    assert len(server.calls("/api/v1/groups/g1")) == 2


def test_iter_array_yields_before_the_body_ends(server: FakeServer, make_client) -> None:
    server.route("GET", "/api/v1/users", Reply(body=USERS, chunks=4, chunk_pause=0.3))
    client = make_client()
    started = time.monotonic()
    elements = client.iter_array("users")
    first = next(elements)
    first_after = time.monotonic() - started
    rest = list(elements)
    total = time.monotonic() - started
    assert first == USERS[0] and [first, *rest] == USERS
    assert first_after < 0.3 < total  # the first element came with the first chunk
    assert client.stats.bytes_received > 1000


def test_iter_array_restarts_a_broken_stream_without_duplicates(
    server: FakeServer, make_client, sleeps: list[float]
) -> None:
    server.route(
        "GET",
        "/api/v1/users",
        Reply(body=USERS, chunks=4, cut_after_chunks=2),
        Reply(body=USERS, chunks=4),
    )
    client = make_client()
    assert list(client.iter_array("users")) == USERS
    assert len(server.calls("/api/v1/users")) == 2 and client.stats.retries == 1


def test_iter_array_restart_skips_id_less_elements_by_position(
    server: FakeServer, make_client
) -> None:
    stats = [{"course": {"_id": f"c{i}"}, "stats": []} for i in range(30)]
    server.route(
        "GET",
        "/api/v1/courses/stats",
        Reply(body=stats, chunks=3, cut_after_chunks=1),
        Reply(body=stats),
    )
    assert list(make_client().iter_array("courses/stats")) == stats


def test_iter_array_gives_up_after_max_attempts(server: FakeServer, make_client) -> None:
    server.route("GET", "/api/v1/users", Reply(body=USERS, chunks=4, cut_after_chunks=2))
    client = make_client(max_attempts=2)
    with pytest.raises(MalformedResponseError, match="after 2 attempts"):
        list(client.iter_array("users"))


def test_iter_array_rejects_an_object_body(server: FakeServer, make_client) -> None:
    server.route("GET", "/api/v1/users", Reply(body={"users": USERS}))
    with pytest.raises(MalformedResponseError, match="expected a JSON array"):
        list(make_client(max_attempts=1).iter_array("users"))


def test_iter_array_nested_prefix(server: FakeServer, make_client) -> None:
    server.json(
        "/api/v1/paths/sessions/s1/stats/users", {"sessionId": "s1", "usersStats": USERS[:3]}
    )
    client = make_client()
    assert (
        list(
            client.iter_array(
                "paths/sessions/{sid}/stats/users", {"sid": "s1"}, item_prefix="usersStats.item"
            )
        )
        == USERS[:3]
    )


@pytest.mark.parametrize("status", [400, 404])
def test_missing_user_is_skipped_when_allowed(server: FakeServer, make_client, status: int) -> None:
    server.route("GET", "/api/v1/users/gone", Reply(status, {"error": "user_not_found"}))
    client = make_client()
    assert client.get_json("users/{user_id}", {"user_id": "gone"}, missing_ok=True) is None
    assert client.stats.skipped_missing == 1 and client.stats.retries == 0
    with pytest.raises(NotFoundError, match="user_not_found"):
        client.get_json("users/{user_id}", {"user_id": "gone"})


def test_other_4xx_fails_at_once(server: FakeServer, make_client) -> None:
    server.route("GET", "/api/v1/groups", Reply(422, {"error": "bad_filter"}))
    with pytest.raises(ApiError, match="422 bad_filter") as caught:
        list(make_client().iter_array("groups"))
    assert caught.value.status == 422 and len(server.calls("/api/v1/groups")) == 1


def test_5xx_until_attempts_run_out(server: FakeServer, make_client, sleeps: list[float]) -> None:
    server.route("GET", "/api/v1/groups", Reply(503, {"error": "down"}))
    with pytest.raises(ApiError, match="failed after 3 attempts: 503"):
        list(make_client().iter_array("groups"))
    assert sleeps == [1.0, 2.0]


def test_stats_per_route_template_and_quoted_ids(server: FakeServer, make_client) -> None:
    server.route("GET", "/api/v1/users/a%2Bb%40x.com", Reply(body={"_id": "u1"}))
    server.route("GET", "/api/v1/users/u2", Reply(body={"_id": "u2"}))
    client = make_client()
    client.get_json("users/{user_id}", {"user_id": "a+b@x.com"})
    client.get_json("users/{user_id}", {"user_id": "u2"})
    assert client.stats.as_dict()["requests"] == {"GET users/{user_id}": 2}
