"""The change feed: the v2 webhook event logs read into the set of users to re-read on top of
the default v2 policy, which stays the safety net (docs/operations.md, "Change feed").

The sync pulls each subscription's log (``/webhooks/subscriptions/{id}/events``) since its
cursor minus the lag instead of trusting deliveries, and keeps only the *set* of user ids: lost,
repeated or reordered deliveries change nothing. A table falls back to the default policy alone
when the logs cannot prove it complete (no full read yet or a reconcile due, a subscription
missing or inactive, a cursor past the retention, an unreadable event); the summary and
``status`` name the reason. State (dlt source state ``change_feed``): ``subscriptions`` (event
type → id, from ``learning360 webhooks setup``), ``read_until`` and ``last_event`` (per
subscription), ``seen`` (event ids of the lag window), ``reconciled_at``, ``last_run``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common import logger

from .errors import Learning360Error
from .redaction import register_secret
from .resource_helpers import Row
from .routes import V2_ROUTES
from .timestamps import format_filter_date, parse_timestamp

if TYPE_CHECKING:
    from .v2.api import V2Api

STATE_KEY = "change_feed"
SUBSCRIPTION_NAME = "learning360 sync"

USER_EVENTS = tuple(
    f"user.{what}"
    for what in ("created", "updated", "deleted", "activated", "reactivated", "invited")
)
#: the tables the feed serves, and the event types whose logs must prove they are complete
FEED_TABLES: dict[str, tuple[str, ...]] = {
    "user_certificates": (*USER_EVENTS, "user.certificate.awarded"),
    "user_custom_fields": USER_EVENTS,
}
EVENT_TYPES = tuple(dict.fromkeys(t for types in FEED_TABLES.values() for t in types))


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
        if not (isinstance(secret, str) and secret):
            return None
        register_secret(secret)
        return secret

    def _send(self, method: str, route: str, params: Mapping[str, str] | None, body: Any) -> Any:
        template = V2_ROUTES[route]
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
    """The users the events read since the last run name, and the tables they cannot prove."""

    events: int = 0
    duplicates: int = 0
    malformed: int = 0
    users: set[str] = field(default_factory=set)
    fallback: dict[str, str] = field(default_factory=dict)  # table -> reason

    def summary(self) -> dict[str, Any]:
        return {**asdict(self), "users": len(self.users)}


def _user_of(event: Any, event_type: str) -> str | None:
    """The user an event of the spec's shape names (every feed event type is ``user.*``)."""
    payload = event.get("payload") if isinstance(event, Mapping) else None
    if not isinstance(payload, Mapping) or payload.get("type") != event_type:
        return None
    data = payload.get("data")
    user_id = data.get("userId") if isinstance(data, Mapping) else None
    return user_id if isinstance(user_id, str) and user_id else None


def read_change_set(
    webhooks: WebhooksApi,
    own: dict[str, Any],
    *,
    lag_seconds: float,
    reconcile_hours: float,
    retention_hours: float,
) -> ChangeSet:
    """Reads every needed subscription's log since its cursor and moves the cursors in ``own``
    (the feed's dlt state); a gap is a fallback, never an exception."""
    now = datetime.now(tz=UTC)
    result = ChangeSet()
    lag = timedelta(seconds=lag_seconds)
    subscribed: dict[str, str] = dict(own.get("subscriptions") or {})
    read_until: dict[str, str] = own.setdefault("read_until", {})
    seen: dict[str, str] = own.setdefault("seen", {})
    last_event: dict[str, str] = own.setdefault("last_event", {})

    def gap(types: tuple[str, ...] | list[str], reason: str) -> None:
        for table, needs in FEED_TABLES.items():
            if set(needs) & set(types):
                result.fallback.setdefault(table, reason)

    if not subscribed:
        logger.warning(
            "360Learning change feed: change_feed is on but there is no webhook subscription: "
            "the default v2 policy alone instead; run `learning360 webhooks setup --url URL`"
        )
        gap(EVENT_TYPES, "no webhook subscription (run `learning360 webhooks setup`)")
        return result
    reconciled = own.get("reconciled_at")
    if not isinstance(reconciled, int | float):
        gap(EVENT_TYPES, "no full read yet with the change feed")
    elif time.time() - reconciled >= reconcile_hours * 3600:
        gap(EVENT_TYPES, f"periodic full reconcile ({reconcile_hours:g} h)")

    try:
        live = {s.get("_id"): s for s in webhooks.subscriptions()}
    except Learning360Error as exc:
        gap(EVENT_TYPES, f"listing subscriptions failed: {exc.one_line()}")
        return result
    horizon = now - timedelta(hours=retention_hours)
    for event_type in EVENT_TYPES:
        sub_id = subscribed.get(event_type)
        sub = live.get(sub_id) if sub_id else None
        if sub is None:
            why = "subscription deleted" if sub_id else "not subscribed"
            gap([event_type], f"{event_type}: {why}")
            continue
        if sub.get("status") != "active":
            gap([event_type], f"{event_type}: subscription {sub.get('status')}")
            continue
        cursor = parse_timestamp(read_until.get(sub_id))
        if all(t in result.fallback for t, needs in FEED_TABLES.items() if event_type in needs):
            read_until[sub_id] = _iso(now)  # its tables are read in full anyway
            continue
        if cursor is None or cursor < horizon:
            why = (
                "cursor older than the log's retention"
                if cursor
                else "new subscription, no cursor yet"
            )
            gap([event_type], f"{event_type}: {why}")
            read_until[sub_id] = _iso(now)  # its tables are read in full: start from here
            continue
        try:
            for page in webhooks.events(sub_id, cursor - lag):
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
                    user_id = _user_of(event, event_type)
                    if user_id is None:
                        result.malformed += 1
                        logger.warning(
                            f"360Learning change feed: skipped malformed event {event_id} "
                            f"({event_type}); its tables follow the default v2 policy"
                        )
                        gap([event_type], f"{event_type}: malformed event {event_id}")
                    else:
                        result.users.add(user_id)
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
    """The feed as the v2 resources see it: read once per run at extract time (after dlt
    restored the state from the destination), shared by the fan-outs."""

    def __init__(
        self, api: V2Api, lag_seconds: float, reconcile_hours: float, retention_hours: float
    ):
        self.webhooks = WebhooksApi(api)
        self.settings = {
            "lag_seconds": lag_seconds,
            "reconcile_hours": reconcile_hours,
            "retention_hours": retention_hours,
        }
        self._lock = threading.Lock()
        self._changes: ChangeSet | None = None

    def changes(self) -> ChangeSet:
        with self._lock:
            if self._changes is None:
                own = dlt.current.source_state().setdefault(STATE_KEY, {})
                started = time.time()
                changes = read_change_set(self.webhooks, own, **self.settings)
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

    def users(self, table: str, listing: list[Row]) -> list[Row]:
        """The users of ``listing`` the events name for ``table``; none when it falls back."""
        changes = self.changes()
        if table in changes.fallback:
            return []
        return [u for u in listing if isinstance(u, Mapping) and u.get("_id") in changes.users]
