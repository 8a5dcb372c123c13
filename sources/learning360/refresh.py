"""Which parents are re-read when the API has no "changed since" for them (v1 getUser, v2 users'
custom fields, groups' members and catalog): the new and changed (a fingerprint per bucket: the
state is two lists of ``buckets`` ints), and each every ``refresh_days``; v2's full reads."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Mapping, MutableMapping
from typing import Any

from .cursors import Row
from .tables import USER_BUCKETS
from .v1.parsing import id_of

GROUP_BUCKETS = 256  # groups are few (hundreds): fewer buckets keep the state small (~5 KB)


def clock() -> float:  # tests move it with the emulator's simulated days
    return time.time()


def user_bucket(user_id: str, buckets: int = USER_BUCKETS) -> int:
    return zlib.crc32(user_id.encode()) % buckets


class UserDetailsRefresh:
    def __init__(self, state: MutableMapping[str, Any], refresh_days: float, buckets=USER_BUCKETS):
        self._state, self._buckets = state, buckets
        self._period = max(0.0, float(refresh_days or 0)) * 86_400
        self._now = clock()

    def everyone(self) -> bool:
        """Every parent is read this run (first run, a reset state, or 0 days)."""
        previous, due = self._state.get("fingerprints"), self._state.get("due")
        known = isinstance(previous, list) and isinstance(due, list)
        return self._period <= 0 or not (known and len(previous) == len(due) == self._buckets)

    def _bucket(self, row: Row, fingerprints: list[int]) -> int:
        b = user_bucket(id_of(row) or "", self._buckets)
        row_print = zlib.crc32(json.dumps(row, sort_keys=True, default=str).encode())
        fingerprints[b] = (fingerprints[b] + row_print) & 0xFFFFFFFF
        return b

    def _staggered(self) -> list[int]:
        """Next refreshes spread over one period, so they do not all fall on one day."""
        n = self._buckets
        return [int(self._now + self._period * (b + 1) / n) for b in range(n)]

    def select(self, listing: list[Row]) -> list[Row]:
        fingerprints = [0] * self._buckets
        bucket_of = [self._bucket(row, fingerprints) for row in listing]
        if self.everyone():
            selected, due = set(range(self._buckets)), self._staggered()
        else:
            previous, due = self._state["fingerprints"], self._state["due"]
            selected = {b for b, fp in enumerate(fingerprints) if fp != previous[b]}
            selected |= {b for b, when in enumerate(due) if when <= self._now}
            for b in selected:
                due[b] = int(self._now + self._period)
        self._state.update(fingerprints=fingerprints, due=due)
        return [row for row, b in zip(listing, bucket_of, strict=True) if b in selected]


def full_read_due(state: Mapping[str, Any], hours: float, cursor: Any) -> float | None:
    """The time to record once a full ``/courses/stats`` read is done when one is due (every
    ``hours``, 0: every run): v2 has no signal for the progress of open attempts."""
    now, last = clock(), state.get("full_read_at")
    stale = not isinstance(last, int | float) or now - last >= hours * 3600
    return now if hours <= 0 or cursor is None or stale else None
