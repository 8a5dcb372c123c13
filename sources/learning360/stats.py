"""Counters of one source run, shared by every thread (read them after ``pipeline.run``)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from .quarantine import Quarantine


@dataclass
class RequestStats:
    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429 answers
    retries: int = 0
    reauthentications: int = 0
    bytes_received: int = 0
    skipped_missing: int = 0  # single items gone mid-sync (404), skipped with a warning
    # records that cannot be stored (no key, a repeated key), each a warning: what -> count
    dropped: Counter[str] = field(default_factory=Counter)
    # per-item calls known to be due and those answered: the progress ETA
    calls_planned: int = 0
    calls_done: int = 0
    # every refused element, for the _learning360_rejected table (quarantine.py)
    quarantine: Quarantine = field(default_factory=Quarantine, repr=False, compare=False)
    # ids of merge tables whose listing was read whole: table -> ids (deletions, data_guard)
    complete_reads: dict[str, list[str]] = field(default_factory=dict, repr=False)
    # what the webhook change feed did this run (change_feed.py); None when it is off
    change_feed: dict[str, object] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    def record_request(self, route: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] += 1

    def record_dropped(self, what: str) -> None:
        with self._lock:
            self.dropped[what] += 1

    def calls_to_go(self) -> int:
        with self._lock:
            return max(0, self.calls_planned - self.calls_done)

    def as_dict(self) -> dict[str, object]:
        """Named like the emulator's ``metrics()`` where they overlap."""
        with self._lock:
            return {
                "total": self.requests,
                "requests": dict(self.by_route),
                "429": self.rate_limited,
                "retries": self.retries,
                "reauthentications": self.reauthentications,
                "bytes": self.bytes_received,
                "skipped_missing": self.skipped_missing,
                "dropped": dict(self.dropped),
                "rejected": self.quarantine.summary(),
                **({"change_feed": self.change_feed} if self.change_feed is not None else {}),
            }
