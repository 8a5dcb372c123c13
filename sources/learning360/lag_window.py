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
from datetime import datetime, timedelta
from typing import Any


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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

    def is_unchanged(self, row: Mapping[str, Any]) -> bool:
        row_id, value = row.get(self._key), row.get(self._cursor)
        return isinstance(row_id, str) and value is not None and self._seen.get(row_id) == value

    def remember(self, row: Mapping[str, Any]) -> None:
        row_id, value = row.get(self._key), row.get(self._cursor)
        if isinstance(row_id, str) and isinstance(value, str):
            self._seen[row_id] = value

    def prune(self) -> None:
        """Forget rows older than the newest cursor minus the lag (they will not be re-read)."""
        parsed = {row_id: _parse(value) for row_id, value in self._seen.items()}
        known = [moment for moment in parsed.values() if moment is not None]
        if not known:
            self._seen.clear()
            return
        horizon = max(known) - self._lag
        for row_id, moment in parsed.items():
            if moment is None or moment < horizon:
                del self._seen[row_id]
