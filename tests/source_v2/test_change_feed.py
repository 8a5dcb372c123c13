"""The webhook change feed end to end: `learning360 webhooks setup/status/teardown` against the
emulator's Webhook API, v2 syncs that re-read only the users the event logs name (under lost,
duplicated and reordered deliveries), the gap fallbacks, and the scopes."""

from __future__ import annotations

import random
import shutil
import time as clock
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator import Company, EmulatorServer
from emulator.webhooks import accepting_url
from pipelines.cli import main
from pipelines.run import run_sync
from sources.learning360 import change_feed
from sources.learning360.change_feed import EVENT_TYPES, FEED_TABLES, read_change_set
from sources.learning360.cursors import parse_timestamp
from tests.conftest import SEED
from tests.source_v2.truth import REQUIRED_SCOPES, assert_v2_warehouse_equals_truth

CERTS = "GET users/{user_id}/certificates"
VALUES = "GET users/{user_id}/custom-fields/values"
# group members and catalogs have no events: read every run here, so every table is exact
FEED = {
    "SOURCES__LEARNING360__CHANGE_FEED": "webhooks",
    "SOURCES__LEARNING360__V2_GROUP_REFRESH_DAYS": "0",
}


@pytest.fixture
def company() -> Company:
    """Small, with enough learners and paths that a few days bring users and certificates."""
    return Company.generate(seed=SEED, size="small", users=150, paths=12)


@pytest.fixture
def sink_url() -> Iterator[str]:
    """A subscriber URL that accepts everything (deliveries are not what the sync reads)."""
    with accepting_url() as url:
        yield url


def cli_args(tmp_path: Path, name: str = "learning360_v2") -> list[str]:
    return [
        "--pipelines-dir",
        str(tmp_path / "pipelines"),
        "--duckdb-path",
        str(tmp_path / f"{name}.duckdb"),
        "--pipeline-name",
        name,
    ]


def _feed(result: Any) -> dict[str, Any]:
    return result.requests["change_feed"]


def _advance_until_users_change(company: Company, certs_since: set[str] | None = None) -> None:
    """Advance until a user was created (and, with ``certs_since``, a certificate awarded
    since then): what the feed must catch."""
    before = {u["_id"] for u in company.truth()["users"]}
    for _ in range(60):
        company.advance(days=1)
        after = company.truth()
        users = {u["_id"] for u in after["users"]} - before
        certs = {c["_id"] for c in after["user_certificates"]} - (certs_since or set())
        if users and (certs_since is None or certs):
            return
    pytest.fail("60 simulated days brought no new user (or no new certificate)")


def test_feed_syncs_equal_truth_under_delivery_faults(
    configure_v2,
    new_pipeline,
    company: Company,
    emulator: EmulatorServer,
    sink_url,
    tmp_path,
    caplog,
    capsys,
) -> None:
    configure_v2(**FEED)
    assert main(["webhooks", "setup", "--url", sink_url, *cli_args(tmp_path)]) == 0
    # idempotent: a second setup reuses every subscription
    assert main(["webhooks", "setup", "--url", sink_url, *cli_args(tmp_path)]) == 0
    assert len(emulator.webhooks.subscriptions) == len(EVENT_TYPES)
    emulator.webhooks.configure_faults(seed=3, lose=0.3, duplicate=0.3, reorder=1.0)

    pipeline = new_pipeline()
    first = run_sync(pipeline)
    assert set(_feed(first)["fallback"]) == set(FEED_TABLES)  # no full read yet: default policy
    assert_v2_warehouse_equals_truth(pipeline, company.truth())
    n_users = len(company.users)
    certs = {c["_id"] for c in company.truth()["user_certificates"]}

    for round_ in range(3):
        _advance_until_users_change(company, certs if round_ == 0 else None)
        result = run_sync(pipeline)
        feed = _feed(result)
        assert feed["fallback"] == {}, feed
        assert feed["events"] > 0 and 0 < feed["users"] < n_users
        # the users the logs named are re-read on top of the default policy, not every user
        by_route = result.requests["requests"]
        assert feed["users"] <= by_route.get(VALUES, 0) < n_users
        assert_v2_warehouse_equals_truth(pipeline, company.truth())
    lost = [e for s in emulator.webhooks.subscriptions.values() for e in s.events]
    assert any(e.status == "failed" for e in lost), "the lose fault never fired"

    # a run with no change re-reads nobody
    quiet = run_sync(pipeline)
    assert _feed(quiet)["users"] == 0 and CERTS not in quiet.requests["requests"]

    # no signing secret, no client secret in the working dir, the warehouse or the logs
    secrets = [s.secret for s in emulator.webhooks.subscriptions.values()]
    secrets.append(emulator.client_secret)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], path
    assert not [s for s in secrets if s in caplog.text + capsys.readouterr().out]


def test_gaps_fall_back_to_the_default_policy(
    configure_v2,
    new_pipeline,
    company: Company,
    emulator: EmulatorServer,
    sink_url,
    tmp_path,
    capsys,
) -> None:
    configure_v2(**FEED)
    pipeline = new_pipeline()
    # feed on, no subscription: the default policy alone, said so
    result = run_sync(pipeline)
    assert all("no webhook subscription" in why for why in _feed(result)["fallback"].values())

    assert main(["webhooks", "setup", "--url", sink_url, *cli_args(tmp_path)]) == 0
    result = run_sync(pipeline)  # new subscriptions: no cursor yet
    assert set(_feed(result)["fallback"]) == set(FEED_TABLES)
    result = run_sync(pipeline)
    assert _feed(result)["fallback"] == {}

    # an inactive subscription proves nothing
    hub = emulator.webhooks
    paused = next(s for s in hub.subscriptions.values() if s.event_type == "user.created")
    paused.status = "inactive"
    _advance_until_users_change(company)
    result = run_sync(pipeline)
    fallback = _feed(result)["fallback"]
    assert "user.created: subscription inactive" in fallback["user_custom_fields"]
    assert_v2_warehouse_equals_truth(pipeline, company.truth())

    # a deleted subscription and a malformed event
    paused.status = "active"
    run_sync(pipeline)
    updated = next(
        s for s in hub.subscriptions.values() if s.event_type == "user.certificate.awarded"
    )
    hub.subscriptions.pop(updated.id)
    result = run_sync(pipeline)
    assert "subscription deleted" in _feed(result)["fallback"]["user_certificates"]
    assert "user_custom_fields" not in _feed(result)["fallback"]

    created = next(s for s in hub.subscriptions.values() if s.event_type == "user.updated")
    hub.record("user.updated", {"no": "userId"})
    assert created.events
    result = run_sync(pipeline)
    feed = _feed(result)
    assert feed["malformed"] == 1 and "malformed event" in feed["fallback"]["user_custom_fields"]
    # skipped once: it does not block later syncs (its id is remembered with the others)
    result = run_sync(pipeline)
    assert _feed(result)["malformed"] == 0
    assert "user_custom_fields" not in _feed(result)["fallback"]

    # a cursor older than the log's retention
    configure_v2(**FEED, SOURCES__LEARNING360__CHANGE_FEED_RETENTION_HOURS=0)
    result = run_sync(pipeline)
    assert "retention" in _feed(result)["fallback"]["user_custom_fields"]
    assert_v2_warehouse_equals_truth(pipeline, company.truth())

    # the CLI says it too: the sync summary and `status`
    assert main(["sync", "--in-process", "--no-models", *cli_args(tmp_path)]) == 0
    assert "default policy alone (gap): user_certificates" in capsys.readouterr().out
    main(["status", *cli_args(tmp_path)])
    assert "change feed, last sync" in capsys.readouterr().out


def test_setup_status_teardown(
    configure_v2, emulator: EmulatorServer, sink_url, tmp_path, capsys
) -> None:
    configure_v2(**FEED)
    args = cli_args(tmp_path)
    assert main(["webhooks", "status", *args]) == 0
    assert "no change feed subscription" in capsys.readouterr().out
    assert main(["webhooks", "setup", "--url", sink_url, *args]) == 0
    out = capsys.readouterr().out
    assert out.count("  created") == len(EVENT_TYPES)
    assert main(["webhooks", "status", *args]) == 0
    out = capsys.readouterr().out
    assert all(t in out for t in EVENT_TYPES) and "never" in out
    # a new URL moves the same subscriptions (no duplicates)
    other = sink_url.replace("/hook", "/other")
    assert main(["webhooks", "setup", "--url", other, *args]) == 0
    assert capsys.readouterr().out.count("updated (url") == len(EVENT_TYPES)
    assert {s.url for s in emulator.webhooks.subscriptions.values()} == {other}
    assert main(["webhooks", "teardown", *args]) == 0
    assert not emulator.webhooks.subscriptions
    assert main(["webhooks", "status", *args]) == 0
    assert "no change feed subscription" in capsys.readouterr().out


def test_unreachable_url_and_missing_scope(configure_v2, emulator, tmp_path, capsys) -> None:
    configure_v2(**FEED)
    code = main(["webhooks", "setup", "--url", "http://127.0.0.1:1/x", *cli_args(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "urlUnreachable" in err and "Traceback" not in err
    assert "to POST webhooks/subscriptions" in err  # the refused write, not a GET


@pytest.mark.parametrize(
    "server_options",
    [{"v2_scopes": ["users:read", "webhooks:read"]}],
)
def test_setup_without_write_scope_exits_2(
    configure_v2, emulator, sink_url, tmp_path, capsys
) -> None:
    configure_v2(**FEED)
    code = main(["webhooks", "setup", "--url", sink_url, *cli_args(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "webhooks:write" in err and "Traceback" not in err


def test_credential_without_webhook_scopes_falls_back_with_a_warning(
    configure_v2,
    new_pipeline,
    company: Company,
    emulator: EmulatorServer,
    sink_url,
    tmp_path,
    monkeypatch,
) -> None:
    configure_v2(**FEED)
    assert main(["webhooks", "setup", "--url", sink_url, *cli_args(tmp_path)]) == 0
    pipeline = new_pipeline()
    run_sync(pipeline)
    # the scopes are withdrawn: the sync still succeeds by the default policy, and says why
    # (the WARNING is recorded at the logger: dlt's handler may hold an earlier test's stream)
    warnings: list[str] = []
    monkeypatch.setattr(change_feed.logger, "warning", lambda msg, *a, **k: warnings.append(msg))
    emulator.v2_scopes = frozenset(REQUIRED_SCOPES)
    result = run_sync(pipeline)
    fallback = _feed(result)["fallback"]
    assert set(fallback) == set(FEED_TABLES)
    assert all("webhooks:read" in why for why in fallback.values()), fallback
    assert any("by the default v2 policy alone" in w for w in warnings)
    assert_v2_warehouse_equals_truth(pipeline, company.truth())


def test_subscriptions_and_cursors_survive_an_ephemeral_runner(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer, sink_url, tmp_path
) -> None:
    configure_v2(**FEED)
    assert main(["webhooks", "setup", "--url", sink_url, *cli_args(tmp_path)]) == 0
    shutil.rmtree(tmp_path / "pipelines")  # setup's runner is gone: the ids are in the warehouse
    pipeline = new_pipeline()
    first = run_sync(pipeline)
    assert not any("no webhook subscription" in why for why in _feed(first)["fallback"].values())
    run_sync(pipeline)
    shutil.rmtree(tmp_path / "pipelines")  # a fresh runner for the next sync
    _advance_until_users_change(company)
    result = run_sync(new_pipeline())
    assert _feed(result)["fallback"] == {} and _feed(result)["users"] > 0
    assert_v2_warehouse_equals_truth(result.pipeline, company.truth())


class _FakeLog:
    """The Webhook API answering fixed logs (for the order/duplicate property of the reader)."""

    def __init__(self, logs: dict[str, list[dict[str, Any]]]):
        self.logs = logs

    def items(self, route: str, path: Any = None, params: Any = None) -> list[dict[str, Any]]:
        if route == "webhook_subscriptions":
            return [{"_id": sub_id, "status": "active"} for sub_id in self.logs]
        since = parse_timestamp(params["createdAt[gte]"])
        return [
            e
            for e in self.logs[path["subscription_id"]]
            if parse_timestamp(e["createdAt"]) >= since
        ]


def test_change_set_is_order_independent_and_idempotent() -> None:
    now = datetime.now(tz=UTC)

    def at(minutes_ago: float) -> str:
        return (now - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")

    def event(n: int, event_type: str, **data: str) -> dict[str, Any]:
        payload = {"type": event_type, "timestamp": 0, "data": data}
        return {"_id": f"msg_{n}", "createdAt": at(10), "payload": payload}

    logs = {
        f"s{i}": [event(i * 10 + k, t, userId=f"u{(i + k) % 5}") for k in range(4)]
        for i, t in enumerate(EVENT_TYPES)
    }
    subs = {t: f"s{i}" for i, t in enumerate(EVENT_TYPES)}
    kw = {"lag_seconds": 3600, "reconcile_hours": 1e6, "retention_hours": 1e6}

    def state() -> dict[str, Any]:
        since = dict.fromkeys(logs, at(60))
        return {"subscriptions": subs, "reconciled_at": 2e9, "read_until": since}

    first = read_change_set(_FakeLog(logs), own := state(), **kw)
    shuffled = {k: random.Random(1).sample(v + v, 2 * len(v)) for k, v in logs.items()}
    second = read_change_set(_FakeLog(shuffled), state(), **kw)
    assert first.users == second.users == {f"u{i}" for i in range(5)} and first.fallback == {}
    assert second.duplicates == first.events  # every event twice: counted once
    again = read_change_set(_FakeLog(logs), own, **kw)  # the same log read again
    assert again.events == 0 and again.users == set() and again.duplicates == first.events
    # an event of another type in a log is malformed: a gap for the tables its type feeds
    logs["s0"].append(event(999, "course.attempt.closed", attemptId="a1", userId="u1"))
    odd = read_change_set(_FakeLog(logs), state(), **kw)
    assert odd.malformed == 1 and "malformed event msg_999" in odd.fallback["user_custom_fields"]


def test_periodic_full_reconcile() -> None:
    subs = {t: f"s{i}" for i, t in enumerate(EVENT_TYPES)}
    log = _FakeLog({sub_id: [] for sub_id in subs.values()})
    kw = {"lag_seconds": 3600, "retention_hours": 1e6}
    own = {"subscriptions": subs, "reconciled_at": clock.time() - 7200}
    due = read_change_set(log, own, reconcile_hours=1, **kw)
    assert set(due.fallback) == set(FEED_TABLES)
    assert all("periodic full reconcile (1 h)" in why for why in due.fallback.values())
    own["reconciled_at"] = clock.time()  # what ChangeFeed records after that full read
    assert read_change_set(log, own, reconcile_hours=1, **kw).fallback == {}
