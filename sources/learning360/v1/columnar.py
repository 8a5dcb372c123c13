"""Rows -> pyarrow tables for ``user_courses`` (dlt normalizes dicts at ~12k rows/s; a pyarrow
table loads as is), with the names and types dict rows would get (snake_case, contract types)
and unknown fields as inferred columns, so both paths give the same table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming

from ..cursors import parse_timestamp
from ..tables import TableSpec

_snake_case = SnakeCaseNaming().normalize_identifier

TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP,
}


class ArrowRows(list[Mapping[str, Any]]):
    """Dict rows (API keys) of one table; :meth:`flush` gives a ``pa.Table`` with dlt's column
    names (a key only some rows have is NULL elsewhere)."""

    def __init__(self, spec: TableSpec):
        super().__init__()
        self._types = {name: ARROW_TYPES[data_type] for name, data_type in spec.columns.items()}
        self._not_null = frozenset(spec.primary_key)  # NOT NULL when the batch has no null
        self._always = {spec.cursor_column}  # present even when no row has it (dlt's cursor)

    def flush(self) -> pa.Table | None:
        rows = list(self)
        self.clear()
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
        for name in self._always - {field.name for field in fields}:
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
