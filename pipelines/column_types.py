"""Warehouses created before the hints followed the API spec: widen their integer columns.

``global_time``, ``time_spent`` and ``validity_period`` were hinted bigint before (the spec
says `number`). dlt never alters an existing column: with the new double hint it updates its
own schema, but the warehouse column stays BIGINT and DuckDB/PostgreSQL *round* ``12.5`` to
``13`` on insert, silently. So before each sync, every column hinted double that a warehouse
still stores as an integer type is altered to double once (a lossless widening). BigQuery is
not altered here: it refuses a fraction in an INT64 column (the load fails loudly, not
silently); ``sync --full-refresh`` recreates the tables there.
"""

from __future__ import annotations

from typing import Any

from dlt.common import logger

INTEGER_TYPES = {"bigint", "integer", "int", "int8", "int4", "int64", "smallint", "hugeint"}
DOUBLE_SQL = {"duckdb": "DOUBLE", "postgres": "DOUBLE PRECISION"}


def double_columns() -> dict[str, set[str]]:
    """Table -> the columns hinted double, over v1's and v2's resource tables."""
    from sources.learning360.settings import RESOURCES
    from sources.learning360.v2.settings import V2_RESOURCES

    out: dict[str, set[str]] = {}
    for spec in (*RESOURCES.values(), *V2_RESOURCES.values()):
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
        try:
            rows = client.execute_sql(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s",
                client.dataset_name,
            )
        except Exception:  # noqa: BLE001 - no dataset yet: nothing to widen
            return []
        for table, column, data_type in rows or []:
            if column in wanted.get(table, ()) and str(data_type).lower() in INTEGER_TYPES:
                client.execute_sql(
                    f"ALTER TABLE {client.make_qualified_table_name(table)} ALTER COLUMN "
                    f"{client.escape_column_name(column)} TYPE {DOUBLE_SQL[destination]}"
                )
                altered.append(f"{table}.{column}")
    for name in altered:
        logger.info(
            f"pipeline {pipeline.pipeline_name}: column {name} widened from an integer type to "
            "double (the API's type is `number`: fractions would have been rounded)"
        )
    return altered
