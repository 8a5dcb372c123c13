"""What one run records: request counters, and the elements it will not load as sent (rows too,
by the row guard) for ``_learning360_rejected``; open items' keys live in the source state so
the next run re-requests them, and a key that loads cleanly later is resolved (hard-deleted)."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common import logger
from dlt.extract.items_transform import ItemTransform
from dlt.extract.resource import DltResource

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
# arrow column types a declared dlt data type loads from without a cast that can fail
_ARROW_ACCEPTS = {
    "text": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "double": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "bigint": pa.types.is_integer,
    "bool": pa.types.is_boolean,
    "timestamp": pa.types.is_timestamp,
}


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


@dataclass
class RequestStats:
    """Counters of one source run, shared by every thread (read them after ``pipeline.run``)."""

    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429 answers
    retries: int = 0
    reauthentications: int = 0
    bytes_received: int = 0
    skipped_missing: int = 0  # single items gone mid-sync (404), skipped with a warning
    dropped: Counter[str] = field(default_factory=Counter)  # unstorable records: what -> count
    calls_planned: int = 0  # per-item calls known to be due (the progress ETA)
    calls_done: int = 0  # and those answered
    quarantine: Quarantine = field(default_factory=Quarantine, repr=False, compare=False)
    # ids of merge tables whose listing was read whole: table -> ids (deletions, data_guard)
    complete_reads: dict[str, list[str]] = field(default_factory=dict, repr=False)
    change_feed: dict[str, object] | None = None  # what the change feed did, when it is on
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    def record_request(self, route: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] += 1

    def record_dropped(self, what: str) -> None:
        with self._lock:
            self.dropped[what] += 1

    def as_dict(self) -> dict[str, object]:
        """Named like the emulator's ``metrics()`` where they overlap."""
        with self._lock:
            return {
                "total": self.requests,
                "requests": dict(self.by_route),
                "429": self.rate_limited,
                "retries": self.retries,
                "reauthentications": self.reauthentications,
                "bytes": self.bytes_received,
                "skipped_missing": self.skipped_missing,
                "dropped": dict(self.dropped),
                "rejected": self.quarantine.summary(),
                **({"change_feed": self.change_feed} if self.change_feed is not None else {}),
            }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class RowGuard(ItemTransform[Any, dict[str, Any]]):
    """A table's last pipe step: rows without a key (it fails every load) or repeating one (the
    first wins; per batch for ``merge``, per run for ``replace``) are counted and quarantined. An
    unclean pyarrow batch is checked as dicts: a wrong type lands in a variant column."""

    def __init__(
        self,
        table: str,
        primary_key: Iterable[str],
        write_disposition: str,
        stats: RequestStats,
        types: Mapping[str, str] | None = None,
        required: Iterable[str] = (),
    ):
        super().__init__(lambda item: item)
        self.table, self.types = table, dict(types or {})  # declared column -> dlt data type
        self.primary_key = tuple(primary_key)
        # the key plus the references a row is useless without (an attempt's course_id)
        self.required = self.primary_key + tuple(c for c in required if c not in self.primary_key)
        self.whole_run = write_disposition != "merge"
        self.quarantine, self.stats = stats.quarantine, stats
        # keys seen this run, as 64-bit hashes: a tuple of strings per row would be ~200 bytes
        # (50 MB at 250k rows) of small objects living through the whole extract
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, item: Any, meta: Any = None) -> Any:
        if isinstance(item, pa.Table):
            problem = self._arrow_problem(item)
            if problem is None:  # the fast path: clean columnar batch
                keys = [item.column(c).to_pylist() for c in self.primary_key]
                self.quarantine.loaded(self.table, zip(*keys, strict=True))
                return item
            logger.warning(
                f"360Learning: {self.table} batch of {item.num_rows} rows has {problem}; "
                "loading it row by row"
            )
            item = item.to_pylist()
        rows = item if isinstance(item, list) else [item]
        kept: list[Any] = []
        seen = self._seen if self.whole_run else set()
        with self._lock:
            for row in rows:
                if not isinstance(row, dict):
                    kept.append(row)
                    continue
                key = tuple(row.get(column) for column in self.primary_key)
                hashed = hash(tuple(str(value) for value in key))
                if missing := [c for c in self.required if _missing(row.get(c))]:
                    why = f"without {', '.join(missing)}"
                elif hashed in seen:
                    why = f"with a duplicate {', '.join(self.primary_key)}"
                else:
                    seen.add(hashed)
                    kept.append(row)
                    continue
                self.stats.record_dropped(f"{self.table} {why}")  # logged without values
                self.quarantine.reject(self.table, f"row {why}", row, key)
        keys = (tuple(r.get(c) for c in self.primary_key) for r in kept if isinstance(r, dict))
        self.quarantine.loaded(self.table, keys)  # consumed only while it has open items
        if not isinstance(item, list):
            return kept[0] if kept else None
        return kept if kept or not item else None

    def _arrow_problem(self, table: pa.Table) -> str | None:
        for column in self.required:
            if column not in table.column_names:
                return f"no {column} column"
            values = table.column(column)
            if values.null_count or (
                pa.types.is_string(values.type) and pc.any(pc.equal(values, "")).as_py()
            ):
                return f"rows without {column}"
        for column, data_type in self.types.items():
            if column in table.column_names:
                arrow_type = table.column(column).type
                accepts = _ARROW_ACCEPTS.get(data_type)
                if accepts and not pa.types.is_null(arrow_type) and not accepts(arrow_type):
                    return f"{column} as {arrow_type}, not {data_type}"
        return None


def guard_rows(resources: Iterable[DltResource], stats: RequestStats) -> None:
    for resource in resources:
        if primary_key := (resource._hints or {}).get("primary_key"):
            types = {name: column["data_type"] for name, column in (resource.columns or {}).items()}
            table = resource.table_name
            required = REQUIRED_COLUMNS.get(table, ())
            guard = RowGuard(table, primary_key, resource.write_disposition, stats, types, required)
            resource.add_step(guard)
