"""The API's timestamps (``YYYY-MM-DDTHH:MM:SS.sssZ``, UTC), read and written alike everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO string (``Z`` or offset) or a datetime as a datetime; None for anything else."""
    try:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _cursor_in_utc(value: Any) -> datetime:
    """A cursor value (ISO string or datetime; naive means UTC) in UTC; raises on anything else."""
    if (parsed := parse_timestamp(value)) is None:
        raise TypeError(f"not a timestamp: {value!r}")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def format_api_timestamp(value: Any) -> str:
    """A cursor value (ISO string or datetime) as v1 expects: ``YYYY-MM-DDTHH:MM:SS.sssZ``."""
    value = _cursor_in_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_filter_date(value: Any) -> str:
    """A cursor as a v2 date filter, milliseconds floored like the API (``gte`` stays inclusive)."""
    return _cursor_in_utc(value).strftime("%Y-%m-%dT%H:%M:%S.000Z")
