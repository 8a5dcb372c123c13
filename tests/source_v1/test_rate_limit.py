"""The client-side limiter holds the configured rate across threads."""

from __future__ import annotations

import time

from sources.learning360.parallel import bounded_map

from .fake_http import FakeServer


def test_40_requests_at_20_per_second_take_about_two_seconds(
    server: FakeServer, make_client
) -> None:
    server.json("/api/v1/users/u1", {"_id": "u1"})
    client = make_client(rps=20, workers=8)
    started = time.monotonic()
    results = list(
        bounded_map(lambda _: client.get_json("users/{user_id}", {"user_id": "u1"}), range(40), 8)
    )
    elapsed = time.monotonic() - started
    assert len(results) == 40 and client.stats.requests == 40
    assert 1.9 <= elapsed < 4.0


def test_no_burst_beyond_a_tenth_of_the_rate_per_100ms(server: FakeServer, make_client) -> None:
    """At 40/s the limiter releases at most 4 requests per 100 ms, so the 9th request cannot
    arrive before 200 ms and the 17th before 400 ms. Scheduling delays only make arrivals later,
    so these bounds hold on a loaded machine too (arrival-window counts do not)."""
    server.json("/api/v1/users/u1", {"_id": "u1"})
    client = make_client(rps=40, workers=8)
    started = time.monotonic()
    list(bounded_map(lambda _: client.get_json("users/{user_id}", {"user_id": "u1"}), range(20), 8))
    arrivals = sorted(request.at - started for request in server.requests)
    assert arrivals[8] >= 0.19 and arrivals[16] >= 0.39, arrivals


def test_bounded_map_propagates_the_first_error() -> None:
    def boom(item: int) -> int:
        if item == 3:
            raise ValueError("3")
        return item

    try:
        list(bounded_map(boom, range(10), 4))
    except ValueError as exc:
        assert str(exc) == "3"
    else:
        raise AssertionError("no error")
