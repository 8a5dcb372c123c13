"""`learning360 webhooks serve`: answers the subscriptions' URL and starts a sync soon after
a change. A convenience for freshness, not a store: the sync reads the event logs anyway, so a
delivery this receiver misses (down, restarting) costs nothing but latency.

- Each delivery is verified with the ``standardwebhooks`` package (HMAC of ``id.timestamp.
  body`` with a subscription's signing secret, timestamp within 5 minutes): a bad signature →
  401, a stale or future timestamp → 401, both counted. The secrets are read once with
  ``webhookSecrets:read`` and re-read (at most every 30 s) when no secret matches, so a rotation
  needs no restart. Secrets are registered with the redaction filter and never printed.
- A ``webhook-id`` already accepted is a replay (or a duplicate delivery): 200, not acted on.
- A verified body that is not ``{type, timestamp, data}`` is logged with its id and skipped.
- Accepted events (re)arm a debounce timer; when it fires one ``learning360 sync`` child runs
  with the same pipeline arguments. Never two at once: one worker thread, and the sync lock
  (exit 75: another sync runs) makes it try again after the debounce.
- ``GET /`` answers the counters and the exit codes of the syncs started, as JSON (health check).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from pipelines.exit_codes import EXIT_LOCKED
from sources.learning360.change_feed import SUBSCRIPTION_NAME

log = logging.getLogger("learning360.webhooks")
SECRET_REFRESH_SECONDS = 30.0
SEEN_IDS = 10_000


class Secrets:
    """The signing secrets of the pipeline's subscriptions, re-read on demand."""

    def __init__(self, load: Callable[[], list[str]]):
        self._load = load
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._loaded_at = float("-inf")

    def current(self, refresh: bool = False) -> list[str]:
        with self._lock:
            stale = time.monotonic() - self._loaded_at >= SECRET_REFRESH_SECONDS
            if not self._secrets or (refresh and stale):
                try:
                    self._secrets = [s for s in self._load() if s]
                except Exception as exc:  # noqa: BLE001 - keep serving with what we have
                    log.warning("could not read the signing secrets: %s", type(exc).__name__)
                self._loaded_at = time.monotonic()
            return list(self._secrets)


class Debouncer:
    """Runs ``command`` once ``delay`` seconds after the last ``poke``; one run at a time."""

    def __init__(self, command: list[str], delay: float):
        self.command = command
        self.delay = max(0.0, delay)
        self.runs: list[int] = []  # exit codes
        self._due: float | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="sync-debounce", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        with self._cond:
            self._due = time.monotonic() + self.delay
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (self._due is None or time.monotonic() < self._due):
                    wait = None if self._due is None else max(0.0, self._due - time.monotonic())
                    self._cond.wait(wait)
                if self._stop:
                    return
                self._due = None
            log.info("starting: %s", " ".join(self.command[2:]))
            code = subprocess.run(self.command, check=False).returncode
            self.runs.append(code)
            log.info("sync finished with exit code %s", code)
            if code == EXIT_LOCKED:  # another sync holds the lock: try again later
                self.poke()


class Receiver:
    """Verification, replay and malformed-payload handling (no HTTP here: testable alone)."""

    def __init__(self, secrets: Secrets, on_event: Callable[[], None]):
        self.secrets = secrets
        self.on_event = on_event
        self.counts: Counter[str] = Counter()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _verify(self, body: bytes, headers: dict[str, str], refresh: bool) -> tuple[Any, str]:
        problem = "forged"
        for secret in self.secrets.current(refresh=refresh):
            try:
                return Webhook(secret).verify(body, headers), ""
            except Exception as exc:  # noqa: BLE001 - WebhookVerificationError and bad headers
                text = str(exc).lower()
                if "too old" in text or "too new" in text or "timestamp" in text:
                    problem = "stale"
        return None, problem

    def handle(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        headers = {k.lower(): v for k, v in headers.items()}
        payload, problem = self._verify(body, headers, refresh=False)
        if problem == "forged":  # maybe a rotated secret: read the secrets again, once
            payload, problem = self._verify(body, headers, refresh=True)
        event_id = headers.get("webhook-id", "")
        if problem:
            with self._lock:
                self.counts[problem] += 1
            log.warning("refused a %s delivery (id %s)", problem, event_id[:40] or "none")
            return 401, problem
        with self._lock:
            if event_id in self._seen:
                self.counts["replayed"] += 1
                return 200, "replayed"
            self._seen[event_id] = None
            while len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("type"), str)
            and isinstance(payload.get("data"), dict)
        ):
            with self._lock:
                self.counts["malformed"] += 1
            log.warning("skipped a malformed event payload (id %s)", event_id[:40])
            return 200, "malformed"
        with self._lock:
            self.counts["accepted"] += 1
        self.on_event()
        return 204, "accepted"


def make_server(
    host: str, port: int, receiver: Receiver, extra: Callable[[], dict[str, Any]] = dict
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - health check, and the URL check at setup
            self._answer(200, json.dumps({**receiver.counts, **extra()}).encode())

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1_000_000))
            status, _ = receiver.handle(body, dict(self.headers.items()))
            self._answer(status)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def sync_command(args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "pipelines.cli", "sync", "--destination", args.destination]
    for option in ("dataset_name", "pipeline_name", "pipelines_dir", "duckdb_path", "log_level"):
        value = getattr(args, option, None)
        if value:
            command += [f"--{option.replace('_', '-')}", str(value)]
    return command


def serve(args: argparse.Namespace, pipeline: Any, api: Any) -> int:  # a webhooks.WebhooksAdmin
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def load() -> list[str]:
        """The secrets of this project's subscriptions (listed, not read from the pipeline
        state: a sync may be writing it), so a `webhooks setup` after start is picked up."""
        ours = [s for s in api.subscriptions() if s.get("name") == SUBSCRIPTION_NAME]
        if not ours:
            log.warning("no change feed subscription yet: run `learning360 webhooks setup`")
        return [x for x in (api.secret(str(s.get("_id"))) for s in ours) if x]

    debouncer = Debouncer(sync_command(args), args.sync_after)
    receiver = Receiver(Secrets(load), debouncer.poke)
    server = make_server(args.host, args.port, receiver, lambda: {"syncs": debouncer.runs})
    log.info(
        "listening on http://%s:%s (sync %gs after the last event)",
        args.host,
        server.server_address[1],
        args.sync_after,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        return 130
    finally:
        server.server_close()
        debouncer.stop()
    return 0
