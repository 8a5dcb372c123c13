"""`learning360 webhooks serve`: signature, timestamp and replay checks with the
``standardwebhooks`` library, and a change landing in the warehouse through the receiver."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
from standardwebhooks import Webhook

from emulator import Company, EmulatorServer
from pipelines.cli import main
from pipelines.run import run_sync
from pipelines.webhook_receiver import Receiver, Secrets
from tests.source_v2.test_change_feed import FEED, cli_args

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "c2VjcmV0LW9mLWFub3RoZXItc3Vic2NyaXB0aW9u"


def _delivery(body: str, *, secret: str = SECRET, msg_id: str = "msg_1", age: float = 0):
    moment = datetime.now(tz=UTC) - timedelta(seconds=age)
    return body.encode(), {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body),
    }


def _receiver() -> tuple[Receiver, list[int]]:
    pokes: list[int] = []
    return Receiver(Secrets(lambda: [OTHER, SECRET]), lambda: pokes.append(1)), pokes


BODY = json.dumps({"type": "user.created", "timestamp": 1, "data": {"userId": "a" * 24}})


def test_good_forged_stale_replayed_and_malformed_deliveries(caplog) -> None:
    receiver, pokes = _receiver()
    assert receiver.handle(*_delivery(BODY))[0] == 204
    assert receiver.handle(*_delivery(BODY))[1] == "replayed"  # same webhook-id
    forged = _delivery(BODY, secret="whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0", msg_id="m2")
    assert receiver.handle(*forged) == (401, "forged")
    body, headers = _delivery(BODY, msg_id="m3")
    assert receiver.handle(body.replace(b"user.created", b"user.deleted"), headers)[0] == 401
    assert receiver.handle(*_delivery(BODY, msg_id="m4", age=600)) == (401, "stale")
    assert receiver.handle(*_delivery(BODY, msg_id="m5", age=-600)) == (401, "stale")
    with caplog.at_level("WARNING", logger="learning360.webhooks"):
        assert receiver.handle(*_delivery('{"type": 3}', msg_id="msg_bad"))[1] == "malformed"
    assert "msg_bad" in caplog.text and SECRET not in caplog.text
    assert dict(receiver.counts) == {
        "accepted": 1,
        "replayed": 1,
        "forged": 2,
        "stale": 2,
        "malformed": 1,
    }
    assert len(pokes) == 1  # only the accepted event asks for a sync


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _custom_field_users(path: Path, dataset: str) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        sql = f"select distinct user_id from {dataset}.user_custom_fields"
        rows = con.execute(sql).fetchall()
    return {r[0] for r in rows}


def test_receiver_lands_a_change_within_60_s(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer, tmp_path
) -> None:
    configure_v2(**FEED)
    port = _free_port()
    args = cli_args(tmp_path)
    serve = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "webhooks", "serve", "--port", str(port),
         "--sync-after", "1", *args],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert main(["webhooks", "setup", "--url", url, *args]) == 0
        pipeline = new_pipeline()
        run_sync(pipeline)  # the full read
        run_sync(pipeline)  # the cursors start
        before = {u.id for u in company.users.values()}
        while not set(company.users) - before:
            company.advance(days=1)
        started = time.monotonic()
        new = set(company.users) - before
        while time.monotonic() - started < 60:
            syncs = requests.get(url, timeout=5).json().get("syncs") or []
            if 0 in syncs:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert 0 in syncs, f"no successful sync from the receiver in 60 s: {syncs}"
        assert new <= _custom_field_users(tmp_path / "learning360_v2.duckdb", pipeline.dataset_name)
        print(f"change in the warehouse {elapsed:.1f} s after the advance")
        assert requests.get(url, timeout=5).json().get("accepted", 0) >= 1
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=10)
    assert emulator.client_secret not in err
    assert all(s.secret not in err for s in emulator.webhooks.subscriptions.values())


@pytest.fixture
def company() -> Company:
    from tests.conftest import SEED

    return Company.generate(seed=SEED, size="small", users=150, paths=12)
