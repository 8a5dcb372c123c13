"""Simulated time: the company stores instants as integer milliseconds since the epoch (lean and
fast to compare) and renders them as the API does, ISO 8601 UTC with milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY

#: the company's simulated clock starts here (2026-06-01T00:00:00.000Z)
START_NOW = 1_780_272_000_000


def iso(ms: int | None) -> str | None:
    """`YYYY-MM-DDTHH:MM:SS.sssZ`, the only timestamp form the v1 API emits."""
    if ms is None:
        return None
    t = time.gmtime(ms // 1000)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms % 1000:03d}Z"
    )


def parse_iso(text: str) -> int:
    """Parses a filter value: a full ISO timestamp (with or without milliseconds or offset) or a
    bare date, as clients send both. Raises ValueError on anything else."""
    text = text.strip()
    if not text:
        raise ValueError("empty date")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))
