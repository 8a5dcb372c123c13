"""The elements the source will not load as sent (rows refused by ``row_guard.py`` too), for
``_learning360_rejected``; open items' keys live in the source state so the next run re-requests
them, and a key that loads cleanly later is resolved (hard-deleted)."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dlt
from dlt.common import logger

from .cursors import parse_timestamp
from .errors import redact
from .routes import V1_ROUTES
from .tables import V1_TABLES

REJECTED_TABLE = "_learning360_rejected"
STATE_KEY = "quarantine"  # source state: {"open": {table: {key: {reason: first_seen}}}}
MAX_RAW_CHARS = 4_000
MAX_WARNINGS_PER_REASON = 20
REJECTED = "rejected"  # the element is not in the warehouse (or only its listing part)
WARNING = "warning"  # the row is loaded, one value ignored (e.g. a cursor that is not a date)

# the table each v1 route's elements feed, as the registry says (``path``: re-reads of paths)
ROUTE_TABLES = {
    template: key
    if key in V1_TABLES
    else next((t for t, s in V1_TABLES.items() if key in s.routes), f"{key}s")
    for key, template in V1_ROUTES.items()
}
# columns a row cannot do without although they are not its primary key
REQUIRED_COLUMNS = {"user_courses": ("user_id", "course_id")}


def table_of_route(route: str) -> str:
    return ROUTE_TABLES.get(route, route)


def key_text(key: Any) -> str | None:
    if key is None or key == "" or (isinstance(key, tuple) and not any(key)):
        return None
    if isinstance(key, tuple | list):
        return "|".join("" if k is None else str(k) for k in key)
    return str(key)


class Quarantine:
    """This run's refused elements (thread-safe) and earlier runs' open items (source state)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.found: dict[tuple[str, str, str], tuple[str, str]] = {}  # -> (raw, severity)
        self.counts: Counter[str] = Counter()  # "table: reason" -> elements this run
        self._open: dict[str, dict[str, dict[str, str]]] | None = None
        # open keys loaded cleanly this run, and keyless ones (a null) of a table that loaded
        # rows: ``_learning360_rejected`` deletes them (pipelines/data_guard.py)
        self.resolved: dict[str, set[str]] = {}

    def reject(
        self, table: str, reason: str, element: Any, key: Any = None, *, severity: str = REJECTED
    ) -> None:
        """The WARNING names table, key and reason, never a value (values may be personal)."""
        text = json.dumps(element, default=str, sort_keys=True, ensure_ascii=False)
        raw = redact(text)[:MAX_RAW_CHARS]
        record_key = key_text(key) or "#" + hashlib.sha1(raw.encode()).hexdigest()[:16]
        label = f"{table}: {reason}"
        with self._lock:
            new = (table, record_key, reason) not in self.found
            self.found[(table, record_key, reason)] = (raw, severity)
            if not new:
                return  # seen twice in one run (a listing and its details): counted once
            self.counts[label] += 1
            count = self.counts[label]
        if count <= MAX_WARNINGS_PER_REASON:
            what = "loaded with a warning" if severity == WARNING else "quarantined"
            logger.warning(
                f"360Learning: {what} a {table} record"
                + (f" {redact(record_key)}" if key_text(key) else "")
                + f": {reason} (see {REJECTED_TABLE})"
            )
        elif count == MAX_WARNINGS_PER_REASON + 1:
            logger.warning(f"360Learning: more {table} records: {reason}; only counted now")

    def _registry(self) -> dict[str, dict[str, dict[str, str]]]:
        if self._open is None:  # two threads may both read it: equal copies, read only
            try:
                found = dlt.current.source_state().get(STATE_KEY, {}).get("open")
            except Exception:  # no pipeline state here (a bare source in a test): none open
                return {}  # not cached: read again where the state is available
            self._open = copy.deepcopy(found) if isinstance(found, dict) else {}
        return self._open

    def open_keys(self, table: str) -> set[str]:
        """Keys of ``table`` refused earlier and not resolved: re-request them."""
        return {k for k in self._registry().get(table, {}) if not k.startswith("#")}

    def loaded(self, table: str, keys: Iterable[Any]) -> None:
        open_items = self._registry().get(table)
        if not open_items:
            return
        keys = list(keys)
        texts = {key_text(key) for key in keys} | {k for k in open_items if k.startswith("#")}
        # an answer refused under its parent's id (a catalog) is resolved by any of its rows
        texts |= {str(key[0]) for key in keys if isinstance(key, tuple) and len(key) > 1}
        with self._lock:
            self.resolved.setdefault(table, set()).update(texts & open_items.keys())

    def has_rows(self) -> bool:
        return bool(self.found or any(self.resolved.values()))

    def summary(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def clean_cursor(
    rows: Iterable[Any], table: str, cursor: str, quarantine: Quarantine
) -> Iterator[Any]:
    """A non-timestamp cursor is nulled: the row loads, the cursor never moves on it (a warning)."""
    for row in rows:
        value = row.get(cursor) if isinstance(row, Mapping) else None
        if value is not None and parse_timestamp(value) is None:
            reason = f"{cursor} is not a timestamp: loaded without it"
            quarantine.reject(table, reason, row, row.get("_id"), severity=WARNING)
            row = {**row, cursor: None}
        yield row
