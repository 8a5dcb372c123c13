"""Cursors: the API's timestamps (``YYYY-MM-DDTHH:MM:SS.sssZ``, UTC), dlt's incremental, and the
lag window. Cursors are sent ``modified_lag_seconds`` early, so every run re-reads that window:
:class:`LagWindow` remembers ``id -> cursor`` of those rows and drops the unchanged ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import dlt
from dlt.common.time import ensure_pendulum_datetime

Row = dict[str, Any]
PRUNE_EVERY = 10_000  # remembered rows between two prunes


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO string (``Z`` or offset) or a datetime as a datetime; None for anything else."""
    try:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def format_api_timestamp(value: Any) -> str:
    """A cursor value (ISO string or datetime; naive means UTC) as v1 expects; raises on others."""
    if (parsed := parse_timestamp(value)) is None:
        raise TypeError(f"not a timestamp: {value!r}")
    value = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_filter_date(value: Any) -> str:
    """A cursor as a v2 date filter, milliseconds floored like the API (``gte`` stays inclusive)."""
    return format_api_timestamp(value)[:20] + "000Z"


def incremental(cursor: str, lag: float | None) -> dlt.sources.incremental[Any]:
    """dlt's cursor on ``cursor``, sent ``lag`` seconds early; rows without a value pass."""
    return dlt.sources.incremental(cursor, lag=lag, on_cursor_value_missing="include")


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items; keeps listings and fan-out rows bounded in memory."""
    iterator = iter(items)
    return iter(lambda: list(islice(iterator, size)), [])


class LagWindow:
    """The rows within the lag of the newest cursor, kept in the resource state."""

    def __init__(self, state: MutableMapping[str, Any], cursor: str, lag_seconds: float | None):
        self._seen: dict[str, str] = state.setdefault("lag_window", {})
        self._cursor = cursor
        self._lag = timedelta(seconds=lag_seconds or 0)
        self._newest: str | None = None  # the newest cursor seen, and it minus the lag
        self._horizon: str | None = None
        self._next_prune = PRUNE_EVERY

    def is_unchanged(self, row: Mapping[str, Any]) -> bool:
        row_id, value = row.get("_id"), row.get(self._cursor)
        return isinstance(row_id, str) and value is not None and self._seen.get(row_id) == value

    def remember(self, row: Mapping[str, Any]) -> None:
        row_id, value = row.get("_id"), row.get(self._cursor)
        if not (isinstance(row_id, str) and isinstance(value, str)):
            return
        # older than the horizon: never in the final window (a full sync sees 243k attempts)
        if self._horizon and len(value) == len(self._horizon) == 24 and value < self._horizon:
            return
        self._seen[row_id] = value
        if self._newest is None or (len(value) == len(self._newest) == 24 and value > self._newest):
            self._newest = value
            if (moment := parse_timestamp(value)) is not None:
                self._horizon = format_api_timestamp(moment - self._lag)
        if len(self._seen) >= self._next_prune:
            self.prune()
            self._next_prune = max(PRUNE_EVERY, 2 * len(self._seen))

    def prune(self) -> None:
        """Forget rows older than the newest cursor minus the lag (they will not be re-read)."""
        parsed = {row_id: parse_timestamp(value) for row_id, value in self._seen.items()}
        known = [moment for moment in parsed.values() if moment is not None]
        horizon = max(known) - self._lag if known else None  # None: every moment is None
        for row_id, moment in parsed.items():
            if moment is None or moment < horizon:
                del self._seen[row_id]


def only_changed(rows: Iterable[Any], window: LagWindow) -> list[Row]:
    """The rows the lag window has not seen unchanged (non-objects dropped), remembered."""
    fresh = [row for row in rows if isinstance(row, Mapping) and not window.is_unchanged(row)]
    for row in fresh:
        window.remember(row)
    return fresh


class ArrowCursor(dlt.sources.incremental[Any]):
    """``dlt.sources.incremental`` on a pyarrow table's snake_case column that first moves, once,
    the previous version's ``MaxCursor`` (``state["incremental"]["lastActivity"]``)."""

    def get_state(self) -> Any:
        state = super().get_state()  # dlt's slot, created with the initial value (None)
        if self.end_value is None and state.get("last_value") is None:
            slots = dlt.current.resource_state(self.resource_name)["incremental"]
            head, *rest = self.cursor_path.split("_")
            old = slots.pop(head + "".join(p.title() for p in rest), None) if rest else None
            last = parse_timestamp(old.get("last_value")) if isinstance(old, dict) else None
            if last is not None:
                moment = ensure_pendulum_datetime(last)
                state.update(last_value=moment, start_value=moment)
        return state
