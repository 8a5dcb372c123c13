"""The change feed: 360Learning's v2 webhook event logs turned into a *change set* (what to
re-read) before a v2 sync reads anything (docs/operations.md, "Change feed").

Why pull the log instead of trusting deliveries: each subscription keeps every event it
emitted (``GET /webhooks/subscriptions/{id}/events``, delivered or not), so a lost, repeated
or reordered delivery costs nothing; the sync reads the log since its cursor (minus the lag,
as the other cursors), deduplicates by event ``_id`` (ids of the lag window kept in state), and
only the *set* of ids named matters, so order and repeats change nothing.

The users the events name are re-read on top of the default v2 policy (new, changed and due
users; certificates of path completions), which stays the safety net and the freshness bound.
Never trust a gap: a table gets the default policy alone when the log cannot prove
completeness: the feed never did a full read (first run)
or the periodic reconcile is due, an event type the table needs has no subscription (or it is
inactive or deleted), the cursor is older than the log's retention, an event cannot be read
or names no user. Each fallback names its reason in the sync summary and in ``status``.

The seam with the v2 resources (``v2/resources.py``, ``feed_users``): unless
``ChangeFeed.falls_back(table)``, ``ChangeFeed.select(table, users)`` returns the users the
events named, added to what the default policy reads.
State (dlt source state ``change_feed``, restored from the destination like every cursor):
``subscriptions`` (event type → id, written by ``learning360 webhooks setup``), ``read_until``
(per subscription id), ``seen`` (event ids of the lag window), ``reconciled_at``, ``last_run``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common import logger

from .errors import ConfigurationError, Learning360Error, config_key
from .timestamps import format_filter_date, parse_timestamp

if TYPE_CHECKING:
    from .v2.api import V2Api

Row = dict[str, Any]
STATE_KEY = "change_feed"
FEED_KEY = "change_feed"
RECONCILE_KEY = "change_feed_reconcile_hours"
RETENTION_KEY = "change_feed_retention_hours"
DEFAULT_RECONCILE_HOURS = 24.0 * 7
DEFAULT_RETENTION_HOURS = 72.0  # conservative: the spec does not state the log's retention
SUBSCRIPTION_NAME = "learning360 sync"

USER_EVENTS = (
    "user.created",
    "user.updated",
    "user.deleted",
    "user.activated",
    "user.reactivated",
    "user.invited",
)
#: the tables the feed serves, and the event types whose logs must prove they are complete
FEED_TABLES: dict[str, tuple[str, ...]] = {
    "user_certificates": (*USER_EVENTS, "user.certificate.awarded"),
    "user_custom_fields": USER_EVENTS,
}
EVENT_TYPES = tuple(dict.fromkeys(t for types in FEED_TABLES.values() for t in types))


def mode() -> str | None:
    """``[sources.learning360] change_feed``: ``"webhooks"`` or off (unset, ``""``, ``"off"``)."""
    value = dlt.config.get(f"sources.learning360.{FEED_KEY}")
    text = str(value or "").strip().lower()
    if text in ("", "off", "none", "false"):
        return None
    if text != "webhooks":
        raise ConfigurationError(
            f'change_feed {value!r} is unknown: set {config_key(FEED_KEY)} to "webhooks" or '
            "remove it"
        )
    return text


def _hours(key: str, default: float) -> float:
    value = dlt.config.get(f"sources.learning360.{key}")
    try:
        return max(0.0, float(value)) if value is not None else default
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{key} {value!r} is not a number: set {config_key(key)}"
        ) from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhooksApi:
    """The Webhook API over the shared v2 transport (rate limit, retries, re-auth, redaction)."""

    def __init__(self, api: V2Api):
        self.api = api
        self.client = api.client

    def subscriptions(self) -> list[Row]:
        return [s for s in self.api.items("webhook_subscriptions") if isinstance(s, Mapping)]

    def events(self, subscription_id: str, since: datetime | None) -> Iterator[list[Any]]:
        params = {"createdAt[gte]": format_filter_date(since)} if since else None
        return self.api.pages("webhook_events", {"subscription_id": subscription_id}, params)

    def secret(self, subscription_id: str) -> str | None:
        body = self.api.one("webhook_secret", {"subscription_id": subscription_id})
        secret = body.get("secret") if isinstance(body, Mapping) else None
        if isinstance(secret, str) and secret:
            from .redaction import register_secret

            register_secret(secret)
            return secret
        return None

    def _send(self, method: str, route: str, params: Mapping[str, str] | None, body: Any) -> Any:
        from .routes import V2_ROUTES as ROUTES

        template = ROUTES[route]
        url = self.client._url(template, params)  # noqa: SLF001
        parse = lambda r: r.json() if r.content else None  # noqa: E731
        return self.client._request(method, template, url, json=body, parse=parse)  # noqa: SLF001

    def create(self, event_type: str, url: str, name: str = SUBSCRIPTION_NAME) -> Row:
        body = {"eventType": event_type, "name": name, "url": url}
        return self._send("POST", "webhook_subscriptions", None, body)

    def update(self, subscription_id: str, **fields: str) -> Row:
        params = {"subscription_id": subscription_id}
        return self._send("PATCH", "webhook_subscription", params, fields)

    def delete(self, subscription_id: str) -> None:
        self._send("DELETE", "webhook_subscription", {"subscription_id": subscription_id}, None)


@dataclass
class ChangeSet:
    """What the event logs say changed since the last run, and what they cannot prove.

    ``users``, ``paths``, ``sessions``, ``attempts``: ids named by the events read (only the
    event types of ``FEED_TABLES`` are subscribed, so today only ``users`` fills; a table added
    to ``FEED_TABLES`` with path, session or attempt events gets its ids here)."""

    users: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    attempts: set[str] = field(default_factory=set)
    fallback: dict[str, str] = field(default_factory=dict)  # table -> reason
    events: int = 0
    duplicates: int = 0
    malformed: int = 0

    def rereads(self, table: str, user_id: str) -> bool:
        return table in self.fallback or user_id in self.users

    def add(self, ids: Mapping[str, str]) -> None:
        for key, bucket in (
            ("userId", self.users),
            ("pathId", self.paths),
            ("sessionId", self.sessions),
            ("attemptId", self.attempts),
        ):
            if key in ids:
                bucket.add(ids[key])

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "users": len(self.users),
            "fallback": dict(self.fallback),
        }


def _required_ids(event_type: str) -> tuple[str, ...]:
    """The ids an event of this type must name (the spec's required DTO fields)."""
    if event_type == "course.attempt.closed":
        return ("attemptId", "userId")
    if event_type.startswith("user."):
        return ("userId",)
    if event_type.startswith("path.session."):
        return ("pathId", "sessionId")
    if event_type.startswith("path."):
        return ("pathId",)
    if event_type.startswith("group."):
        return ("groupId",)
    return ()


def _event_ids(event: Any, event_type: str) -> dict[str, str] | None:
    """The ids an event names, or None when its payload is not the spec's shape."""
    if not isinstance(event, Mapping):
        return None
    payload = event.get("payload")
    if not isinstance(payload, Mapping) or payload.get("type") != event_type:
        return None
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return None
    ids = {}
    for key in ("userId", "pathId", "sessionId", "attemptId", "groupId"):
        value = data.get(key)
        if isinstance(value, str) and value:
            ids[key] = value
    return ids if all(key in ids for key in _required_ids(event_type)) else None


def read_change_set(
    webhooks: WebhooksApi,
    own: dict[str, Any],
    *,
    lag_seconds: float,
    reconcile_hours: float,
    retention_hours: float,
    tables: tuple[str, ...] = tuple(FEED_TABLES),
    now: datetime | None = None,
) -> ChangeSet:
    """Reads every needed subscription's log since its cursor and updates ``own`` (the feed's
    dlt state) so the next run continues after this one; never raises on a gap."""
    now = now or datetime.now(tz=UTC)
    result = ChangeSet()
    lag = timedelta(seconds=lag_seconds)
    subscribed: dict[str, str] = dict(own.get("subscriptions") or {})
    read_until: dict[str, str] = own.setdefault("read_until", {})
    seen: dict[str, str] = own.setdefault("seen", {})
    last_event: dict[str, str] = own.setdefault("last_event", {})

    def gap(types: tuple[str, ...] | list[str], reason: str) -> None:
        for table in tables:
            if set(FEED_TABLES[table]) & set(types):
                result.fallback.setdefault(table, reason)

    needed = [t for t in EVENT_TYPES if any(t in FEED_TABLES[table] for table in tables)]
    if not subscribed:
        logger.warning(
            "360Learning change feed: change_feed is on but there is no webhook subscription: "
            "the default v2 policy alone instead; run `learning360 webhooks setup --url URL`"
        )
        gap(needed, "no webhook subscription (run `learning360 webhooks setup`)")
        return result
    reconciled = own.get("reconciled_at")
    if not isinstance(reconciled, int | float):
        gap(EVENT_TYPES, "no full read yet with the change feed")
    elif time.time() - reconciled >= reconcile_hours * 3600:
        gap(EVENT_TYPES, f"periodic full reconcile ({reconcile_hours:g} h)")

    try:
        live = {s.get("_id"): s for s in webhooks.subscriptions()}
    except Learning360Error as exc:
        gap(needed, f"listing subscriptions failed: {exc.one_line()}")
        return result
    horizon = now - timedelta(hours=retention_hours)
    for event_type in needed:
        sub_id = subscribed.get(event_type)
        sub = live.get(sub_id) if sub_id else None
        if sub is None:
            why = "not subscribed" if not sub_id else "subscription deleted"
            gap([event_type], f"{event_type}: {why}")
            continue
        if sub.get("status") != "active":
            gap([event_type], f"{event_type}: subscription {sub.get('status')}")
            continue
        if all(table in result.fallback for table in tables if event_type in FEED_TABLES[table]):
            read_until[sub_id] = _iso(now)  # read in full anyway: its events are not needed
            continue
        cursor = parse_timestamp(read_until.get(sub_id))
        if cursor is None or cursor < horizon:
            why = (
                "new subscription, no cursor yet"
                if cursor is None
                else "cursor older than the log's retention"
            )
            gap([event_type], f"{event_type}: {why}")
            read_until[sub_id] = _iso(now)  # its tables are read in full: start from here
            continue
        since = cursor - lag
        try:
            for page in webhooks.events(sub_id, since):
                for event in page:
                    event_id = event.get("_id") if isinstance(event, Mapping) else None
                    if not isinstance(event_id, str):
                        result.malformed += 1
                        gap([event_type], f"{event_type}: an event without _id")
                        continue
                    if event_id in seen:
                        result.duplicates += 1
                        continue
                    result.events += 1
                    created = event.get("createdAt")
                    seen[event_id] = created if isinstance(created, str) else _iso(now)
                    if isinstance(created, str) and created > last_event.get(sub_id, ""):
                        last_event[sub_id] = created  # for `webhooks status`
                    ids = _event_ids(event, event_type)  # order and repeats do not matter
                    if ids is None:
                        result.malformed += 1
                        logger.warning(
                            f"360Learning change feed: skipped malformed event {event_id} "
                            f"({event_type}); its tables follow the default v2 policy"
                        )
                        gap([event_type], f"{event_type}: malformed event {event_id}")
                        continue
                    result.add(ids)
        except Learning360Error as exc:
            gap([event_type], f"{event_type}: reading its events failed: {exc.one_line()}")
            continue
        read_until[sub_id] = _iso(now)
    # forget event ids that the next read (from the oldest cursor minus the lag) cannot return
    oldest = min((parse_timestamp(v) for v in read_until.values()), default=None)
    if oldest is not None:
        keep_after = oldest - lag - timedelta(minutes=5)
        for event_id, created in list(seen.items()):
            moment = parse_timestamp(created)
            if moment is None or moment < keep_after:
                del seen[event_id]
    return result


class ChangeFeed:
    """The v2 resources' view of the feed: computed once per run, at extract time (after dlt
    restored the state from the destination), shared by the fan-out transformers."""

    def __init__(self, api: V2Api, lag_seconds: float):
        self.webhooks = WebhooksApi(api)
        self.lag_seconds = lag_seconds
        self.reconcile_hours = _hours(RECONCILE_KEY, DEFAULT_RECONCILE_HOURS)
        self.retention_hours = _hours(RETENTION_KEY, DEFAULT_RETENTION_HOURS)
        self._lock = threading.Lock()
        self._changes: ChangeSet | None = None

    @classmethod
    def from_config(cls, api: V2Api, lag_seconds: float) -> ChangeFeed | None:
        return cls(api, lag_seconds) if mode() else None

    def changes(self) -> ChangeSet:
        with self._lock:
            if self._changes is None:
                own = dlt.current.source_state().setdefault(STATE_KEY, {})
                started = time.time()
                changes = read_change_set(
                    self.webhooks,
                    own,
                    lag_seconds=self.lag_seconds,
                    reconcile_hours=self.reconcile_hours,
                    retention_hours=self.retention_hours,
                )
                if len(changes.fallback) == len(FEED_TABLES):
                    own["reconciled_at"] = started  # every feed table is read in full now
                own["last_run"] = {"at": _iso(datetime.now(tz=UTC)), **changes.summary()}
                for table, reason in changes.fallback.items():
                    logger.warning(
                        f"360Learning change feed: {table} by the default v2 policy alone: {reason}"
                    )
                self.webhooks.client.stats.change_feed = own["last_run"]
                self._changes = changes
            return self._changes

    def falls_back(self, table: str) -> bool:
        """True when the logs cannot prove ``table`` complete: the default v2 policy reads it."""
        return table in self.changes().fallback

    def select(self, table: str, page: list[Row]) -> list[Row]:
        """The users of a ``/users`` page whose ``table`` rows the events say changed (call
        only when ``falls_back(table)`` is False)."""
        users = self.changes().users
        return [u for u in page if isinstance(u, Mapping) and u.get("_id") in users]
