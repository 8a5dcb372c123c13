"""Refresh policies for data the v1 API gives no change signal for.

``UserDetailsRefresh`` decides which users get a getUser call this run. getUsers (one request)
is read every run and carries the list-level fields (``_id, mail, firstName, lastName,
custom, primaryGroupId, deleted``); getUser adds the details (groups, managers, custom fields,
last login, time spent ...) at one request per user, and v1 has no "modified since" for users.
So a user's details are re-read when:

* the user is new, or one of its list-level fields changed (renamed, deleted, new primary
  group): detected by a fingerprint of the listing rows, kept per bucket of users;
* its refresh is due: every user's details are re-read at least every
  ``user_details_refresh_days`` days, spread evenly over that period (a daily run re-reads
  about 1/N of the users);
* always, when ``user_details_refresh_days`` is 0, on the first run and after a full refresh
  (dlt state dropped).

The state is two lists of ``USER_BUCKETS`` integers (~90 KB), whatever the number of users:
users are hashed into buckets; a bucket whose fingerprint changed has all its users re-read
(~5 users per bucket at 20,000 users).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from ..settings import USER_BUCKETS
from .parsing import id_of

DAY_SECONDS = 86_400


def user_bucket(user_id: str, buckets: int = USER_BUCKETS) -> int:
    return zlib.crc32(user_id.encode()) % buckets


def row_fingerprint(row: Mapping[str, Any]) -> int:
    return zlib.crc32(json.dumps(row, sort_keys=True, default=str).encode())


class UserDetailsRefresh:
    def __init__(
        self,
        state: MutableMapping[str, Any],
        refresh_days: float,
        *,
        buckets: int = USER_BUCKETS,
        now: float | None = None,
    ):
        self._state = state
        self._period = max(0.0, float(refresh_days or 0)) * DAY_SECONDS
        self._buckets = buckets
        self._now = time.time() if now is None else now
        self.reason: dict[str, int] = {"changed": 0, "due": 0, "all": 0}

    def everyone(self) -> bool:
        """True when every user's details are read this run (first run, after a full refresh,
        or ``refresh_days = 0``): the caller may then stream the listing through
        :meth:`observe` instead of holding it for :meth:`select`."""
        previous, due = self._state.get("fingerprints"), self._state.get("due")
        return self._period <= 0 or not (
            isinstance(previous, list)
            and len(previous) == self._buckets
            and isinstance(due, list)
            and len(due) == self._buckets
        )

    def observe(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Every row, passed through while its fingerprint is recorded (``everyone()`` runs);
        the state is written when the rows are exhausted."""
        n, now, period = self._buckets, self._now, self._period
        fingerprints = [0] * n
        count = 0
        for row in rows:
            b = user_bucket(id_of(row) or "", n)
            fingerprints[b] = (fingerprints[b] + row_fingerprint(row)) & 0xFFFFFFFF
            count += 1
            yield row
        self._state["fingerprints"] = fingerprints
        self._state["due"] = [int(now + period * (b + 1) / n) for b in range(n)]
        self.reason["all"] = count

    def select(self, listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The listing rows whose details to fetch; updates the state."""
        n, now, period = self._buckets, self._now, self._period
        fingerprints = [0] * n
        bucket_of: list[int] = []
        for row in listing:
            user_id = id_of(row) or ""
            b = user_bucket(user_id, n)
            bucket_of.append(b)
            fingerprints[b] = (fingerprints[b] + row_fingerprint(row)) & 0xFFFFFFFF
        previous = self._state.get("fingerprints")
        due = self._state.get("due")
        first = not (
            isinstance(previous, list)
            and len(previous) == n
            and isinstance(due, list)
            and len(due) == n
        )
        if first or period <= 0:
            selected = set(range(n))
            # stagger the next refreshes over one period, so they do not all fall on one day
            due = [int(now + period * (b + 1) / n) for b in range(n)]
            self.reason["all"] = len(listing)
        else:
            assert isinstance(previous, list) and isinstance(due, list)
            changed = {b for b in range(n) if fingerprints[b] != previous[b]}
            expired = {b for b in range(n) if due[b] <= now} - changed
            selected = changed | expired
            for b in selected:
                due[b] = int(now + period)
            self.reason["changed"] = sum(1 for b in bucket_of if b in changed)
            self.reason["due"] = sum(1 for b in bucket_of if b in expired)
        self._state["fingerprints"] = fingerprints
        self._state["due"] = due
        return [row for row, b in zip(listing, bucket_of, strict=True) if b in selected]
