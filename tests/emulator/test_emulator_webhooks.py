"""The emulator's Webhook API (emulator/webhooks.py) over real HTTP: CRUD, scopes, the event
log (filters, 250 a page, Link, retention), secrets and rotation, retries, and events for
what `advance` changed, in the payload shapes of the spec."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from emulator import Company, EmulatorServer

SPEC = Path("/work/shared/reference/360learning-v2-webhook-openapi.json")
BASE = "/api/v2/webhooks/subscriptions"


@pytest.fixture
def server() -> EmulatorServer:
    company = Company.generate(seed=7, size="small", users=150, paths=12)
    with EmulatorServer(company, port=0, rate_limit=None) as s:
        s.webhooks.check_urls = False  # no subscriber needed to create subscriptions
        yield s


def _headers(server: EmulatorServer, scopes: list[str] | None = None) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + server.issue_v2_token(scopes),
        "360-api-version": "v2.0",
    }


def _create(server: EmulatorServer, event_type: str, url: str = "http://127.0.0.1:9/x") -> dict:
    body = {"eventType": event_type, "name": "t", "url": url}
    r = requests.post(server.base_url + BASE, json=body, headers=_headers(server), timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def test_crud_scopes_secrets(server: EmulatorServer) -> None:
    sub = _create(server, "user.created")
    assert set(sub) == {"_id", "eventType", "name", "url", "status"} and sub["status"] == "active"
    url = f"{server.base_url}{BASE}/{sub['_id']}"
    again = requests.post(
        server.base_url + BASE,
        json={"eventType": "user.created", "name": "t", "url": sub["url"]},
        headers=_headers(server),
        timeout=5,
    )
    assert again.json()["error"]["code"] == "subscriptionAlreadyExists"
    read_only = _headers(server, ["webhooks:read"])
    assert requests.get(url, headers=read_only, timeout=5).json() == sub
    denied = requests.delete(url, headers=read_only, timeout=5)
    assert denied.status_code == 403 and "webhooks:write" in denied.text
    assert requests.get(url + "/secrets", headers=read_only, timeout=5).status_code == 403
    first = requests.get(url + "/secrets", headers=_headers(server), timeout=5).json()["secret"]
    rotated = requests.post(url + "/secrets/rotate", headers=_headers(server), timeout=5)
    assert rotated.status_code == 201 and rotated.json()["secret"] != first
    assert first.startswith("whsec_")
    patched = requests.patch(url, json={"status": "inactive"}, headers=_headers(server), timeout=5)
    assert patched.json()["status"] == "inactive"
    retry = requests.post(
        url + "/events/retry-failure",
        json={"startDate": "2026-01-01T00:00:00.000Z", "endDate": "2026-01-05T00:00:00.000Z"},
        headers=_headers(server),
        timeout=5,
    )
    assert retry.json()["error"]["code"] == "invalidRetryTimeframe"
    assert requests.delete(url, headers=_headers(server), timeout=5).status_code == 204
    gone = requests.get(url, headers=_headers(server), timeout=5)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "subscriptionNotFound"


def test_events_of_advance_paginated_filtered_and_shaped(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emulator import webhooks

    assert webhooks.PAGE_SIZE == 250  # the spec's page size; smaller here to see several pages
    monkeypatch.setattr(webhooks, "PAGE_SIZE", 7)
    spec = json.loads(SPEC.read_text())["components"]["schemas"]
    subs = {t: _create(server, t) for t in ("course.attempt.closed", "user.created")}
    server.company.advance(days=40)
    url = f"{server.base_url}{BASE}/{subs['course.attempt.closed']['_id']}/events"
    pages, events, next_url = 0, [], url
    while next_url:
        r = requests.get(next_url, headers=_headers(server), timeout=5)
        assert r.status_code == 200 and len(r.json()) <= 7
        events += r.json()
        pages += 1
        next_url = r.links.get("next", {}).get("url")
    assert pages >= 2 and len({e["_id"] for e in events}) == len(events) > 7
    required = set(spec["AttemptClosedDTO"]["required"])
    for event in events:
        assert set(event) == {"_id", "createdAt", "status", "payload"}
        assert event["payload"]["type"] == "course.attempt.closed"
        assert required <= set(event["payload"]["data"])
    # filters: createdAt[lt] before any event, status
    early = requests.get(
        url, params={"createdAt[lt]": "2020-01-01T00:00:00.000Z"}, headers=_headers(server)
    )
    assert early.json() == []
    bad = requests.get(url, params={"foo": "1"}, headers=_headers(server), timeout=5)
    assert bad.status_code == 400
    users = requests.get(
        f"{server.base_url}{BASE}/{subs['user.created']['_id']}/events", headers=_headers(server)
    ).json()
    assert users and all(
        set(spec["UserCreatedDTO"]["required"]) <= set(e["payload"]["data"]) for e in users
    )
    assert {e["payload"]["data"]["userId"] for e in users} <= set(server.company.users)


def test_retention_drops_old_events(server: EmulatorServer) -> None:
    sub = _create(server, "user.created")
    server.company.advance(days=20)
    url = f"{server.base_url}{BASE}/{sub['_id']}/events"
    assert requests.get(url, headers=_headers(server), timeout=5).json()
    server.webhooks.retention_seconds = 0.05
    time.sleep(0.1)
    assert requests.get(url, headers=_headers(server), timeout=5).json() == []


def test_admin_route_sets_delivery_faults_and_retention(server: EmulatorServer) -> None:
    admin = {"X-Emulator-Admin": server.admin_token}
    url = server.base_url + "/_emulator/webhooks"
    r = requests.post(url, json={"lose": 0.5, "retention_seconds": 60}, headers=admin, timeout=5)
    assert r.status_code == 200 and r.json()["lose"] == 0.5 and r.json()["retention_seconds"] == 60
    bad = requests.post(url, json={"explode": 1}, headers=admin, timeout=5)
    assert bad.status_code == 400
