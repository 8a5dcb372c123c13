"""Request counters, so tests and benchmarks can check what a client really sent."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.status: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.total = 0
            self.tokens_issued = 0
            self.rate_limited = 0

    def request(self, route: str) -> None:
        with self._lock:
            self.requests[route] += 1
            self.total += 1

    def answered(self, status: int) -> None:
        with self._lock:
            self.status[status] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def token(self) -> None:
        with self._lock:
            self.tokens_issued += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "total": self.total,
                "429": self.status.get(429, 0),
                "faults": dict(self.faults),
                "status": {str(k): v for k, v in sorted(self.status.items())},
                "rate_limited": self.rate_limited,
                "tokens_issued": self.tokens_issued,
            }
