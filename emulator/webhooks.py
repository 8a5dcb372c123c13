"""The Webhook API v2 (reference: 360learning-v2-webhook-openapi.json): subscriptions, the
per-subscription event log, signing secrets, retries, and signed deliveries.

- Routes (scopes as v2_auth checks them): ``POST/GET /webhooks/subscriptions``,
  ``GET/PATCH/DELETE /webhooks/subscriptions/{id}`` (``webhooks:write`` to change,
  ``webhooks:read`` to read), ``GET …/{id}/events`` (``createdAt[gte|lt]``, ``status[eq]``,
  250 a page, ``Link`` to the next page, oldest first), ``GET …/{id}/secrets``
  (``webhookSecrets:read``), ``POST …/secrets/rotate``, ``POST …/events/retry-failure|success``
  (``{startDate, endDate}``, at most 3 days apart).
- Events: every change ``Company.advance`` makes is found by comparing the company with the
  snapshot taken after the previous comparison (``observe``; run before each webhook request
  and by the delivery thread), so company.py needs no hook. Payloads follow the spec's DTOs
  (``{"type", "timestamp", "data"}``); event ``createdAt`` is the wall-clock time the change was
  observed (the simulated clock stays in the payload's dates). An ``inactive`` subscription
  records nothing: the log of a subscription proves completeness only while it is active.
- Retention: events older than ``retention_seconds`` are dropped from the log.
- Deliveries: ``POST url`` signed the Standard Webhooks way (the ``standardwebhooks`` package)
  with the subscription's current secret; non-2xx or no answer → retried ``retries`` times,
  then ``failed``. Faults (``configure_faults``): ``lose`` (never sent, logged ``failed``),
  ``duplicate`` (sent twice), ``reorder`` (a batch sent in reverse order). A URL that refuses
  TCP connections at creation → 400 ``urlUnreachable``.
"""

from __future__ import annotations

import base64
import json
import queue
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import v2_data as d2
from .clock import iso
from .responses import Reply, json_reply
from .v2_auth import v2_error

if TYPE_CHECKING:
    from .company import Company

PREFIX = "/api/v2/webhooks/subscriptions"
PAGE_SIZE = 250
MAX_RETRY_WINDOW_MS = 3 * 86_400_000
EVENT_TYPES = (
    "bulk.operation.created", "bulk.operation.ended", "course.attempt.closed", "group.created",
    "group.deleted", "group.updated", "path.archived", "path.created", "path.deleted",
    "path.session.added", "path.session.removed",
    "path.session.classroom.slot.users.unregistered.full",
    "path.session.classroom.slot.waitlist.closed", "path.session.classroom.slot.waitlist.opened",
    "path.session.classroom.slot.waitlist.user.joined", "path.session.user.status.updated",
    "path.session.users.enrolled", "path.session.users.unenrolled", "path.updated",
    "user.activated", "user.assessment.corrected", "user.certificate.awarded", "user.created",
    "user.deleted", "user.invited", "user.reactivated", "user.updated", "xapi.started", "xapi",
)  # fmt: skip
READ, WRITE, SECRETS = "webhooks:read", "webhooks:write", "webhookSecrets:read"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso_ms(ms: int) -> str:
    return iso(ms)


@dataclass(slots=True)
class Event:
    id: str
    created_at: int  # wall clock, ms
    payload: dict[str, Any]
    status: str = "pending"

    def dto(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "createdAt": _iso_ms(self.created_at),
            "status": self.status,
            "payload": self.payload,
        }


@dataclass(slots=True)
class Subscription:
    id: str
    event_type: str
    name: str
    url: str
    secret: str
    status: str = "active"
    events: list[Event] = field(default_factory=list)

    def dto(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "eventType": self.event_type,
            "name": self.name,
            "url": self.url,
            "status": self.status,
        }


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _msg_id() -> str:
    return "msg_" + secrets.token_urlsafe(20).replace("-", "a").replace("_", "b")[:27]


# ---------------------------------------------------------------------- company snapshots
@dataclass(slots=True)
class Snapshot:
    users: dict[str, tuple[Any, ...]]
    certificates: dict[str, d2.Certificate]
    paths: dict[str, int]
    sessions: dict[str, tuple[str, str]]
    enrolments: dict[tuple[str, str], str]
    closed: set[str]


def snapshot(c: Company) -> Snapshot:
    users = {
        u.id: (u.mail, u.first_name, u.last_name, u.lang, u.custom, u.primary_group_id, u.deleted)
        for u in c.users.values()
    }
    certificates: dict[str, d2.Certificate] = {}
    enrolments: dict[tuple[str, str], str] = {}
    for e in d2.all_enrolments(c):
        enrolments[(e.session_id, e.user_id)] = d2.enrolment_status(c, e)
        cert = d2.certificate_of(c, e)
        if cert is not None:
            certificates[cert.id] = cert
    closed = {
        a.id
        for by_user in c.attempts_by_course.values()
        for attempts in by_user.values()
        for a in attempts
        if a.completed_at is not None
    }
    return Snapshot(
        users,
        certificates,
        {p.id: p.modified_at for p in c.paths.values()},
        {s.id: (s.path_id, s.name) for s in c.path_sessions.values()},
        enrolments,
        closed,
    )


def changes(c: Company, old: Snapshot, new: Snapshot) -> list[tuple[str, dict[str, Any]]]:
    """(event type, data) for every difference, in the spec's DTO shapes."""
    now = iso(c.now)
    out: list[tuple[str, dict[str, Any]]] = []

    def person(user_id: str) -> dict[str, Any]:
        u = c.users[user_id]
        return {"userId": u.id, "firstName": u.first_name, "lastName": u.last_name, "mail": u.mail}

    for user_id, fields in new.users.items():
        before = old.users.get(user_id)
        if before is None:
            out.append(("user.created", {**person(user_id), "createdAt": now}))
        elif fields[-1] and not before[-1]:
            out.append(("user.deleted", {**person(user_id), "deletedAt": now}))
        elif not fields[-1] and before[-1]:
            out.append(("user.reactivated", {**person(user_id), "reactivatedAt": now}))
        elif fields != before:
            u = c.users[user_id]
            data = {**person(user_id), "updatedAt": now, "lang": u.lang}
            if u.primary_group_id:
                data["primaryGroupId"] = u.primary_group_id
            out.append(("user.updated", data))
    for cert_id, cert in new.certificates.items():
        if cert_id not in old.certificates:
            out.append(
                (
                    "user.certificate.awarded",
                    {
                        "userId": cert.user_id,
                        "certificateId": cert.id,
                        "certificateOutlineId": cert.outline_id,
                        "deliveryDate": iso(cert.delivered_at),
                        "pathId": cert.path_id,
                        "pathSessionId": cert.path_session_id,
                    },
                )
            )
    for path_id, modified in new.paths.items():
        if path_id not in old.paths:
            out.append(("path.created", {"pathId": path_id, "createdAt": now}))
        elif modified != old.paths[path_id]:
            name = c.paths[path_id].name
            out.append(
                (
                    "path.updated",
                    {"pathId": path_id, "name": name, "changeType": "steps", "updatedAt": now},
                )
            )
    for path_id in old.paths.keys() - new.paths.keys():
        out.append(("path.deleted", {"pathId": path_id, "deletedAt": now, "name": ""}))
    for session_id, (path_id, name) in new.sessions.items():
        if session_id not in old.sessions:
            out.append(
                (
                    "path.session.added",
                    {"pathId": path_id, "sessionId": session_id, "name": name, "createdAt": now},
                )
            )
    for session_id in old.sessions.keys() - new.sessions.keys():
        path_id, name = old.sessions[session_id]
        data = {"pathId": path_id, "sessionId": session_id, "name": name, "deletedAt": now}
        out.append(("path.session.removed", data))
    enrolled: set[str] = set()
    for (session_id, user_id), status in new.enrolments.items():
        if (session_id, user_id) not in old.enrolments:
            enrolled.add(session_id)
        if old.enrolments.get((session_id, user_id)) != status:
            e = c.enrolments[session_id][user_id]
            data = {
                "userId": user_id,
                "pathId": e.path_id,
                "sessionId": session_id,
                "enrollmentId": d2.enrolment_id(c, e),
                "status": status,
                "updatedAt": now,
            }
            out.append(("path.session.user.status.updated", data))
    for session_id in sorted(enrolled):
        path_id = c.path_sessions[session_id].path_id
        data = {"pathId": path_id, "sessionId": session_id, "enrolledAt": now}
        out.append(("path.session.users.enrolled", data))
    if new.closed - old.closed:
        fresh = new.closed - old.closed
        for by_user in c.attempts_by_course.values():
            for attempts in by_user.values():
                for a in attempts:
                    if a.id in fresh and a.completed_at is not None:
                        context = {}
                        if a.path:
                            context = {"pathId": a.path, "pathSessionId": a.path_session}
                        data = {
                            "attemptId": a.id,
                            "closedAt": iso(a.completed_at),
                            "userId": a.user_id,
                            "courseId": a.course_id,
                            "reason": "learnerFinished",
                            "context": context,
                        }
                        out.append(("course.attempt.closed", data))
    return out


# ---------------------------------------------------------------------- the hub
class WebhookHub:
    """Subscriptions, logs and the delivery thread of one emulated company."""

    def __init__(self, company: Company, retention_seconds: float = 7 * 86_400) -> None:
        self.company = company
        self.retention_seconds = float(retention_seconds)
        self.subscriptions: dict[str, Subscription] = {}
        self.lock = threading.RLock()
        self.faults: dict[str, float] = {"lose": 0.0, "duplicate": 0.0, "reorder": 0.0}
        self.retries = 2
        self.retry_delay = 0.2
        self.delivered = 0
        self.check_urls = True
        self._rng = random.Random(0)
        self._seen_advances = company.advances
        self._snapshot: Snapshot | None = None
        self._queue: queue.Queue[tuple[str, Event] | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        with self.company.lock:
            self._snapshot = snapshot(self.company)
            self._seen_advances = self.company.advances
        self._thread = threading.Thread(target=self._deliver_loop, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def configure_faults(self, seed: int = 0, **faults: float) -> None:
        unknown = set(faults) - set(self.faults)
        if unknown:
            raise ValueError(f"unknown delivery fault(s) {sorted(unknown)}: {list(self.faults)}")
        self.faults.update({k: float(v) for k, v in faults.items()})
        self._rng = random.Random(seed)

    def configure(
        self, retention_seconds: float | None = None, seed: int = 0, **faults: float
    ) -> None:
        """Admin settings (``POST /_emulator/webhooks``): retention and delivery faults."""
        if retention_seconds is not None:
            self.retention_seconds = float(retention_seconds)
        if faults:
            self.configure_faults(seed=seed, **faults)

    def settings(self) -> dict[str, Any]:
        with self.lock:
            return {
                "retention_seconds": self.retention_seconds,
                **self.faults,
                "subscriptions": len(self.subscriptions),
                "delivered": self.delivered,
            }

    # ---- recording ------------------------------------------------------------------------
    def observe(self) -> int:
        """Records events for what changed since the last call (cheap when nothing advanced)."""
        c = self.company
        # the hub's lock first, held until the events are in the logs: a log read that
        # waited for this call sees them (lock order everywhere: hub, then company)
        with self.lock:
            with c.lock:
                if self._snapshot is None or c.advances == self._seen_advances:
                    return 0
                new = snapshot(c)
                found = changes(c, self._snapshot, new)
                self._snapshot, self._seen_advances = new, c.advances
            for event_type, data in found:
                self.record(event_type, data)
        return len(found)

    def record(self, event_type: str, data: dict[str, Any]) -> None:
        payload = {"type": event_type, "timestamp": self.company.now, "data": data}
        created = _now_ms()
        with self.lock:
            for sub in self.subscriptions.values():
                if sub.event_type != event_type or sub.status != "active":
                    continue
                event = Event(_msg_id(), created, payload)
                sub.events.append(event)
                self._queue.put((sub.id, event))

    def _prune(self, sub: Subscription) -> None:
        horizon = _now_ms() - self.retention_seconds * 1000
        if sub.events and sub.events[0].created_at < horizon:
            sub.events = [e for e in sub.events if e.created_at >= horizon]

    # ---- deliveries -----------------------------------------------------------------------
    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                self.observe()
                continue
            if item is None:
                return
            batch = [item]
            while True:  # a burst of events (one advance) goes out as one batch
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    return
                batch.append(more)
            if self._rng.random() < self.faults["reorder"]:
                batch.reverse()
            for sub_id, event in batch:
                self._deliver(sub_id, event)

    def _deliver(self, sub_id: str, event: Event) -> None:
        with self.lock:
            sub = self.subscriptions.get(sub_id)
            if sub is None or sub.status != "active":
                event.status = "failed"
                return
            url, secret = sub.url, sub.secret
            event.status = "sending"
        if self._rng.random() < self.faults["lose"]:
            event.status = "failed"
            return
        times = 2 if self._rng.random() < self.faults["duplicate"] else 1
        ok = False
        for _ in range(times):
            ok = self._post(url, secret, event) or ok
        event.status = "delivered" if ok else "failed"
        if ok:
            self.delivered += 1

    def _post(self, url: str, secret: str, event: Event) -> bool:
        import requests
        from standardwebhooks import Webhook

        body = json.dumps(event.payload, separators=(",", ":"))
        for attempt in range(self.retries + 1):
            now = datetime.now(tz=UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": event.id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(secret).sign(event.id, now, body),
            }
            try:
                response = requests.post(url, data=body.encode(), headers=headers, timeout=5)
                if 200 <= response.status_code < 300:
                    return True
            except requests.RequestException:
                pass
            if attempt < self.retries and not self._stop.wait(self.retry_delay * (attempt + 1)):
                continue
        return False

    # ---- routes ---------------------------------------------------------------------------
    def resolve(self, method: str, path: str) -> tuple[str, str, Callable[..., Reply]] | None:
        """(metrics route name, scope, fn(query, body) -> Reply) for a webhook path, or None."""
        rest = path.rstrip("/")[len(PREFIX) :]
        parts = [p for p in rest.split("/") if p]
        name = "/webhooks/subscriptions"
        if not parts:
            if method == "POST":
                return f"POST /api/v2{name}", WRITE, self.create
            if method == "GET":
                return f"GET /api/v2{name}", READ, self.list_subscriptions
            return None
        sub_id, tail = parts[0], "/".join(parts[1:])
        name += "/{subscriptionId}" + (f"/{tail}" if tail else "")
        table: dict[tuple[str, str], tuple[str, Callable[..., Reply]]] = {
            ("GET", ""): (READ, self.get),
            ("PATCH", ""): (WRITE, self.patch),
            ("DELETE", ""): (WRITE, self.delete),
            ("GET", "events"): (READ, self.events),
            ("GET", "secrets"): (SECRETS, self.secret),
            ("POST", "secrets/rotate"): (WRITE, self.rotate),
            ("POST", "events/retry-failure"): (WRITE, self.retry_failed),
            ("POST", "events/retry-success"): (WRITE, self.retry_delivered),
        }
        found = table.get((method, tail))
        if found is None:
            return None
        scope, handler = found

        def serve(query: Mapping[str, list[str]], body: bytes, base: str) -> Reply:
            self.observe()
            with self.lock:
                sub = self.subscriptions.get(sub_id)
                if sub is None:
                    if tail.startswith("events/retry"):
                        return v2_error(404, "activeSubscriptionNotFound", "No such subscription.")
                    return v2_error(404, "subscriptionNotFound", "Subscription not found.")
                return handler(sub, query, body, base)

        return f"{method} /api/v2{name}", scope, serve

    @staticmethod
    def _json(body: bytes) -> dict[str, Any] | None:
        try:
            data = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _reachable(self, url: str) -> bool:
        if not self.check_urls:
            return True
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.hostname:
            return False
        port = split.port or (443 if split.scheme == "https" else 80)
        try:
            with socket.create_connection((split.hostname, port), timeout=2):
                return True
        except OSError:
            return False

    def create(self, query: Mapping[str, list[str]], body: bytes, base: str) -> Reply:
        self.observe()
        data = self._json(body)
        if data is None or not all(isinstance(data.get(k), str) for k in ("eventType", "name")):
            return v2_error(400, "invalidBody", "eventType, name and url are required.")
        url = data.get("url")
        if data["eventType"] not in EVENT_TYPES or not isinstance(url, str) or not url:
            return v2_error(400, "invalidBody", "eventType, name and url are required.")
        with self.lock:
            if any(
                s.event_type == data["eventType"] and s.url == url
                for s in self.subscriptions.values()
            ):
                return v2_error(
                    400,
                    "subscriptionAlreadyExists",
                    "A subscription already exists for this event type and URL.",
                )
        if not self._reachable(url):
            return v2_error(400, "urlUnreachable", "The provided URL is unreachable.")
        with self.company.lock:
            sub_id = self.company.ids.new(self.company.now)
        sub = Subscription(sub_id, data["eventType"], data["name"], url, _new_secret())
        with self.lock:
            self.subscriptions[sub.id] = sub
        return json_reply(sub.dto(), 201)

    def list_subscriptions(self, query: Mapping[str, list[str]], body: bytes, base: str) -> Reply:
        wanted = (query.get("eventType[eq]") or [None])[0]
        with self.lock:
            subs = [s.dto() for s in self.subscriptions.values()]
        return json_reply([s for s in subs if wanted in (None, s["eventType"])])

    def get(self, sub: Subscription, query: Any, body: bytes, base: str) -> Reply:
        return json_reply(sub.dto())

    def patch(self, sub: Subscription, query: Any, body: bytes, base: str) -> Reply:
        data = self._json(body)
        if data is None or data.get("status", "active") not in ("active", "inactive"):
            return v2_error(400, "invalidBody", "status must be active or inactive.")
        if isinstance(data.get("url"), str) and data["url"] != sub.url:
            if not self._reachable(data["url"]):
                return v2_error(400, "urlUnreachable", "The provided URL is unreachable.")
            sub.url = data["url"]
        if isinstance(data.get("name"), str):
            sub.name = data["name"]
        sub.status = data.get("status", sub.status)
        return json_reply(sub.dto())

    def delete(self, sub: Subscription, query: Any, body: bytes, base: str) -> Reply:
        self.subscriptions.pop(sub.id, None)
        return Reply(204, b"")

    def secret(self, sub: Subscription, query: Any, body: bytes, base: str) -> Reply:
        return json_reply({"secret": sub.secret})

    def rotate(self, sub: Subscription, query: Any, body: bytes, base: str) -> Reply:
        sub.secret = _new_secret()
        return json_reply({"secret": sub.secret}, 201)

    def events(self, sub: Subscription, query: Mapping[str, list[str]], body: bytes, base: str):
        self._prune(sub)
        token = (query.get("next") or [None])[0]
        after = -1
        if token:
            try:
                query = dict(parse_qs(base64.urlsafe_b64decode(token).decode()))
                after = int(query.pop("after")[0])
            except (ValueError, KeyError, UnicodeDecodeError):
                return v2_error(400, "invalidNextToken", "The next token is invalid.")
        allowed = {"createdAt[gte]", "createdAt[lt]", "status[eq]"}
        bad = set(query) - allowed
        if bad:
            return v2_error(400, "invalidParameter", f"Unknown parameter {sorted(bad)[0]}.")
        rows = list(enumerate(sub.events))
        for key, test in (
            ("createdAt[gte]", lambda e, v: e.created_at >= v),
            ("createdAt[lt]", lambda e, v: e.created_at < v),
        ):
            if key in query:
                moment = _parse_date(query[key][0])
                if moment is None:
                    return v2_error(400, "invalidParameter", f"{key} is not a date.")
                rows = [(i, e) for i, e in rows if test(e, moment)]
        if "status[eq]" in query:
            rows = [(i, e) for i, e in rows if e.status == query["status[eq]"][0]]
        rows = [(i, e) for i, e in rows if i > after]
        page, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
        reply = json_reply([e.dto() for _, e in page])
        if more:
            state = {k: v[0] for k, v in query.items() if k != "next"}
            state["after"] = str(page[-1][0])
            token = base64.urlsafe_b64encode(urlencode(state).encode()).decode()
            link = f"{base}{PREFIX}/{sub.id}/events?next={token}"
            reply.headers.append(("Link", f'<{link}>; rel="next"'))
        return reply

    def _retry(self, sub: Subscription, body: bytes, status: str) -> Reply:
        data = self._json(body) or {}
        start = _parse_date(str(data.get("startDate") or ""))
        end = _parse_date(str(data.get("endDate") or ""))
        if start is None or end is None or end <= start or end - start > MAX_RETRY_WINDOW_MS:
            return v2_error(
                400, "invalidRetryTimeframe", "The retry timeframe is limited to 3 days."
            )
        if sub.status != "active":
            return v2_error(404, "activeSubscriptionNotFound", "No active subscription.")
        for event in sub.events:
            if event.status == status and start <= event.created_at < end:
                event.status = "pending"
                self._queue.put((sub.id, event))
        return Reply(204, b"")

    def retry_failed(self, sub: Subscription, query: Any, body: bytes, base: str) -> Reply:
        return self._retry(sub, body, "failed")

    def retry_delivered(self, sub: Subscription, query: Any, body: bytes, base: str) -> Reply:
        return self._retry(sub, body, "delivered")


def _parse_date(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000  # the API sets a filter's milliseconds to 0


class _AcceptingHandler(BaseHTTPRequestHandler):
    """A subscriber URL that accepts every delivery (2xx) and keeps nothing."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def accepting_url() -> Iterator[str]:
    """A local URL that answers 2xx, for `webhooks setup` when no receiver runs (the sync reads
    the event logs, not the deliveries)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcceptingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
