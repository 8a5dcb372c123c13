"""Build the derived tables (one ``*.sql`` file per model) in the pipeline's own dataset.

Each model is a single SELECT written once in DuckDB's dialect against *bare* table names.
:func:`render_sql` turns it into the SQL of the destination with sqlglot, and is the one place
where two rules are applied to every model:

* **completed loads only**: every raw table reference becomes a subquery that keeps rows whose
  ``_dlt_load_id`` is in ``_dlt_loads`` with ``status = 0``, so a crashed or partial load never
  leaks into a model;
* **qualification**: raw tables and upstream models are read from the pipeline's dataset (and
  project, on BigQuery).

Models name other models like tables; the dependency order follows from that. A name in
``fragments/`` is a shared SELECT inlined as a subquery (no table), and ``COUNTS(a.x, ...)``
stands for zero-filled BIGINT counts (:func:`_expand_counts`). A raw table or column that does
not exist yet (a new tenant without paths, a column never seen non-null) reads as empty or NULL
instead of failing the whole build.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
from dlt.common import logger as dlt_logger
from sqlglot import exp

from pipelines.models.completeness import mark_building, mark_built
from sources.learning360.tables import V1_TABLES

if TYPE_CHECKING:
    import dlt
    from dlt.destinations.sql_client import SqlClientBase

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent
FRAGMENTS_DIR = MODELS_DIR / "fragments"  # shared SELECTs a model reads like a table, inlined
READ_DIALECT = "duckdb"
LOADS_TABLE = "_dlt_loads"
LOAD_ID_COLUMN = "_dlt_load_id"

# dlt destination type (last part of ``dlt.destinations.<type>``) -> sqlglot dialect
DIALECTS: dict[str, str] = {
    "duckdb": "duckdb",
    "motherduck": "duckdb",
    "postgres": "postgres",
    "bigquery": "bigquery",
}

# The raw columns the models read. Their types come from the table registry and are used when
# a column (or the whole table) is absent from the warehouse: dlt creates a column only once it
# has seen a non-null value, so a young tenant may lack e.g. ``user_courses.score``.
READ_TYPES = {
    "text": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "double": "DOUBLE",
    "bigint": "BIGINT",
}  # in the read (DuckDB) dialect
MODEL_READS: dict[str, tuple[str, ...]] = {
    "courses": ("_id", "name", "status", "author", "author_id"),
    "users": ("_id", "deleted", "mail"),
    "groups": ("_id", "name", "parent"),
    "user_groups": ("user_id", "group_id"),
    "group_catalog": ("group_id", "item_type", "item_id"),
    "group_programs": ("group_id", "program_session_id"),
    "program_sessions": ("_id", "name"),
    "paths": ("_id", "name"),
    "path_sessions": ("_id", "path_id"),
    "user_path_sessions": ("user_id", "path_id", "path_session_id", "completed_at"),
    "user_courses": (
        "_id",
        "user_id",
        "course_id",
        "progress",
        "score",
        "global_time",
        "first_activity",
        "last_activity",
        "completed_at",
        "deleted",
    ),
    "user_programs": (
        "user_id",
        "program_session_id",
        "progress",
        "score",
        "total_time_spent_in_seconds",
        "completed_at",
    ),
}
RAW_COLUMNS: dict[str, dict[str, str]] = {
    table: {column: READ_TYPES[V1_TABLES[table].columns[column]] for column in columns}
    for table, columns in MODEL_READS.items()
}

# Columns present in the warehouse, per raw table; None = assume the full contract exists.
StorageColumns = Mapping[str, Iterable[str]]


@dataclass(frozen=True)
class Model:
    """One model file: its name, header comment, SELECT text and upstream models."""

    name: str
    header: str
    sql: str
    depends_on: frozenset[str]


@cache
def _load_models() -> dict[str, Model]:
    paths = sorted(MODELS_DIR.glob("*.sql"))
    names = {p.stem for p in paths}
    models: dict[str, Model] = {}
    for path in paths:
        # model names become table names on every engine: plain snake_case only
        if not re.fullmatch(r"[a-z][a-z0-9_]*", path.stem) or path.stem.endswith("__new"):
            raise ValueError(f"model file name {path.name!r} is not a plain snake_case name")
        text = path.read_text(encoding="utf-8")
        header_lines = []
        for line in text.splitlines():
            if not line.startswith("--"):
                break
            header_lines.append(line[2:].strip())
        tree = _parse_model(path.stem, text)
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        tables = {t.name for t in tree.find_all(exp.Table)} - ctes
        models[path.stem] = Model(
            name=path.stem,
            header="\n".join(header_lines),
            sql=text,
            depends_on=frozenset(tables & names - {path.stem}),
        )
    return models


def _parse(name: str, sql: str) -> exp.Query:
    statements = sqlglot.parse(sql, read=READ_DIALECT)
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ValueError(f"model {name}: the file must hold exactly one SELECT statement")
    return statements[0]


@cache
def _fragments() -> dict[str, exp.Query]:
    return {
        path.stem: _parse(path.stem, path.read_text("utf-8"))
        for path in FRAGMENTS_DIR.glob("*.sql")
    }


def _parse_model(name: str, sql: str) -> exp.Query:
    """The model's SELECT with its fragments inlined as subqueries and ``COUNTS`` expanded."""
    tree = _parse(name, sql)
    for table in list(tree.find_all(exp.Table)):
        if fragment := _fragments().get(table.name):
            table.replace(fragment.copy().subquery(table.alias_or_name))
    return _expand_counts(tree)


def _expand_counts(tree: exp.Query) -> exp.Query:
    """``COUNTS(a.x, b.y)`` in a select list -> ``CAST(COALESCE(a.x, 0) AS BIGINT) AS x, ...``:
    counts read through a LEFT JOIN are 0, not NULL, where the join found no row."""
    for select in tree.find_all(exp.Select):
        items: list[exp.Expression] = []
        for item in select.expressions:
            if isinstance(item, exp.Anonymous) and item.name.upper() == "COUNTS":
                zero = exp.Literal.number(0)
                items.extend(
                    exp.alias_(exp.cast(exp.func("COALESCE", col, zero), "BIGINT"), col.name)
                    for col in item.expressions
                )
            else:
                items.append(item)
        select.set("expressions", items)
    return tree


def model_order(only: Iterable[str] | None = None) -> list[str]:
    """Model names in build order; with ``only``, those models and everything they read."""
    models = _load_models()
    wanted = set(models) if only is None else set(only)
    unknown = wanted - set(models)
    if unknown:
        raise ValueError(f"unknown model(s): {', '.join(sorted(unknown))}; known: {sorted(models)}")
    closure: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in closure:
            closure.add(name)
            stack.extend(models[name].depends_on)
    graph = {name: models[name].depends_on for name in sorted(closure)}
    return list(TopologicalSorter(graph).static_order())


def list_models() -> dict[str, str]:
    """Model name -> header comment (grain, keys, meaning), in build order."""
    models = _load_models()
    return {name: models[name].header for name in model_order()}


def _raw_subquery(
    table: str,
    alias: str,
    dataset: str,
    catalog: str | None,
    present: set[str] | None,
) -> exp.Subquery:
    """``(SELECT * FROM <raw> WHERE <from a completed load>) AS alias``, padding absent columns."""
    contract = RAW_COLUMNS[table]

    def typed_null(column: str) -> exp.Alias:
        return exp.alias_(exp.cast(exp.null(), contract[column]), column)

    if present is not None and not present:  # the table does not exist (yet)
        empty = exp.select(exp.alias_(exp.Literal.number(1), "one")).subquery("no_rows")
        query = exp.select(*(typed_null(c) for c in contract)).from_(empty).where("1 = 0")
        return query.subquery(alias)
    missing = [] if present is None else [c for c in contract if c not in present]
    completed_loads = (
        exp.select("load_id")
        .from_(exp.table_(LOADS_TABLE, db=dataset, catalog=catalog))
        .where("status = 0")
    )
    query = (
        exp.select("*", *(typed_null(c) for c in missing))
        .from_(exp.table_(table, db=dataset, catalog=catalog))
        .where(exp.column(LOAD_ID_COLUMN).isin(query=completed_loads))
    )
    return query.subquery(alias)


def render_sql(
    model: str,
    dialect: str,
    dataset: str,
    *,
    catalog: str | None = None,
    storage_columns: StorageColumns | None = None,
    pretty: bool = True,
) -> str:
    """The model's SELECT in ``dialect`` (sqlglot name), reading from ``catalog.dataset``.

    ``storage_columns`` (raw table -> columns present) lets the runner pad what the warehouse
    lacks; without it every raw column of the contract is assumed to exist.
    """
    models = _load_models()
    if model not in models:
        raise ValueError(f"unknown model {model!r}; known: {sorted(models)}")
    tree = _parse_model(model, models[model].sql)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        name = table.name
        if table.db or table.catalog:
            raise ValueError(f"model {model}: write bare table names, not {table.sql()}")
        if name in ctes:
            continue
        if name in RAW_COLUMNS:
            present = None
            if storage_columns is not None:
                present = set(storage_columns.get(name, ()))
            alias = table.alias_or_name
            table.replace(_raw_subquery(name, alias, dataset, catalog, present))
        elif name in models:
            table.set("db", exp.to_identifier(dataset))
            if catalog:
                table.set("catalog", exp.to_identifier(catalog))
        else:
            raise ValueError(f"model {model}: unknown table {name!r} (not raw, not a model)")
    return tree.sql(dialect=dialect, identify=True, pretty=pretty, comments=False)


def dialect_of(pipeline: dlt.Pipeline) -> str:
    """The sqlglot dialect for the pipeline's destination."""
    destination_type = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    try:
        return DIALECTS[destination_type]
    except KeyError:
        raise ValueError(
            f"models support destinations {sorted(DIALECTS)}, not {destination_type!r}"
        ) from None


def build_models(pipeline: dlt.Pipeline, only: list[str] | None = None) -> dict[str, int]:
    """(Re)build the models (``only`` and their upstream models) and return their row counts.

    A model is computed in full before it replaces the old table (see :func:`_replace_table`),
    so a dashboard never finds it missing or half built; a model that fails leaves its previous
    version in place and stops the build. Whether the build finished is recorded in the
    destination (``completeness.py``; ``learning360 status`` reports an unfinished one).
    """
    dialect = dialect_of(pipeline)
    order = model_order(only)
    storage_columns = _storage_columns(pipeline)
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        path = client.make_qualified_table_name_path(None, quote=False)
        catalog, dataset = (path[0], path[1]) if len(path) == 2 else (None, path[-1])
        mark_building(client, dialect, order)
        dlt_logger.info(f"models: building {len(order)} derived tables: {', '.join(order)}")
        for name in order:
            select = render_sql(
                name, dialect, dataset, catalog=catalog, storage_columns=storage_columns
            )
            _replace_table(client, dialect, name, select)
            with client.execute_query(
                f"SELECT COUNT(*) FROM {client.make_qualified_table_name(name)}"
            ) as cursor:
                counts[name] = int(cursor.fetchall()[0][0])
        mark_built(client, counts)
    return counts


def _storage_columns(pipeline: dlt.Pipeline) -> dict[str, set[str]] | None:
    """Raw table -> columns present in the warehouse; None when the engine cannot say.

    Raises when ``_dlt_loads`` is missing: with no completed load every model would be empty.
    """
    try:
        with pipeline.destination_client() as job_client:
            found = dict(job_client.get_storage_tables([*RAW_COLUMNS, LOADS_TABLE]))
    except Exception as exc:  # e.g. a BigQuery emulator without INFORMATION_SCHEMA answers
        logger.warning("models: cannot list warehouse columns (%s); assuming all exist", exc)
        return None
    if not found.get(LOADS_TABLE):
        raise RuntimeError(
            f"dataset {pipeline.dataset_name!r} has no {LOADS_TABLE} table: run a sync first"
        )
    return {table: set(found.get(table) or ()) for table in RAW_COLUMNS}


def _replace_table(client: SqlClientBase[Any], dialect: str, name: str, select: str) -> None:
    """Swap in the new contents of a model table.

    DuckDB and BigQuery: ``CREATE OR REPLACE TABLE ... AS``, atomic on both. PostgreSQL has no
    such statement: the rows go to ``<name>__new`` first; then, in one transaction, they replace
    the old rows (DELETE + INSERT, which keeps the views and grants dashboards put on the table,
    and readers keep seeing the old rows until commit), or, on the first build or when the
    columns changed, the new table is renamed over the old one.
    """
    target = client.make_qualified_table_name(name)
    if dialect != "postgres":
        client.execute_sql(f"CREATE OR REPLACE TABLE {target} AS\n{select}")
        return
    staged = client.make_qualified_table_name(f"{name}__new")
    client.execute_sql(f"DROP TABLE IF EXISTS {staged}")
    client.execute_sql(f"CREATE TABLE {staged} AS\n{select}")
    same_columns = _pg_columns(client, name) == _pg_columns(client, f"{name}__new")
    with client.begin_transaction():
        if same_columns:
            client.execute_sql(f"DELETE FROM {target}")
            client.execute_sql(f"INSERT INTO {target} SELECT * FROM {staged}")
            client.execute_sql(f"DROP TABLE {staged}")
        else:
            client.execute_sql(f"DROP TABLE IF EXISTS {target}")
            new_name = client.capabilities.escape_identifier(name)
            client.execute_sql(f"ALTER TABLE {staged} RENAME TO {new_name}")


def _pg_columns(client: SqlClientBase[Any], table: str) -> list[tuple[str, str]]:
    rows = client.execute_sql(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        client.dataset_name,
        table,
    )
    return [(str(r[0]), str(r[1])) for r in rows or []]
