"""Cursors are sent ``modified_lag_seconds`` early, so every run re-reads that window: a
:class:`LagWindow` remembers (in the resource state) ``id -> cursor`` of the rows within the
lag of the newest cursor, so re-read unchanged rows are dropped (no load, no getCourse call)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from typing import Any

import dlt
from dlt.common.time import ensure_pendulum_datetime

from .timestamps import format_api_timestamp, parse_timestamp

PRUNE_EVERY = 10_000  # remembered rows between two prunes


class LagWindow:
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
        horizon = self._horizon
        if horizon is not None and len(value) == len(horizon) == 24 and value < horizon:
            return
        self._seen[row_id] = value
        if self._newest is None or (len(value) == len(self._newest) == 24 and value > self._newest):
            self._newest = value
            moment = parse_timestamp(value)
            if moment is not None:
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


class ArrowCursor(dlt.sources.incremental[Any]):
    """``dlt.sources.incremental`` on a pyarrow table's snake_case column that first moves, once,
    the previous version's ``MaxCursor`` (``state["incremental"]["lastActivity"]``)."""

    def get_state(self) -> Any:
        if self.resource_name and self.end_value is None:
            slots = dlt.current.resource_state(self.resource_name).setdefault("incremental", {})
            head, *rest = self.cursor_path.split("_")
            old = slots.pop(head + "".join(p.title() for p in rest), None) if rest else None
            last = parse_timestamp(old.get("last_value")) if isinstance(old, dict) else None
            if last is not None and not slots.get(self.cursor_path):
                moment = ensure_pendulum_datetime(last)
                slots[self.cursor_path] = {
                    "initial_value": None,
                    "last_value": moment,
                    "unique_hashes": [],
                    "start_value": moment,
                }
        return super().get_state()
