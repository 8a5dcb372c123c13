"""The v2 webhook event logs read into the users to re-read on top of the default v2 policy
(docs/operations.md): only the *set* of ids is kept, so lost, repeated or reordered deliveries
change nothing; a table its logs cannot prove complete falls back to that policy, and says why."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common import logger

from .cursors import Row, format_api_timestamp, format_filter_date, parse_timestamp
from .errors import Learning360Error

if TYPE_CHECKING:
    from .v2.api import V2Api

STATE_KEY = "change_feed"
SUBSCRIPTION_NAME = "learning360 sync"

_USER_CHANGES = "created updated deleted activated reactivated invited"
USER_EVENTS = tuple(f"user.{what}" for what in _USER_CHANGES.split())
#: the tables the feed serves, and the event types whose logs must prove they are complete
FEED_TABLES: dict[str, tuple[str, ...]] = {
    "user_certificates": (*USER_EVENTS, "user.certificate.awarded"),
    "user_custom_fields": USER_EVENTS,
}
EVENT_TYPES = tuple(dict.fromkeys(t for types in FEED_TABLES.values() for t in types))


@dataclass
class ChangeSet:
    """The users the events read since the last run name, and the tables they cannot prove."""

    events: int = 0
    duplicates: int = 0
    malformed: int = 0
    users: set[str] = field(default_factory=set)
    fallback: dict[str, str] = field(default_factory=dict)  # table -> reason


def _user_of(event: Mapping[str, Any], event_type: str) -> str | None:
    try:
        payload = event["payload"]
        user_id = payload["data"]["userId"] if payload["type"] == event_type else None
    except (KeyError, TypeError):  # no such field, or not an object
        return None
    return user_id if isinstance(user_id, str) and user_id else None


def read_change_set(
    api: V2Api,
    own: dict[str, Any],
    *,
    lag_seconds: float,
    reconcile_hours: float,
    retention_hours: float,
) -> ChangeSet:
    """Reads every needed subscription's log since its cursor and moves the cursors in ``own``
    (the feed's dlt state); a gap is a fallback, never an exception."""
    now = datetime.now(tz=UTC)
    now_text, lag, result = format_api_timestamp(now), timedelta(seconds=lag_seconds), ChangeSet()
    subscribed: dict[str, str] = dict(own.get("subscriptions") or {})
    read_until: dict[str, str] = own.setdefault("read_until", {})
    seen: dict[str, str] = own.setdefault("seen", {})
    last_event: dict[str, str] = own.setdefault("last_event", {})

    def gap(reason: str, event_type: str | None = None) -> None:  # None: every table falls back
        reason = f"{event_type}: {reason}" if event_type else reason
        for table, needs in FEED_TABLES.items():
            if event_type is None or event_type in needs:
                result.fallback.setdefault(table, reason)

    if not subscribed:  # ChangeFeed logs every fallback
        gap("no webhook subscription (run `learning360 webhooks setup --url URL`)")
        return result
    reconciled = own.get("reconciled_at")
    if not isinstance(reconciled, int | float):
        gap("no full read yet with the change feed")
    elif time.time() - reconciled >= reconcile_hours * 3600:
        gap(f"periodic full reconcile ({reconcile_hours:g} h)")
    try:
        subscriptions = api.items("webhook_subscriptions")
        live = {s.get("_id"): s for s in subscriptions if isinstance(s, Mapping)}
    except Learning360Error as exc:
        gap(f"listing subscriptions failed: {exc.one_line()}")
        return result
    horizon = now - timedelta(hours=retention_hours)
    for event_type in EVENT_TYPES:
        sub_id = subscribed.get(event_type)
        sub = live.get(sub_id) if sub_id else None
        if sub is None:
            gap("subscription deleted" if sub_id else "not subscribed", event_type)
            continue
        if sub.get("status") != "active":
            gap(f"subscription {sub.get('status')}", event_type)
            continue
        cursor = parse_timestamp(read_until.get(sub_id))
        if cursor is None:
            gap("new subscription, no cursor yet", event_type)
        elif cursor < horizon:
            gap("cursor older than the log's retention", event_type)
        if all(t in result.fallback for t, n in FEED_TABLES.items() if event_type in n):
            read_until[sub_id] = now_text  # its tables are read in full: start from here
            continue
        try:
            since = {"createdAt[gte]": format_filter_date(cursor - lag)}
            for event in api.items("webhook_events", {"subscription_id": sub_id}, params=since):
                event_id = event.get("_id") if isinstance(event, Mapping) else None
                if not isinstance(event_id, str):
                    result.malformed += 1
                    gap("an event without _id", event_type)
                    continue
                if event_id in seen:
                    result.duplicates += 1
                    continue
                result.events += 1
                created = event.get("createdAt")
                seen[event_id] = created if isinstance(created, str) else now_text
                if isinstance(created, str) and created > last_event.get(sub_id, ""):
                    last_event[sub_id] = created  # for `webhooks status`
                user_id = _user_of(event, event_type)
                if user_id is None:
                    result.malformed += 1
                    logger.warning(
                        f"360Learning change feed: skipped malformed event {event_id} "
                        f"({event_type}); its tables follow the default v2 policy"
                    )
                    gap(f"malformed event {event_id}", event_type)
                else:
                    result.users.add(user_id)
        except Learning360Error as exc:
            gap(f"reading its events failed: {exc.one_line()}", event_type)
            continue
        read_until[sub_id] = now_text
    # forget event ids that the next read (from the oldest cursor minus the lag) cannot return
    oldest = min((parse_timestamp(v) for v in read_until.values()), default=None)
    if oldest is not None:
        keep = oldest - lag - timedelta(minutes=5)
        own["seen"] = {i: c for i, c in seen.items() if (t := parse_timestamp(c)) and t >= keep}
    return result


class ChangeFeed:
    """The feed as the v2 resources see it: read once per run at extract time (after dlt
    restored the state from the destination), shared by the fan-outs."""

    def __init__(self, api: V2Api, **settings: float):  # read_change_set's keywords
        self.api, self.settings = api, settings
        self._lock = threading.Lock()
        self._changes: ChangeSet | None = None

    def changes(self) -> ChangeSet:
        with self._lock:
            if self._changes is None:
                own = dlt.current.source_state().setdefault(STATE_KEY, {})
                started = time.time()
                changes = read_change_set(self.api, own, **self.settings)
                if len(changes.fallback) == len(FEED_TABLES):
                    own["reconciled_at"] = started  # every feed table is read in full now
                at = format_api_timestamp(datetime.now(tz=UTC))
                summary = {"at": at, **asdict(changes), "users": len(changes.users)}
                own["last_run"] = self.api.client.stats.change_feed = summary
                for table, reason in changes.fallback.items():
                    logger.warning(
                        f"360Learning change feed: {table} by the default v2 policy alone: {reason}"
                    )
                self._changes = changes
            return self._changes

    def users(self, table: str, listing: list[Row]) -> list[Row]:
        """The users of ``listing`` the events name for ``table``; none when it falls back."""
        changes = self.changes()
        named = set() if table in changes.fallback else changes.users
        return [u for u in listing if isinstance(u, Mapping) and u.get("_id") in named]
