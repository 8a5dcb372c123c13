"""Which users get a getUser call this run: v1 has no "modified since" for users, and getUser
costs one request per user. Details are re-read for users new or changed in the listing (a
fingerprint per bucket of users), for every user at least every ``refresh_days`` (spread over
the period), and for everyone on the first run, after a full refresh or with 0 days. The state
is two lists of ``USER_BUCKETS`` integers (~90 KB) whatever the number of users.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from ..tables import USER_BUCKETS
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
        """Every user's details are read this run: the caller may then stream the listing
        through :meth:`observe` instead of holding it for :meth:`select`."""
        previous, due = self._state.get("fingerprints"), self._state.get("due")
        n = self._buckets
        known = isinstance(previous, list) and isinstance(due, list)
        return self._period <= 0 or not (known and len(previous) == len(due) == n)

    def _fingerprint(self, row: Mapping[str, Any], fingerprints: list[int]) -> int:
        """Adds the row to its bucket's fingerprint; the bucket."""
        b = user_bucket(id_of(row) or "", self._buckets)
        fingerprints[b] = (fingerprints[b] + row_fingerprint(row)) & 0xFFFFFFFF
        return b

    def _staggered(self) -> list[int]:
        """Next refreshes spread over one period, so they do not all fall on one day."""
        n = self._buckets
        return [int(self._now + self._period * (b + 1) / n) for b in range(n)]

    def observe(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Every row, passed through while its fingerprint is recorded (``everyone()`` runs);
        the state is written when the rows are exhausted."""
        fingerprints = [0] * self._buckets
        for row in rows:
            self._fingerprint(row, fingerprints)
            self.reason["all"] += 1
            yield row
        self._state["fingerprints"] = fingerprints
        self._state["due"] = self._staggered()

    def select(self, listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The listing rows whose details to fetch; updates the state."""
        fingerprints = [0] * self._buckets
        bucket_of = [self._fingerprint(row, fingerprints) for row in listing]
        if self.everyone():
            selected, due = set(range(self._buckets)), self._staggered()
            self.reason["all"] = len(listing)
        else:
            previous, due = self._state["fingerprints"], self._state["due"]
            changed = {b for b, fp in enumerate(fingerprints) if fp != previous[b]}
            expired = {b for b, when in enumerate(due) if when <= self._now} - changed
            selected = changed | expired
            for b in selected:
                due[b] = int(self._now + self._period)
            self.reason["changed"] = sum(1 for b in bucket_of if b in changed)
            self.reason["due"] = sum(1 for b in bucket_of if b in expired)
        self._state["fingerprints"] = fingerprints
        self._state["due"] = due
        return [row for row, b in zip(listing, bucket_of, strict=True) if b in selected]
