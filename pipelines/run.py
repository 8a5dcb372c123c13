"""Builds the pipeline for a destination, runs the source, then the derived models.

The CLI and the tests share this module so a sync from the command line and a sync in a test
go through exactly the same code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

PIPELINE_NAME = "learning360"
# not "learning360": DuckDB names the catalog after the file (learning360.duckdb) and a
# schema of the same name makes every unqualified reference ambiguous
DATASET_NAME = "learning360_data"
# DuckDB's default insert_values loader is ~4x slower and ~15x hungrier than parquet
# (docs/destinations.md). BigQuery refuses JSON columns from parquet, so it gets jsonl;
# postgres' parquet path needs an extra ADBC driver for no measured gain, so it keeps its default.
LOADER_FILE_FORMATS = {"duckdb": "parquet", "bigquery": "jsonl", "postgres": "insert_values"}


@dataclass
class SyncResult:
    """What one sync did, for the summary line and for tests."""

    load_info: LoadInfo | None
    rows_per_table: dict[str, int]
    requests: dict[str, Any]
    seconds: float
    models: dict[str, int] = field(default_factory=dict)


def make_pipeline(
    *,
    destination: Any = "duckdb",
    pipeline_name: str = PIPELINE_NAME,
    dataset_name: str = DATASET_NAME,
    pipelines_dir: str | None = None,
    duckdb_path: str | None = None,
    progress: Any = None,
) -> dlt.Pipeline:
    """One place that decides the destination object, so every command opens the same warehouse.

    ``destination`` is a name (credentials from dlt config) or a ready dlt destination object.
    """
    dest: Any = destination
    if destination == "duckdb":
        dest = dlt.destinations.duckdb(duckdb_path or f"{pipeline_name}.duckdb")
    kwargs: dict[str, Any] = {}
    if progress is not None:
        kwargs["progress"] = progress
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        pipelines_dir=pipelines_dir,
        destination=dest,
        dataset_name=dataset_name,
        **kwargs,
    )


def rows_loaded(load_info: LoadInfo | None, pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table written by the last normalize step (what this sync brought in)."""
    trace = pipeline.last_trace
    if trace is None or trace.last_normalize_info is None:
        return {}
    counts = trace.last_normalize_info.row_counts
    return {t: n for t, n in sorted(counts.items()) if not t.startswith("_dlt")}


def run_sync(
    pipeline: dlt.Pipeline,
    *,
    resources: list[str] | None = None,
    full_refresh: bool = False,
    build_models: bool = True,
    source_kwargs: dict[str, Any] | None = None,
) -> SyncResult:
    """Extract, normalize and load the selected resources, then rebuild the derived models."""
    from sources.learning360 import learning360
    from sources.learning360.settings import RESOURCES
    from sources.learning360.stats import RequestStats

    stats = RequestStats()
    source = learning360(stats=stats, **(source_kwargs or {}))
    if resources:
        tables = sorted(RESOURCES)
        unknown = sorted(set(resources) - set(tables))
        if unknown:
            raise ValueError(
                f"unknown resource(s) {', '.join(unknown)}; choose from {', '.join(tables)}"
            )
        source = source.with_resources(*resources)
    if pipeline.destination.destination_type.endswith("bigquery"):
        apply_bigquery_hints(source)
    started = time.monotonic()
    load_info = pipeline.run(
        source,
        loader_file_format=LOADER_FILE_FORMATS.get(
            pipeline.destination.destination_type.split(".")[-1]
        ),
        refresh="drop_sources" if full_refresh else None,
    )
    load_info.raise_on_failed_jobs()
    models: dict[str, int] = {}
    if build_models:
        models = run_models(pipeline)
    return SyncResult(
        load_info=load_info,
        rows_per_table=rows_loaded(load_info, pipeline),
        requests=stats.as_dict(),
        seconds=time.monotonic() - started,
        models=models,
    )


# BigQuery bills by bytes scanned: partition the attempts by day of last activity (dashboards
# filter on recent activity) and cluster the big link tables by the keys they are joined on.
BIGQUERY_HINTS: dict[str, dict[str, Any]] = {
    "user_courses": {"partition": "last_activity", "cluster": ["course_id", "user_id"]},
    "user_groups": {"cluster": ["group_id", "user_id"]},
    "group_catalog": {"cluster": ["group_id", "item_type"]},
    "user_programs": {"cluster": ["program_session_id", "user_id"]},
}


def apply_bigquery_hints(source: Any) -> None:
    """Partitioning and clustering hints through dlt's bigquery adapter."""
    from dlt.destinations.adapters import bigquery_adapter

    for name, hints in BIGQUERY_HINTS.items():
        if name in source.selected_resources:
            bigquery_adapter(source.resources[name], **hints)


def run_models(pipeline: dlt.Pipeline, only: list[str] | None = None) -> dict[str, int]:
    """Rebuild the derived tables from completed loads; returns rows per model."""
    from pipelines.models.runner import build_models

    return build_models(pipeline, only=only)


def table_row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Current rows per table in the warehouse (not just this sync's), for the summary."""
    schema = pipeline.default_schema
    tables = [t for t in schema.data_table_names() if not t.startswith("_dlt")]
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for table in sorted(tables):
            name = client.make_qualified_table_name(table)
            try:
                rows = client.execute_sql(f"SELECT COUNT(*) FROM {name}")
            except Exception:  # a table in the schema but not yet created (no rows ever)
                continue
            counts[table] = int(rows[0][0]) if rows else 0
    return counts
