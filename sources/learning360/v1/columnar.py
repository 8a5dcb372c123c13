"""Rows -> pyarrow tables for the big flat tables (``user_courses``: ~12 attempts per learner).

dlt normalizes dict rows one by one in Python (~12k table rows/s on one core); a pyarrow table
goes through extract and normalize as a parquet file and loads as is. The columns keep the
names and types the dict path would give them (dlt's snake_case, the contract types of
``tables.V1_TABLES``), and unknown extra fields still become columns (type inferred), so both
paths produce the same table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming

from ..timestamps import parse_timestamp

_snake_case = SnakeCaseNaming().normalize_identifier

TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP,
}


class ArrowRows:
    """Accumulates dict rows (API keys); :meth:`flush` hands back a ``pa.Table`` with dlt's
    column names. Columns are built by pyarrow from the row dicts (C++), typed from the
    contract where declared; a key only some rows have gives NULL elsewhere."""

    def __init__(
        self, columns: Mapping[str, str], not_null: Iterable[str] = (), always: Iterable[str] = ()
    ):
        self._types = {name: ARROW_TYPES[data_type] for name, data_type in columns.items()}
        self._not_null = frozenset(not_null)  # declared NOT NULL (primary key) when no nulls
        self._always = tuple(always)  # present even when no row has it (dlt's cursor column)
        self._rows: list[Mapping[str, Any]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._rows.extend(rows)

    def flush(self) -> pa.Table | None:
        rows, self._rows = self._rows, []
        if not rows:
            return None
        keys: dict[str, None] = {}
        for row in rows:
            if len(row) != len(keys) or any(key not in keys for key in row):
                keys.update(dict.fromkeys(row))
        arrays, fields = [], []
        for key in keys:
            name = _snake_case(key)
            array = _array([row.get(key) for row in rows], self._types.get(name))
            nullable = name not in self._not_null or array.null_count > 0
            arrays.append(array)
            fields.append(pa.field(name, array.type, nullable=nullable))
        for name in set(self._always) - {field.name for field in fields}:
            arrays.append(pa.nulls(len(rows), self._types[name]))
            fields.append(pa.field(name, self._types[name]))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _array(values: list[Any], data_type: pa.DataType | None) -> pa.Array:
    if data_type == TIMESTAMP:
        try:
            return pc.cast(pa.array(values, pa.string()), TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([parse_timestamp(v) for v in values], TIMESTAMP)
    if data_type is not None:
        try:
            return pa.array(values, data_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass  # an unexpected type: infer it below (dlt puts it in a variant column)
    if any(isinstance(v, dict | list) for v in values):
        return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
