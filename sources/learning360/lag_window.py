"""Drop rows the lag window re-reads unchanged.

The incremental cursors are sent ``modified_lag_seconds`` early so a change committed late
(with an older timestamp than the newest row already seen) is not missed. The price is that
every run re-reads the rows of that window. Merge keys make that harmless, but a run with no
change would still load rows (and call getCourse for them). This window remembers, in the
resource's dlt state, ``id -> cursor`` for the rows within ``lag`` of the newest cursor, and
drops a re-read row whose cursor did not move; a late row (new id or new cursor) passes.
The state stays small: only the rows of one lag window.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from typing import Any

import dlt
from dlt.common.time import ensure_pendulum_datetime

from .timestamps import format_api_timestamp, parse_timestamp

PRUNE_EVERY = 10_000  # remembered rows between two prunes


class LagWindow:
    def __init__(
        self,
        state: MutableMapping[str, Any],
        cursor: str,
        lag_seconds: float | None,
        key: str = "_id",
    ):
        self._seen: dict[str, str] = state.setdefault("lag_window", {})
        self._cursor, self._key = cursor, key
        self._lag = timedelta(seconds=lag_seconds or 0)
        self._newest: str | None = None
        self._horizon: str | None = None
        self._next_prune = PRUNE_EVERY

    def only_changed(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows that are new or whose cursor moved, remembered for the next run."""
        fresh = [row for row in rows if not self.is_unchanged(row)]
        for row in fresh:
            self.remember(row)
        return fresh

    def is_unchanged(self, row: Mapping[str, Any]) -> bool:
        row_id, value = row.get(self._key), row.get(self._cursor)
        return isinstance(row_id, str) and value is not None and self._seen.get(row_id) == value

    def remember(self, row: Mapping[str, Any]) -> None:
        row_id, value = row.get(self._key), row.get(self._cursor)
        if not (isinstance(row_id, str) and isinstance(value, str)):
            return
        # a row older than the newest seen so far minus the lag can never be in the final
        # window: skip it (a full sync sees 243k attempts; the window holds a few hundred)
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
        if not known:
            self._seen.clear()
            return
        horizon = max(known) - self._lag
        for row_id, moment in parsed.items():
            if moment is None or moment < horizon:
                del self._seen[row_id]


class ArrowCursor(dlt.sources.incremental[Any]):
    """``dlt.sources.incremental`` on a pyarrow table's snake_case column (``last_activity``).
    It first moves, once, a cursor kept by the previous version's ``MaxCursor`` (the API's
    string under the camelCase field: ``state["incremental"]["lastActivity"]``)."""

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
