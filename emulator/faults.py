"""Faults on demand, for testing a client's resilience. All off by default; the draws come from
one rng seeded by the fault seed, so a sequential client sees the same faults on every run."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class FaultSettings:
    latency_ms: float = 0.0  # added to every /api/* answer
    jitter_ms: float = 0.0  # uniform extra latency in [0, jitter_ms]
    error_rate: float = 0.0  # 500 (JSON "an error occurred: <hex>") / 502 / 503 (plain text)
    reset_rate: float = 0.0  # connection closed with RST, no response
    truncate_rate: float = 0.0  # headers announce the full body, then the body is cut short
    html_rate: float = 0.0  # 502/503 with an HTML page (a proxy's error page)
    html_200_rate: float = 0.0  # 200 with an HTML page (a captive portal / maintenance page)
    slow_stream_bytes_per_s: float = 0.0  # body trickled at this rate
    burst_429_rate: float = 0.0  # 429 regardless of the rate limiter
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FaultSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {sorted(unknown)}; known: {sorted(known)}")
        settings = cls(**{k: (int(v) if k == "seed" else float(v)) for k, v in values.items()})
        for name in (
            "error_rate",
            "reset_rate",
            "truncate_rate",
            "html_rate",
            "html_200_rate",
            "burst_429_rate",
        ):
            if not 0.0 <= getattr(settings, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        return settings

    def active(self) -> bool:
        return any(v for k, v in asdict(self).items() if k != "seed")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FaultPlan:
    """What to do to one request: `before` replaces the answer, `after` mangles a good one."""

    delay_s: float = 0.0
    before: str | None = None  # reset | burst_429 | error | html
    status: int = 0  # for error / html
    after: str | None = None  # html_200 | truncate
    slow_bps: float = 0.0


class FaultInjector:
    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = settings
            self._rng = random.Random(f"learning360-emulator-faults:{settings.seed}")
            self._active = settings.active()

    def plan(self) -> FaultPlan | None:
        """Draws a fixed number of numbers per request, so one fault's rate does not shift the
        sequence of another's."""
        if not self._active:
            return None
        with self._lock:
            s = self.settings
            r = [self._rng.random() for _ in range(8)]
        plan = FaultPlan(delay_s=(s.latency_ms + r[0] * s.jitter_ms) / 1000.0)
        if r[1] < s.reset_rate:
            plan.before = "reset"
        elif r[2] < s.burst_429_rate:
            plan.before = "burst_429"
        elif r[3] < s.error_rate:
            plan.before, plan.status = "error", (500, 502, 503)[int(r[4] * 3)]
        elif r[5] < s.html_rate:
            plan.before, plan.status = "html", (502, 503)[int(r[4] * 2)]
        elif r[6] < s.html_200_rate:
            plan.after = "html_200"
        elif r[7] < s.truncate_rate:
            plan.after = "truncate"
        plan.slow_bps = s.slow_stream_bytes_per_s
        return plan


HTML_ERROR = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
HTML_200 = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>360Learning</title>'
    "</head><body><h1>We'll be back soon</h1><p>The platform is under maintenance.</p>"
    "</body></html>"
)
