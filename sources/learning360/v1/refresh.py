"""Which users get a getUser call this run (v1 has no "modified since" for users): those new or
changed in the listing (a fingerprint per bucket of users), every user at least every
``refresh_days`` (spread over the period), and everyone on the first run, after a full refresh
or with 0 days. The state is two lists of ``USER_BUCKETS`` integers whatever the user count.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from ..tables import USER_BUCKETS
from .parsing import id_of


def user_bucket(user_id: str, buckets: int = USER_BUCKETS) -> int:
    return zlib.crc32(user_id.encode()) % buckets


class UserDetailsRefresh:
    def __init__(
        self,
        state: MutableMapping[str, Any],
        refresh_days: float,
        *,
        buckets: int = USER_BUCKETS,
        now: float | None = None,
    ):
        self._state, self._buckets = state, buckets
        self._period = max(0.0, float(refresh_days or 0)) * 86_400
        self._now = time.time() if now is None else now

    def everyone(self) -> bool:
        """Every user is read this run: the listing may stream through :meth:`observe`."""
        previous, due = self._state.get("fingerprints"), self._state.get("due")
        known = isinstance(previous, list) and isinstance(due, list)
        return self._period <= 0 or not (known and len(previous) == len(due) == self._buckets)

    def _bucket(self, row: dict[str, Any], fingerprints: list[int]) -> int:
        """Adds the row to its bucket's fingerprint; the bucket."""
        b = user_bucket(id_of(row) or "", self._buckets)
        row_print = zlib.crc32(json.dumps(row, sort_keys=True, default=str).encode())
        fingerprints[b] = (fingerprints[b] + row_print) & 0xFFFFFFFF
        return b

    def _staggered(self) -> list[int]:
        """Next refreshes spread over one period, so they do not all fall on one day."""
        n = self._buckets
        return [int(self._now + self._period * (b + 1) / n) for b in range(n)]

    def observe(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Every row, fingerprinted on its way; the state is written once they are exhausted."""
        fingerprints = [0] * self._buckets
        for row in rows:
            self._bucket(row, fingerprints)
            yield row
        self._state.update(fingerprints=fingerprints, due=self._staggered())

    def select(self, listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The listing rows whose details to fetch; updates the state."""
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
