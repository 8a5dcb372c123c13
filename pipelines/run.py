"""Builds the pipeline for a destination, holds its sync lock, runs the source (in a forked
child or in process), loads, then builds the derived models.

The CLI and the tests share this module so a sync from the command line and a sync in a test
go through exactly the same code.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common import logger
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from pipelines import deadline, dlt_config, interrupts, lock_takeover, stages
from pipelines.checks import duckdb_memory_limit
from pipelines.column_types import widen_integer_columns
from pipelines.data_guard import extract_and_normalize, flag_deleted
from pipelines.exit_codes import SyncAlreadyRunning
from pipelines.models import runner as models_runner
from pipelines.progress import attach_request_stats
from pipelines.variants import VariantColumn, pipeline_variants, warn_new_variants
from sources.learning360 import learning360
from sources.learning360.company import RESOURCE_NAME as COMPANY_RESOURCE
from sources.learning360.stats import RequestStats

__all__ = ["SyncAlreadyRunning", "make_pipeline", "run_models", "run_sync", "sync_lock"]

from sources.learning360.tables import V1_TABLES

PIPELINE_NAME = "learning360"
# not "learning360": DuckDB names the catalog after the file (learning360.duckdb) and a
# schema of the same name makes every unqualified reference ambiguous
DATASET_NAME = "learning360_data"
# DuckDB's default insert_values loader is ~4x slower and ~15x hungrier than parquet
# (docs/destinations.md). BigQuery refuses JSON columns from parquet, so it gets jsonl;
# postgres' parquet path needs an extra ADBC driver for no measured gain, so it keeps its default.
LOADER_FILE_FORMATS = {"duckdb": "parquet", "bigquery": "jsonl", "postgres": "insert_values"}
# DuckDB has one writer: dlt's 20 parallel load jobs only queue on it, each holding its file's
# data in memory (a large full sync: 538 MB peak with 20 jobs, 306 MB with one, as fast)
LOAD_WORKERS = {"duckdb": 1}
# One DuckDB thread, no insertion-order bookkeeping and a memory limit (DuckDB spills to disk
# beyond it) while loading and building models. DuckDB's default is 80 % of RAM, which it
# uses as a cache: a large full sync took 970 MB without these, 300-350 MB with them; the
# models are a few seconds slower. Dashboards open their own connections.
DUCKDB_SETTINGS = {"threads": 1, "preserve_insertion_order": False}
DEFAULT_DUCKDB_MEMORY_LIMIT = "256MB"


def duckdb_settings() -> dict[str, Any]:
    """DUCKDB_SETTINGS plus ``memory_limit`` from ``learning360.duckdb_memory_limit``
    (``LEARNING360__DUCKDB_MEMORY_LIMIT``; raise it if a load or model says Out of Memory)."""
    limit = duckdb_memory_limit() or DEFAULT_DUCKDB_MEMORY_LIMIT
    return {**DUCKDB_SETTINGS, "memory_limit": str(limit)}


# One sync (or models rebuild) of a pipeline at a time: an exclusive flock on this file in the
# pipeline's working dir, taken before extract and held through the models. Two syncs of one
# pipeline would otherwise share dlt's working dir (extracted/normalized packages, local
# state) and race on the same tables. The lock dies with its process (kill -9 included), so a
# crashed run never leaves a stale lock behind.
LOCK_FILE_NAME = "sync.lock"


def lock_path(pipeline: dlt.Pipeline) -> Path:
    return Path(pipeline.working_dir) / LOCK_FILE_NAME


_held = threading.local()  # lock paths this thread holds: nested sync_lock calls are no-ops


def held_lock_fds() -> tuple[int, ...]:
    """File descriptors of the locks this thread holds (a forked stage closes its copies)."""
    return tuple(getattr(_held, "fds", {}).values())


@contextmanager
def sync_lock(pipeline: dlt.Pipeline) -> Iterator[Path]:
    """Holds the pipeline's lock, or raises :class:`SyncAlreadyRunning` at once (no waiting:
    a scheduler retries on its next tick; waiting would pile runs up behind a stuck one).
    Re-entrant within one thread (the CLI holds it around run_sync and the summary); another
    thread or process is refused, unless it is dead or past its deadline (taken over with a
    WARNING, ``lock_takeover.py``). Held at most ``learning360.sync_deadline`` seconds
    (``deadline.py``)."""
    path = lock_path(pipeline)
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if str(path) in held:
        yield path
        return
    seconds = deadline.sync_deadline_seconds()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: held by another open file (process, or this one)
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        taken = lock_takeover.take_over(path, fd, holder)
    else:
        taken = fd
    if taken is None:
        os.close(fd)
        raise SyncAlreadyRunning(
            f"another sync of pipeline {pipeline.pipeline_name} is running (lock file {path}"
            + (f", held by {holder}" if holder else "")
            + "); try again when it has finished"
        ) from None
    if taken != fd:  # a fresh lock file replaced one held for a dead process
        os.close(fd)
        fd = taken
    held.add(str(path))
    fds: dict[str, int] = _held.__dict__.setdefault("fds", {})
    fds[str(path)] = fd
    try:
        with deadline.enforced(seconds) as until:
            os.ftruncate(fd, 0)
            record = lock_takeover.record(os.getpid(), datetime.now(UTC), until)
            os.pwrite(fd, record.encode(), 0)
            yield path
    finally:
        held.discard(str(path))
        fds.pop(str(path), None)
        os.close(fd)  # releases the lock; the file stays (unlinking it would race)


@dataclass
class SyncResult:
    """What one sync did, for the summary line and for tests."""

    load_info: LoadInfo | None
    rows_per_table: dict[str, int]
    requests: dict[str, Any]
    seconds: float
    models: dict[str, int] = field(default_factory=dict)
    # seconds per step (extract, normalize, load; models apart)
    step_seconds: dict[str, float] = field(default_factory=dict)
    # the pipeline object that loaded (a fresh one when extract ran in a child process)
    pipeline: dlt.Pipeline | None = None


def make_pipeline(
    *,
    destination: Any = "duckdb",
    pipeline_name: str = PIPELINE_NAME,
    dataset_name: str | None = DATASET_NAME,
    pipelines_dir: str | None = None,
    duckdb_path: str | None = None,
    progress: Any = None,
) -> dlt.Pipeline:
    """One place that decides the destination object, so every command opens the same warehouse.

    ``destination`` is a name (credentials from dlt config) or a ready dlt destination object.
    ``dataset_name=None`` and ``duckdb_path=None`` follow dlt's configuration keys
    (``pipelines/dlt_config.py``).
    """
    dataset_name = dlt_config.dataset_name(dataset_name, pipeline_name, DATASET_NAME)
    dest: Any = destination
    if destination == "duckdb":
        path = dlt_config.duckdb_path(duckdb_path, pipeline_name)
        dest = dlt.destinations.duckdb(DuckDbCredentials(path, global_config=duckdb_settings()))
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
    return _data_tables(trace.last_normalize_info.row_counts)


def _data_tables(row_counts: dict[str, int]) -> dict[str, int]:
    return {t: n for t, n in sorted(row_counts.items()) if not t.startswith("_dlt")}


def run_sync(
    pipeline: dlt.Pipeline,
    *,
    resources: list[str] | None = None,
    full_refresh: bool = False,
    build_models: bool = True,
    source_kwargs: dict[str, Any] | None = None,
    isolate: bool = False,
    allow_shrink: bool = False,
) -> SyncResult:
    """Extract, normalize and load the selected resources, then rebuild the derived models,
    all under the pipeline's sync lock (:func:`sync_lock`).

    ``isolate`` runs extract and normalize in a forked child process (``pipelines.stages``)
    so their memory is gone before DuckDB loads; the CLI does this by default.
    ``allow_shrink`` accepts a replace table that lost most of its rows (data_guard.py)."""

    def prepare(stats: RequestStats) -> Any:
        source = _source_for(pipeline, resources, source_kwargs, stats)
        if pipeline.config.restore_from_destination and not pipeline.dev_mode:
            # what pipeline.run does first: an ephemeral runner gets state and cursors back
            pipeline.sync_destination()
        return source

    def extract(stats: RequestStats, source: Any) -> dict[str, Any]:
        done = _extract_guarded(pipeline, source, stats, full_refresh, allow_shrink)
        return {**done, "requests": stats.as_dict()}

    def extract_in_child() -> dict[str, Any]:
        stats = RequestStats()
        return extract(stats, prepare(stats))

    with sync_lock(pipeline):
        started = time.monotonic()
        if isolate and stages.available():
            variants_before = _widen(pipeline)
            done = stages.run_in_child(extract_in_child, close_fds=held_lock_fds())
            # a fresh pipeline object loads: this one's cached schemas and state predate the
            # child's work (dlt would write its stale live schema back over the child's)
            loader = dlt.pipeline(
                pipeline_name=pipeline.pipeline_name,
                pipelines_dir=pipeline.pipelines_dir,
                destination=pipeline.destination,
                dataset_name=pipeline.dataset_name,
                progress=pipeline.collector,
            )
        else:
            stats = RequestStats()
            source = prepare(stats)
            variants_before, loader = _widen(pipeline), pipeline
            # dlt alone may forget a signal that lands late in a step, so each step is wrapped
            with interrupts.graceful(pipeline):
                done = extract(stats, source)
        return _load_and_build(loader, done, variants_before, build_models, started)


def _source_for(
    pipeline: dlt.Pipeline,
    resources: list[str] | None,
    source_kwargs: dict[str, Any] | None,
    stats: Any,
) -> Any:
    attach_request_stats(pipeline, stats)  # live progress shows the API requests too
    source = learning360(stats=stats, **(source_kwargs or {}))
    if resources:
        # the tables; internal feeds are unselected, the company check always runs, and a
        # table's re-reads of quarantined records follow it (sources/learning360/quarantine.py)
        tables = sorted(set(source.resources.selected) - {COMPANY_RESOURCE})
        tables = [t for t in tables if not t.endswith("_retries")]
        unknown = sorted(set(resources) - set(tables))
        if unknown:
            raise ValueError(
                f"unknown resource(s) {', '.join(unknown)}; choose from {', '.join(tables)}"
            )
        retries = [f"{r}_retries" for r in resources if f"{r}_retries" in source.resources]
        source = source.with_resources(COMPANY_RESOURCE, *resources, *retries)
    if _destination_name(pipeline) == "bigquery":
        apply_bigquery_hints(source)
    return source


def _destination_name(pipeline: dlt.Pipeline) -> str:
    return str(pipeline.destination.destination_type).split(".")[-1]


def _file_format(pipeline: dlt.Pipeline) -> Any:
    return LOADER_FILE_FORMATS.get(_destination_name(pipeline))


def _widen(pipeline: dlt.Pipeline) -> list[VariantColumn]:
    """Widens integer columns hinted double (column_types.py); returns the variant columns
    that existed before, so the sync warns only of the ones it creates."""
    variants_before = pipeline_variants(pipeline)
    widen_integer_columns(pipeline)
    return variants_before


def _load_and_build(
    pipeline: dlt.Pipeline,
    done: dict[str, Any],
    variants_before: list[VariantColumn],
    build: bool,
    started: float,
) -> SyncResult:
    """Loads what extract and normalize left, flags deletions, then builds the models."""
    t0 = time.monotonic()
    workers = LOAD_WORKERS.get(_destination_name(pipeline))
    with interrupts.graceful(pipeline):  # dlt alone may forget a signal late in its load
        load_info = pipeline.load(**({"workers": workers} if workers else {}))
    load_info.raise_on_failed_jobs()
    warn_new_variants(variants_before, pipeline)
    flag_deleted(pipeline, done.get("gone") or {})
    steps = {**done["steps"], "load": time.monotonic() - t0}
    return SyncResult(
        load_info=load_info,
        rows_per_table=done["rows"],
        requests=done["requests"],
        seconds=time.monotonic() - started,
        models=models_runner.build_models(pipeline) if build else {},
        step_seconds=steps,
        pipeline=pipeline,
    )


def _extract_guarded(
    pipeline: dlt.Pipeline, source: Any, stats: Any, full_refresh: bool, allow_shrink: bool
) -> dict[str, Any]:
    """Pending packages first, then extract, the quarantine rows, the shrink guard and
    normalize (data_guard.py): the same in the forked child and in process."""
    finish_pending_packages(pipeline)
    return extract_and_normalize(
        pipeline,
        source,
        stats,
        loader_file_format=_file_format(pipeline),
        refresh="drop_sources" if full_refresh else None,
        allow_shrink=allow_shrink,
    )


def finish_pending_packages(pipeline: dlt.Pipeline) -> None:
    """Loads what an interrupted sync left behind (extracted or normalized packages) first.

    ``pipeline.run(source)`` with pending packages loads them and *returns without extracting*
    (dlt: "the data you passed to the run function will not be extracted"), so the sync after
    a crash would report success while bringing nothing new. Finishing them here makes that
    sync complete: the leftovers, then today's data. A package that fails again fails this sync
    (its line says it stays pending)."""
    if not pipeline.has_pending_data:
        return
    logger.warning(
        f"pipeline {pipeline.pipeline_name}: loading the packages an interrupted sync left "
        "pending, then syncing"
    )
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()  # the file format was fixed when the package was extracted
    if pipeline.list_normalized_load_packages():
        pipeline.load().raise_on_failed_jobs()


def apply_bigquery_hints(source: Any) -> None:
    """Partitioning and clustering from the table registry, through dlt's bigquery adapter:
    BigQuery bills by bytes scanned, so the attempts are partitioned by day of last activity
    (dashboards filter on it) and the big link tables clustered by their join keys."""
    from dlt.destinations.adapters import bigquery_adapter

    for spec in V1_TABLES.values():
        if (spec.partition or spec.cluster) and spec.name in source.selected_resources:
            hints: dict[str, Any] = {"cluster": list(spec.cluster)} if spec.cluster else {}
            if spec.partition:
                hints["partition"] = spec.partition
            bigquery_adapter(source.resources[spec.name], **hints)


def run_models(pipeline: dlt.Pipeline, only: list[str] | None = None) -> dict[str, int]:
    """Rebuild the derived tables from completed loads (under the sync lock); rows per model."""
    with sync_lock(pipeline):
        return models_runner.build_models(pipeline, only=only)


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
