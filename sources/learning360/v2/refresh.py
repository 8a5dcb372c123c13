"""The v2 options and refresh policies: what a v2 sync re-reads when the API gives no change
signal. Most per-user and per-group routes have no "changed since" filter, so a parent is
re-read when new, when its listing row changed, or when its refresh falls due (v1's policy)."""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..cursors import Row
from ..errors import ConfigurationError, config_key
from ..tables import USER_BUCKETS, V2_TABLES
from ..v1.refresh import UserDetailsRefresh
from ..validation import days_setting

# groups are few (hundreds): fewer buckets keep the state small (~5 KB)
GROUP_BUCKETS = 256


def clock() -> float:  # tests move it with the emulator's simulated days
    return time.time()


@dataclass(frozen=True)
class V2Options:
    """The v2-only settings, named as in ``learning360()`` and checked once there."""

    user_courses_full_read_hours: float
    v2_user_refresh_days: float
    v2_group_refresh_days: float
    v2_skip_tables: frozenset[str]
    change_feed: bool
    change_feed_reconcile_hours: float
    change_feed_retention_hours: float

    @classmethod
    def checked(cls, **values: Any) -> V2Options:
        """The options, or a :class:`ConfigurationError` naming the key."""
        checks = {"v2_skip_tables": _skip_tables, "change_feed": _change_feed_on}
        return cls(
            **{
                key: checks[key](value)
                if key in checks
                else days_setting(key, value, key.rsplit("_", 1)[-1])  # days or hours
                for key, value in values.items()
            }
        )


def _skip_tables(value: Any) -> frozenset[str]:
    """A list or a comma-separated string of table names; an unknown name is an error."""
    names = value.split(",") if isinstance(value, str) else list(value or ())
    chosen = frozenset(str(name).strip() for name in names if str(name).strip())
    if unknown := chosen - set(V2_TABLES):
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


def parents_due(
    state: MutableMapping[str, Any], days: float, listing: list[Row], buckets: int = USER_BUCKETS
) -> list[Row]:
    """The new and changed parents of ``listing`` and those whose refresh is due."""
    return UserDetailsRefresh(state, days, buckets=buckets, now=clock()).select(listing)


def full_read_due(state: Mapping[str, Any], hours: float, cursor: Any) -> float | None:
    """The time to record once a full ``/courses/stats`` read is done when one is due (every
    ``hours``, 0: every run): v2 has no signal for the progress of open attempts."""
    now, last = clock(), state.get("full_read_at")
    stale = not isinstance(last, int | float) or now - last >= hours * 3600
    return now if hours <= 0 or cursor is None or stale else None
