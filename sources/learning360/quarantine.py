"""Nothing refused without a trace: the ``_learning360_rejected`` table.

Every element the source will not load as the API sent it lands here, one row per
``(table_name, record_key, reason)``: a listing element that is not an object or has no
``_id``, a single-item answer of the wrong JSON type (``200 null``) after its retries, a row
without (or repeating) its primary key or without a required reference (an attempt with
``course: null``), a malformed catalog, and (``severity = 'warning'``, the row itself is
loaded) a cursor value that is not a timestamp. ``raw_json`` is the element as sent, secrets
redacted (``redaction.redact``), cut at ``MAX_RAW_CHARS``.

Why a registry in the source state: ``first_seen`` must survive a merge (dlt merges replace a
whole row), and the source must know which items to re-request on the next run (a getUser
answered ``null`` is re-read next run, not after the 30-day refresh window). The state keeps
only the open items' keys and first-seen times, never their values. An open item whose key
loads cleanly on a later run (and is not refused again) is resolved: its row is deleted from
the table (dlt ``hard_delete`` hint), so the table holds what is still wrong.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dlt.common import logger

from .redaction import redact
from .timestamps import parse_timestamp

REJECTED_TABLE = "_learning360_rejected"
STATE_KEY = "quarantine"  # source state: {"open": {table: {key: {reason: first_seen}}}}
MAX_RAW_CHARS = 4_000
MAX_WARNINGS_PER_REASON = 20
REJECTED = "rejected"  # the element is not in the warehouse (or only its listing part)
WARNING = "warning"  # the row is loaded, one value ignored (e.g. a cursor that is not a date)

# v1 routes (routes.V1_ROUTES keys or templates) -> the table their elements feed
ROUTE_TABLES = {
    "courses": "courses",
    "courses/{course_id}": "courses",
    "courses/stats": "user_courses",
    "users": "users",
    "users/{user_id}": "users",
    "users/{user_id}/courses": "user_courses",
    "users/{user_id}/programs": "user_programs",
    "groups": "groups",
    "groups/{group_id}": "groups",
    "groups/{group_id}/catalog": "group_catalog",
    "groups/{group_id}/programs": "group_programs",
    "programs/sessions": "program_sessions",
    "programs/sessions/{session_id}/stats": "user_programs",
    "paths": "paths",
    "paths/{path_id}": "paths",
    "paths/sessions": "path_sessions",
    "paths/sessions/{session_id}/stats/users": "user_path_sessions",
}

# columns a row cannot do without although they are not its primary key
REQUIRED_COLUMNS = {"user_courses": ("user_id", "course_id")}

COLUMNS = {
    "table_name": {"data_type": "text", "nullable": False},
    "record_key": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "severity": {"data_type": "text"},
    "raw_json": {"data_type": "text"},
    "load_id": {"data_type": "text"},
    "first_seen": {"data_type": "timestamp"},
    "last_seen": {"data_type": "timestamp"},
    "resolved": {"data_type": "bool", "hard_delete": True},
}


def table_of_route(route: str) -> str:
    return ROUTE_TABLES.get(route, route)


def raw_json(element: Any) -> str:
    """The element as JSON, secrets masked, bounded."""
    try:
        text = json.dumps(element, default=str, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(element)
    return redact(text)[:MAX_RAW_CHARS]


def key_text(key: Any) -> str | None:
    if key is None or key == "" or (isinstance(key, tuple) and not any(key)):
        return None
    if isinstance(key, tuple | list):
        return "|".join("" if k is None else str(k) for k in key)
    return str(key)


@dataclass
class Rejection:
    table: str
    key: str
    reason: str
    raw: str
    severity: str


class Quarantine:
    """This run's refused elements (thread-safe: fan-outs run in threads) and the open items
    of earlier runs, read lazily from the source state inside extract."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[str, str, str], Rejection] = {}
        self.counts: Counter[str] = Counter()  # "table: reason" -> elements this run
        self._open: dict[str, dict[str, dict[str, str]]] | None = None
        self._loaded: dict[str, set[str]] = {}  # open keys that loaded cleanly this run
        self._tables_loaded: set[str] = set()  # watched tables that loaded rows this run

    # ---- recording ----------------------------------------------------------------------

    def reject(
        self,
        table: str,
        reason: str,
        element: Any,
        key: Any = None,
        *,
        severity: str = REJECTED,
    ) -> None:
        """Records one refused element; a WARNING names the table, key and reason (never a
        value: they may be personal data)."""
        raw = raw_json(element)
        record_key = key_text(key) or "#" + hashlib.sha1(raw.encode()).hexdigest()[:16]
        label = f"{table}: {reason}"
        with self._lock:
            new = (table, record_key, reason) not in self._found
            self._found[(table, record_key, reason)] = Rejection(
                table, record_key, reason, raw, severity
            )
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

    # ---- open items of earlier runs -----------------------------------------------------

    def _registry(self) -> dict[str, dict[str, dict[str, str]]]:
        if self._open is None:
            try:
                import dlt

                found = dlt.current.source_state().get(STATE_KEY, {}).get("open")
            except Exception:  # no pipeline state here (a bare source in a test): none open
                return {}  # not cached: read again where the state is available
            with self._lock:
                if self._open is None:
                    self._open = json.loads(json.dumps(found)) if isinstance(found, dict) else {}
        return self._open

    def open_keys(self, table: str) -> set[str]:
        """Keys of ``table`` refused by an earlier run and not resolved: re-request them."""
        return {k for k in self._registry().get(table, {}) if not k.startswith("#")}

    def watching(self, table: str) -> bool:
        return bool(self._registry().get(table))

    def loaded(self, table: str, keys: Iterable[Any]) -> None:
        """Rows of ``table`` with these keys passed every check this run."""
        open_items = self._registry().get(table)
        if not open_items:
            return
        hits: set[str] = set()
        for key in keys:
            text = key_text(key)
            if text in open_items:
                hits.add(text)
            # a whole answer refused under its parent's id (a group's catalog) is resolved by
            # any row of that parent
            if isinstance(key, tuple) and len(key) > 1 and str(key[0]) in open_items:
                hits.add(str(key[0]))
        with self._lock:
            self._tables_loaded.add(table)
            if hits:
                self._loaded.setdefault(table, set()).update(hits)

    # ---- the table ----------------------------------------------------------------------

    def has_rows(self) -> bool:
        """Something to write: refusals this run, or open items that loaded (resolved)."""
        return bool(self._found or any(self._loaded.values()) or self._keyless_resolved())

    def _keyless_resolved(self) -> bool:
        registry = self._open or {}
        return any(
            key.startswith("#") for table in self._tables_loaded for key in registry.get(table, {})
        )

    def rows(
        self, registry: dict[str, Any], load_id: str | None, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Rows for the table; updates ``registry`` (the source state's open items)."""
        moment = (now or datetime.now(UTC)).isoformat()
        rows: list[dict[str, Any]] = []
        refused_now: set[tuple[str, str]] = set()
        for (table, key, reason), item in sorted(self._found.items()):
            refused_now.add((table, key))
            first = registry.setdefault(table, {}).setdefault(key, {}).setdefault(reason, moment)
            rows.append(
                {
                    "table_name": table,
                    "record_key": key,
                    "reason": reason,
                    "severity": item.severity,
                    "raw_json": item.raw,
                    "load_id": load_id,
                    "first_seen": first,
                    "last_seen": moment,
                    "resolved": False,
                }
            )
        # an element without a key (a null in a listing) is resolved by a later run that
        # loaded rows of its table without meeting it again
        loaded = {table: set(keys) for table, keys in self._loaded.items()}
        for table in self._tables_loaded:
            keyless = {k for k in registry.get(table, {}) if k.startswith("#")}
            loaded.setdefault(table, set()).update(keyless)
        for table, keys in sorted(loaded.items()):
            for key in sorted(keys):
                if (table, key) in refused_now:
                    continue  # refused again for another reason: still open
                for reason in sorted(registry.get(table, {}).pop(key, {})):
                    rows.append(
                        {"table_name": table, "record_key": key, "reason": reason, "resolved": True}
                    )
            if not registry.get(table):
                registry.pop(table, None)
        return rows

    def summary(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def rejected_resource(quarantine: Quarantine, load_id: str | None) -> Any:
    """The dlt resource that merges this run's quarantine rows (a second, small extract)."""
    import dlt

    @dlt.resource(
        name=REJECTED_TABLE,
        write_disposition="merge",
        primary_key=("table_name", "record_key", "reason"),
        columns=COLUMNS,
    )
    def rejected() -> Iterator[list[dict[str, Any]]]:
        registry = dlt.current.source_state().setdefault(STATE_KEY, {}).setdefault("open", {})
        yield quarantine.rows(registry, load_id)

    return rejected


def is_timestamp(value: Any) -> bool:
    return value is None or parse_timestamp(value) is not None


def clean_cursor(
    rows: Iterable[Any], table: str, cursor: str, quarantine: Quarantine | None, key: str = "_id"
) -> Iterator[Any]:
    """Rows whose ``cursor`` value is not a timestamp lose that value (the row loads, the
    cursor never advances on it) and are recorded as a ``warning`` with the raw value."""
    for row in rows:
        if isinstance(row, Mapping) and not is_timestamp(row.get(cursor)):
            if quarantine is not None:
                quarantine.reject(
                    table,
                    f"{cursor} is not a timestamp: loaded without it",
                    row,
                    row.get(key),
                    severity=WARNING,
                )
            row = dict(row)
            row[cursor] = None
        yield row
