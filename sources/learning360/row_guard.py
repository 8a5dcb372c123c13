"""The last check on every row before dlt sees it: a primary key present and unique (a NULL key
fails every load; ``replace`` would store a repeated key); bad rows are counted and quarantined."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common import logger
from dlt.extract.items_transform import ItemTransform
from dlt.extract.resource import DltResource

from .quarantine import REQUIRED_COLUMNS
from .stats import RequestStats

# arrow column types a declared dlt data type loads from without a cast that can fail
_ARROW_ACCEPTS = {
    "text": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "double": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "bigint": pa.types.is_integer,
    "bool": pa.types.is_boolean,
    "timestamp": pa.types.is_timestamp,
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
