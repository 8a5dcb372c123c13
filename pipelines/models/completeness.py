"""Whether the last build of the derived models finished, recorded in the destination.

A sync killed (or interrupted) while building the models leaves some rebuilt, some stale and,
on a first sync, some missing; the raw tables are complete, so nothing else would tell. The
runner writes one row per model to ``_learning360_models`` (model, status, started_at,
built_at, row_count): ``building`` before the first model of a build, ``built`` with the row
count once every model of that build is in place. ``learning360 status`` reports the models
still ``building`` (exit 1); the next sync or ``learning360 models`` rebuilds them and marks
them built. In the destination, not the working dir, so an ephemeral runner sees it too.

Two statements per build (not per model): cheap on BigQuery, where each DML statement costs
about a second. A model of an unfinished build is reported even if its own table was
replaced before the kill: its upstream or downstream models may not have been.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dlt
    from dlt.destinations.sql_client import SqlClientBase

RECORD_TABLE = "_learning360_models"
BUILDING, BUILT = "building", "built"

_TYPES = {  # text, timestamp, integer per sqlglot dialect
    "duckdb": ("VARCHAR", "TIMESTAMPTZ", "BIGINT"),
    "postgres": ("TEXT", "TIMESTAMPTZ", "BIGINT"),
    "bigquery": ("STRING", "TIMESTAMP", "INT64"),
}


def _names(models: Iterable[str]) -> str:
    # model names are plain snake_case (checked when the model files are read): safe literals
    return ", ".join(f"'{name}'" for name in models)


def mark_building(client: SqlClientBase[Any], dialect: str, models: list[str]) -> None:
    """Before the first model of a build: these models are not complete until mark_built."""
    text, timestamp, integer = _TYPES.get(dialect, _TYPES["duckdb"])
    table = client.make_qualified_table_name(RECORD_TABLE)
    client.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {table} (model {text}, status {text}, "
        f"started_at {timestamp}, built_at {timestamp}, row_count {integer})"
    )
    client.execute_sql(f"DELETE FROM {table} WHERE model IN ({_names(models)})")
    rows = ", ".join(f"('{name}', '{BUILDING}', CURRENT_TIMESTAMP)" for name in models)
    client.execute_sql(f"INSERT INTO {table} (model, status, started_at) VALUES {rows}")


def mark_built(client: SqlClientBase[Any], counts: Mapping[str, int]) -> None:
    """After the last model of a build: all of them are in place."""
    table = client.make_qualified_table_name(RECORD_TABLE)
    cases = " ".join(f"WHEN '{name}' THEN {int(rows)}" for name, rows in counts.items())
    client.execute_sql(
        f"UPDATE {table} SET status = '{BUILT}', built_at = CURRENT_TIMESTAMP, "
        f"row_count = CASE model {cases} END WHERE model IN ({_names(counts)})"
    )


def incomplete_models(pipeline: dlt.Pipeline) -> list[str]:
    """Models whose last build did not finish, in name order; [] when every build finished
    or models were never built (``sync --no-models``)."""
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(RECORD_TABLE)
        try:
            rows = client.execute_sql(f"SELECT model FROM {table} WHERE status = '{BUILDING}'")
        except Exception:  # no record table: models never built here
            return []
    return sorted(str(row[0]) for row in rows or [])
