"""The v2 options and refresh policies: what a v2 sync re-reads when the API gives no change
signal. Most per-user and per-group routes have no "changed since" filter, so a parent is
re-read when new, when its listing row changed, or when its refresh falls due (v1's policy)."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError, config_key
from ..tables import V2_TABLES
from ..v1.refresh import UserDetailsRefresh
from ..validation import days_setting

# groups are few (hundreds): fewer buckets keep the state small (~5 KB)
GROUP_BUCKETS = 256


def clock() -> float:
    """Now, for the refresh schedules (tests move it with the emulator's simulated days)."""
    return time.time()


@dataclass(frozen=True)
class V2Options:
    """The v2-only source settings, checked once by the source function."""

    full_read_hours: float
    user_refresh_days: float
    group_refresh_days: float
    skip_tables: frozenset[str]
    change_feed: bool
    reconcile_hours: float
    retention_hours: float

    @classmethod
    def checked(
        cls,
        *,
        user_courses_full_read_hours: Any,
        v2_user_refresh_days: Any,
        v2_group_refresh_days: Any,
        v2_skip_tables: Any,
        change_feed: Any,
        change_feed_reconcile_hours: Any,
        change_feed_retention_hours: Any,
    ) -> V2Options:
        """The options of ``learning360()``, or a :class:`ConfigurationError` naming the key."""
        return cls(
            days_setting("user_courses_full_read_hours", user_courses_full_read_hours, "hours"),
            days_setting("v2_user_refresh_days", v2_user_refresh_days),
            days_setting("v2_group_refresh_days", v2_group_refresh_days),
            _skip_tables(v2_skip_tables),
            _change_feed_on(change_feed),
            days_setting("change_feed_reconcile_hours", change_feed_reconcile_hours, "hours"),
            days_setting("change_feed_retention_hours", change_feed_retention_hours, "hours"),
        )


def _skip_tables(value: Any) -> frozenset[str]:
    """A list or a comma-separated string of table names; an unknown name is an error."""
    names = value.split(",") if isinstance(value, str) else list(value or ())
    chosen = frozenset(str(name).strip() for name in names if str(name).strip())
    unknown = chosen - set(V2_TABLES)
    if unknown:
        raise ConfigurationError(
            f"v2_skip_tables names unknown table(s) {', '.join(sorted(unknown))}: set "
            f"{config_key('v2_skip_tables')} to some of {', '.join(V2_TABLES)}"
        )
    return chosen


def _change_feed_on(value: Any) -> bool:
    """``"webhooks"`` turns the change feed on; unset, ``""`` or ``"off"`` leave it off."""
    text = str(value or "").strip().lower()
    if text not in ("", "off", "none", "false", "webhooks"):
        raise ConfigurationError(
            f'change_feed {value!r} is unknown: set {config_key("change_feed")} to "webhooks" '
            "or remove it"
        )
    return text == "webhooks"


def user_refresh(state: MutableMapping[str, Any], days: float) -> UserDetailsRefresh:
    """Which users' per-user data (custom-field values) to read this run."""
    return UserDetailsRefresh(state, days, now=clock())


def group_refresh(state: MutableMapping[str, Any], days: float) -> UserDetailsRefresh:
    """Which groups' members and catalogs to read this run (same policy, fewer buckets)."""
    return UserDetailsRefresh(state, days, buckets=GROUP_BUCKETS, now=clock())


class FullReadSchedule:
    """``user_courses_full_read_hours``: a full ``/courses/stats`` read at most every N hours
    (0: every run). In between, only completions since the cursor: v2 has no signal for the
    progress of open attempts, so a full read is a schedule, not a cursor."""

    def __init__(self, state: MutableMapping[str, Any], hours: float):
        self.state, self.hours, self.now = state, hours, clock()

    def due(self, cursor: Any) -> bool:
        last = self.state.get("full_read_at")
        return (
            self.hours <= 0
            or cursor is None
            or not isinstance(last, int | float)
            or self.now - last >= self.hours * 3600
        )

    def done(self) -> None:
        self.state["full_read_at"] = self.now
