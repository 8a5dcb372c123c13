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


def format_api_timestamp(value: Any) -> str:
    """Format a cursor value (ISO string or datetime) as v1 expects: ``YYYY-MM-DDTHH:MM:SS.sssZ``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
