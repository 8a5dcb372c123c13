"""Warehouses created before the hints followed the API spec: widen their integer columns.

``global_time``, ``time_spent`` and ``validity_period`` were hinted bigint before (the spec
says `number`). dlt never alters an existing column: with the new double hint it updates its
own schema, but the warehouse column stays BIGINT and DuckDB/PostgreSQL *round* ``12.5`` to
``13`` on insert, silently. So before each sync, every column hinted double that a warehouse
still stores as an integer type is altered to double once (a lossless widening), and the
values an older sync put in its ``<column>__v_double`` variant column are copied back into
it (the issue-16 symptom: ``global_time__v_double`` held 12.5, ``global_time`` was NULL, the
models counted 0). BigQuery is
not altered here: it refuses a fraction in an INT64 column (the load fails loudly, not
silently); ``sync --full-refresh`` recreates the tables there.
"""

from __future__ import annotations

import contextlib
from typing import Any

from dlt.common import logger

from sources.learning360.tables import V1_TABLES, V2_TABLES

INTEGER_TYPES = {"bigint", "integer", "int", "int8", "int4", "int64", "smallint", "hugeint"}
DOUBLE_SQL = {"duckdb": "DOUBLE", "postgres": "DOUBLE PRECISION"}
VARIANT_MARK = "__v_"  # dlt names a variant column <column>__v_<type> (pipelines/variants.py)


def double_columns() -> dict[str, set[str]]:
    """Table -> the columns hinted double, over v1's and v2's registry tables."""
    out: dict[str, set[str]] = {}
    for spec in (*V1_TABLES.values(), *V2_TABLES.values()):
        for column, data_type in spec.columns.items():
            if data_type == "double":
                out.setdefault(spec.name, set()).add(column)
    return out


def widen_integer_columns(pipeline: Any) -> list[str]:
    """Alters the warehouse's integer columns that are hinted double; returns ``table.column``
    of each one altered (none on a new warehouse, or one already widened)."""
    destination = str(pipeline.destination.destination_type).split(".")[-1]
    if destination not in DOUBLE_SQL or not pipeline.default_schema_name:
        return []
    wanted = double_columns()
    altered: list[str] = []
    with pipeline.sql_client() as client:
        # the staging dataset too: a merge loads into its tables first, and a BIGINT there
        # rounds the fraction before it reaches the widened table
        for staging in (False, True):
            with client.with_staging_dataset() if staging else contextlib.nullcontext():
                altered += _widen_dataset(client, destination, wanted, report=not staging)
    for name in altered:
        logger.info(
            f"pipeline {pipeline.pipeline_name}: column {name} widened from an integer type to "
            "double (the API's type is `number`: fractions would have been rounded)"
        )
    return altered


def _widen_dataset(
    client: Any, destination: str, wanted: dict[str, set[str]], report: bool
) -> list[str]:
    try:
        rows = client.execute_sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s",
            client.dataset_name,
        )
    except Exception:  # noqa: BLE001 - no dataset yet: nothing to widen
        return []
    altered = []
    stored = {(table, column): str(data_type).lower() for table, column, data_type in rows or ()}
    for (table, column), data_type in sorted(stored.items()):
        if column not in wanted.get(table, ()):
            continue
        name = client.make_qualified_table_name(table)
        quoted = client.escape_column_name(column)
        if data_type in INTEGER_TYPES:
            client.execute_sql(
                f"ALTER TABLE {name} ALTER COLUMN {quoted} TYPE {DOUBLE_SQL[destination]}"
            )
            if report:
                altered.append(f"{table}.{column}")
        variant = f"{column}{VARIANT_MARK}double"
        if (table, variant) in stored:
            # the fractions an integer column could not hold went there: copy them back, so
            # the column (and every model reading it) has them (idempotent)
            kept = client.escape_column_name(variant)
            client.execute_sql(
                f"UPDATE {name} SET {quoted} = {kept} WHERE {quoted} IS NULL AND {kept} IS NOT NULL"
            )
    return altered
