"""The API's timestamps (``YYYY-MM-DDTHH:MM:SS.sssZ``, UTC): one parser and one formatter for
cursors, lag windows and the arrow path, so they all read and write them alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO string (``Z`` or offset) or a datetime as a datetime; None for anything else."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _cursor_in_utc(value: Any) -> datetime:
    """A cursor value (ISO string or datetime; naive means UTC) in UTC; raises on anything else."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_api_timestamp(value: Any) -> str:
    """Format a cursor value (ISO string or datetime) as v1 expects: ``YYYY-MM-DDTHH:MM:SS.sssZ``."""
    value = _cursor_in_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_filter_date(value: Any) -> str:
    """A cursor value (ISO string or datetime) as a v2 date filter: ``YYYY-MM-DDThh:mm:ss.000Z``
    (the API sets a filter's milliseconds to 0, so we floor them ourselves: ``gte`` stays
    inclusive of the cursor)."""
    return _cursor_in_utc(value).strftime("%Y-%m-%dT%H:%M:%S.000Z")
