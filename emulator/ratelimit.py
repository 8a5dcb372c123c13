"""The per-company request limit (reference §8: 50 GET/s per company, then 429)."""

from __future__ import annotations

import threading
import time
from collections import deque


class SlidingWindowLimiter:
    """At most `rate` accepted requests per key in any `window`-second span. Refused requests do
    not consume the budget, so a client that backs off recovers within one window."""

    def __init__(self, rate: float | None, window: float = 1.0) -> None:
        self.rate = rate
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        rate = self.rate
        if not rate:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            edge = now - self.window
            while hits and hits[0] <= edge:
                hits.popleft()
            if len(hits) >= rate:
                return False
            hits.append(now)
            return True
