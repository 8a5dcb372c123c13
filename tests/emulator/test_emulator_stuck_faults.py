"""Answers that never finish (emulator/stuck_faults.py), as a plain HTTP client sees them."""

from __future__ import annotations

import re
import time

import ijson

from emulator import EmulatorServer
from tests.emulator.emulator_client import Api
from tests.emulator.emulator_v2_client import V2

LINK = re.compile(r'<([^>]+)>; rel="next"')


def test_a_dripping_answer_sends_its_headers_then_one_byte_per_interval(
    server: EmulatorServer, api: Api
) -> None:
    server.set_faults(drip_interval_s=0.2, drip_answers=1, drip_route="GET /api/v1/groups")
    started = time.monotonic()
    response = api.session.get(
        f"{server.base_url}/api/v1/groups", params=api.auth, stream=True, timeout=5
    )
    assert response.status_code == 200
    first = response.raw.read(3)
    assert first == b'[{"', first
    assert time.monotonic() - started >= 0.4  # three bytes, one per 0.2 s
    response.close()
    # drip_answers=1: the next answer is whole at once
    assert isinstance(api.json("/groups"), list)
    assert server.metrics()["faults"]["slow_stream"] == 1


def test_an_endless_v1_listing_never_ends(server: EmulatorServer, api: Api) -> None:
    groups = api.json("/groups")
    server.set_faults(endless_route="GET /api/v1/groups")
    response = api.session.get(
        f"{server.base_url}/api/v1/groups", params=api.auth, stream=True, timeout=5
    )
    ids = []
    for element in ijson.items(response.raw, "item"):
        ids.append(element["_id"])
        if len(ids) == 10 * len(groups):
            break
    response.close()
    assert ids[: len(groups)] == [g["_id"] for g in groups]  # the real ones first
    assert len(set(ids)) == len(ids)  # then copies with fresh ids


def test_a_looping_v2_link_points_to_the_page_just_read(server: EmulatorServer) -> None:
    v2 = V2(server)
    server.set_faults(loop_link_route="GET /api/v2/groups")
    response = v2.get("/groups")
    assert response.status_code == 200
    match = LINK.match(response.headers["Link"])
    assert match and match.group(1) == response.url


def test_an_endless_v2_listing_always_has_a_next_page(server: EmulatorServer) -> None:
    v2 = V2(server)
    first_page = v2.json("/groups")
    server.set_faults(endless_route="GET /api/v2/groups")
    response = v2.get("/groups")
    seen: set[str] = set()
    for number in range(1, 6):
        match = LINK.match(response.headers["Link"])
        assert match and match.group(1).endswith(f"/api/v2/groups?endless={number}")
        assert match.group(1) not in seen
        seen.add(match.group(1))
        response = v2.session.get(match.group(1), headers=v2.headers)
        assert response.status_code == 200
        assert len(response.json()) == len(first_page)
