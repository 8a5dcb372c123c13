"""What a v2 sync re-reads per parent (user, group) when the API gives no change signal.

v2's per-user and per-group routes cost one request per parent, and most have no filter that
says "changed since": a user's custom-field values, a group's members and catalog. Reading all
of them every run made an incremental sync as expensive as a full one (issue 16). So, as v1
does for getUser (``..v1.refresh.UserDetailsRefresh``, reused here), a parent is re-read when:

* it is new, or its listing row changed (fingerprint of ``/users`` or ``/groups`` rows);
* its refresh is due: every parent is re-read at least every N days, spread over the period
  (``v2_user_refresh_days`` for users, ``v2_group_refresh_days`` for groups);
* always when N is 0, on the first run and after the state was dropped.

The tables these fan-outs fill are ``merge`` tables with a ``merge_key`` on the parent id
(dlt's delete-insert): the rows of a re-read parent replace all of its previous rows, the rows
of the others stay as loaded.

Certificates have a signal (they are delivered when a learner completes a path): only
learners with a path completion since the cursor are read (``certificate_holders`` in
resources.py).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

import dlt

from ..v1.refresh import UserDetailsRefresh
from ..validation import days_setting

USER_REFRESH_DAYS_KEY = "v2_user_refresh_days"
GROUP_REFRESH_DAYS_KEY = "v2_group_refresh_days"
DEFAULT_USER_REFRESH_DAYS = 30.0  # as v1's user_details_refresh_days
DEFAULT_GROUP_REFRESH_DAYS = 7.0
# groups are few (hundreds): fewer buckets keep the state small (~5 KB)
GROUP_BUCKETS = 256


def refresh_days(key: str, default: float) -> float:
    """``[sources.learning360] <key>`` in days (0 = every parent every run); a value that is
    not a number ≥ 0 is a configuration error."""
    value = dlt.config.get(f"sources.learning360.{key}")
    if value is None or value == "":
        return default
    return days_setting(key, value)


def clock() -> float:
    """Now, for the refresh schedule (tests move it with the emulator's simulated days)."""
    return time.time()


def user_refresh(state: MutableMapping[str, Any], days: float) -> UserDetailsRefresh:
    """Which users' per-user data (custom-field values) to read this run."""
    return UserDetailsRefresh(state, days, now=clock())


def group_refresh(state: MutableMapping[str, Any], days: float) -> UserDetailsRefresh:
    """Which groups' members and catalogs to read this run (same policy, fewer buckets)."""
    return UserDetailsRefresh(state, days, buckets=GROUP_BUCKETS, now=clock())
