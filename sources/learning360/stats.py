"""Counters of one source run, shared by every thread (read them after ``pipeline.run``)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from .quarantine import Quarantine


@dataclass
class RequestStats:
    """Counters of one source run, shared by every thread (read them after ``pipeline.run``)."""

    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429 answers
    retries: int = 0
    reauthentications: int = 0
    bytes_received: int = 0
    skipped_missing: int = 0  # single items gone mid-sync (404), skipped with a warning
    dropped: Counter[str] = field(default_factory=Counter)  # unstorable records: what -> count
    calls_planned: int = 0  # per-item calls known to be due (the progress ETA)
    calls_done: int = 0  # and those answered
    quarantine: Quarantine = field(default_factory=Quarantine, repr=False, compare=False)
    # ids of merge tables whose listing was read whole: table -> ids (deletions, data_guard)
    complete_reads: dict[str, list[str]] = field(default_factory=dict, repr=False)
    change_feed: dict[str, object] | None = None  # what the change feed did, when it is on
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
