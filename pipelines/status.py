"""`learning360 status`: where the pipeline stands, read-only.

What it shows, and where each part comes from:

* the last loads and their outcome: the destination's ``_dlt_loads`` (``load_id``, ``status``
  0 = completed, ``inserted_at``, ``schema_version_hash``), the same table the derived models
  trust;
* rows per table now (``SELECT COUNT(*)``), and at the previous sync when a snapshot exists
  (``pipelines/summary.py``);
* the incremental cursors: dlt's source state, ``state["sources"]["learning360"]["resources"]
  [<table>]["incremental"][<cursor>]["last_value"]`` (courses, paths, user_courses);
* schema changes made by the last load: the schema stored in ``_dlt_version`` under the last
  load's hash compared with the one of the load before it;
* load packages still in the working dir: extracted or normalized but not loaded (the next
  sync finishes them), and failed jobs in them or in the last completed packages.

It uses dlt's own conventions (same pipelines dir, pipeline name and dataset as
``dlt pipeline --pipelines-dir DIR learning360 info``) and never changes anything: on a machine
without the pipeline's working dir (an ephemeral runner) it restores the state from the
destination into a throwaway directory (``pipeline.sync_destination()``), not into the real one.

Exit codes: 0 all loads completed and nothing pending; 1 something needs attention (last load
not completed, pending packages, failed jobs, derived models of an unfinished build: see
``pipelines/models/completeness.py``); 2 never synced (or no warehouse at that path).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlt.common.pipeline import get_dlt_pipelines_dir

from pipelines import dlt_config
from pipelines.exit_codes import EXIT_ATTENTION, EXIT_NEVER_SYNCED, EXIT_OK
from pipelines.models.completeness import incomplete_models
from pipelines.run import DATASET_NAME, PIPELINE_NAME, make_pipeline, table_row_counts
from pipelines.summary import (
    LoadRow,
    columns_of_schema,
    diff_columns,
    load_history,
    read_snapshot,
    stored_schema_columns,
)
from pipelines.variants import describe as describe_variants
from pipelines.variants import pipeline_variants
from pipelines.webhooks import change_feed_line
from sources.learning360.cursors import parse_timestamp

SOURCE_NAME = "learning360"
RECENT_COMPLETED_PACKAGES = 1  # the last sync's package is checked for failed jobs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loads", type=int, default=5, help="how many of the last loads to list (default 5)"
    )


@dataclass
class Cursor:
    resource: str
    cursor: str
    last_value: Any

    @property
    def valid(self) -> bool:
        """False for a text value that is not a timestamp (an earlier version could store
        ``"not-a-date"``; the next sync resets it, pipelines/data_guard.py)."""
        return not isinstance(self.last_value, str) or parse_timestamp(self.last_value) is not None


@dataclass
class PendingPackage:
    load_id: str
    state: str  # extracted | normalized
    tables: list[str]


@dataclass
class FailedJob:
    load_id: str
    table: str
    message: str


@dataclass
class Status:
    pipeline_name: str
    pipelines_dir: str
    where: str
    state_from: str  # "working dir" | "destination" | "none"
    loads: list[LoadRow]
    rows: dict[str, int]
    rows_before: dict[str, int] | None
    snapshot_at: str | None
    last_run: str | None  # "at ..., 2.1 s, 172 requests (429: 0, retries: 0)" from the snapshot
    cursors: list[Cursor]
    schema_version: int | None
    schema_lines: list[str]
    pending: list[PendingPackage] = field(default_factory=list)
    failed: list[FailedJob] = field(default_factory=list)
    # derived models whose last build did not finish (pipelines/models/completeness.py)
    incomplete_models: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)  # pipelines.variants.describe lines
    change_feed: str | None = None  # the last sync's use of the webhook change feed

    @property
    def never_synced(self) -> bool:
        return not self.loads and self.state_from == "none" and not self.pending

    @property
    def exit_code(self) -> int:
        if self.never_synced:
            return EXIT_NEVER_SYNCED
        if self.pending or self.failed or (self.loads and self.loads[0].status != 0):
            return EXIT_ATTENTION
        if self.incomplete_models or self.variants:  # variants: values the models do not see
            return EXIT_ATTENTION
        if any(not cursor.valid for cursor in self.cursors):
            return EXIT_ATTENTION
        return EXIT_OK


def cursors_of(state: dict[str, Any], source: str = SOURCE_NAME) -> list[Cursor]:
    """The cursors kept for ``source`` in the pipeline state: dlt's own
    (``resources.<r>.incremental.<cursor>.last_value``) and the source's hand-kept ones
    (``resources.<r>.cursor`` or ``<name>_cursor``: a scalar)."""
    resources = state.get("sources", {}).get(source, {}).get("resources", {}) or {}
    found = []
    for resource in sorted(resources):
        resource_state = resources[resource] or {}
        incremental = resource_state.get("incremental") or {}
        for cursor, value in sorted(incremental.items()):
            last = value.get("last_value") if isinstance(value, dict) else None
            found.append(Cursor(resource, cursor, last))
        for key, value in sorted(resource_state.items()):
            if (key == "cursor" or key.endswith("_cursor")) and not isinstance(value, dict | list):
                found.append(Cursor(resource, key, value))
    return found


def _schema_lines(pipeline: Any, loads: list[LoadRow]) -> tuple[int | None, list[str]]:
    """dlt's schema version and what the last load changed in it."""
    if not pipeline.default_schema_name:
        return None, []
    schema = pipeline.default_schema
    lines = [f"version {schema.version} (hash {schema.version_hash})"]
    completed = [
        load
        for load in loads
        if load.status == 0 and load.schema_name == schema.name and load.schema_version_hash
    ]
    if (
        loads
        and loads[0].schema_version_hash
        and loads[0].schema_version_hash != schema.version_hash
    ):
        lines.append(
            "the working dir's schema is newer than the last load's: a sync changed it but has "
            "not loaded yet"
        )
    if not completed:
        return schema.version, lines
    last = completed[0]
    earlier = next(
        (load for load in completed[1:] if load.schema_version_hash != last.schema_version_hash),
        None,
    )
    if earlier is None:
        lines.append("unchanged over the listed loads" if len(completed) > 1 else "first load")
        return schema.version, lines
    after = stored_schema_columns(pipeline, last.schema_version_hash)
    before = stored_schema_columns(pipeline, earlier.schema_version_hash)
    if after is None or before is None:
        lines.append(f"changed since load {earlier.load_id} (stored schema not found)")
        return schema.version, lines
    diff = diff_columns(before, after)
    changes = "; ".join(diff.describe()) if diff else "no new tables or columns"
    lines.append(f"changed by load {last.load_id} (since load {earlier.load_id}): {changes}")
    return schema.version, lines


def _packages(pipeline: Any) -> tuple[list[PendingPackage], list[FailedJob]]:
    pending: list[PendingPackage] = []
    failed: list[FailedJob] = []
    for state, load_ids in (
        ("extracted", pipeline.list_extracted_load_packages()),
        ("normalized", pipeline.list_normalized_load_packages()),
    ):
        for load_id in load_ids:
            tables: list[str] = []
            try:
                info = pipeline.get_load_package_info(load_id)
                tables = sorted(
                    {
                        job.job_file_info.table_name
                        for jobs in info.jobs.values()
                        for job in jobs
                        if not job.job_file_info.table_name.startswith("_dlt")
                    }
                )
            except Exception:
                pass
            pending.append(PendingPackage(load_id, state, tables))
    recent = sorted(pipeline.list_completed_load_packages())[-RECENT_COMPLETED_PACKAGES:]
    for load_id in [p.load_id for p in pending if p.state == "normalized"] + recent:
        try:
            jobs = pipeline.list_failed_jobs_in_package(load_id)
        except Exception:
            continue
        for job in jobs:
            message = " ".join(str(job.failed_message or "").split())[:300]
            failed.append(FailedJob(load_id, job.job_file_info.table_name, message))
    return pending, failed


def _last_run(snapshot: dict[str, Any] | None) -> str | None:
    if not snapshot:
        return None
    run = snapshot.get("run") or {}
    text = f"at {snapshot.get('synced_at')}"
    if run:
        text += (
            f", {run.get('seconds')} s, {run.get('requests')} requests "
            f"(429 answers: {run.get('429')}, retries: {run.get('retries')})"
        )
    return text


def collect_status(pipeline: Any, *, where: str, state_from: str, loads_limit: int = 5) -> Status:
    """Everything ``learning360 status`` prints, from an opened pipeline."""
    loads = load_history(pipeline, limit=max(loads_limit, 10))
    has_schema = bool(pipeline.default_schema_name)
    rows: dict[str, int] = table_row_counts(pipeline) if has_schema and loads else {}
    snapshot = read_snapshot(pipeline) if state_from == "working dir" else None
    version, schema_lines = _schema_lines(pipeline, loads)
    pending, failed = _packages(pipeline) if state_from == "working dir" else ([], [])
    return Status(
        pipeline_name=pipeline.pipeline_name,
        pipelines_dir=str(pipeline.pipelines_dir),
        where=where,
        state_from=state_from if (has_schema or loads) else "none",
        loads=loads[:loads_limit],
        rows=rows,
        rows_before=((snapshot or {}).get("previous") or {}).get("rows"),
        snapshot_at=((snapshot or {}).get("previous") or {}).get("synced_at"),
        last_run=_last_run(snapshot),
        cursors=cursors_of(pipeline.state) if has_schema else [],
        schema_version=version,
        schema_lines=schema_lines,
        pending=pending,
        failed=failed,
        incomplete_models=incomplete_models(pipeline) if loads else [],
        variants=describe_variants(pipeline_variants(pipeline)) if has_schema else [],
        change_feed=_change_feed(pipeline.state),
    )


def _change_feed(state: dict[str, Any]) -> str | None:
    last = (state.get("sources", {}).get(SOURCE_NAME, {}).get("change_feed") or {}).get("last_run")
    return change_feed_line(last) if last else None


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        ago = dt.datetime.now(dt.UTC) - value
        hours = ago.total_seconds() / 3600
        age = f"{hours * 60:.0f} min ago" if hours < 1 else f"{hours:.1f} h ago"
        if hours >= 48:
            age = f"{hours / 24:.1f} days ago"
        return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC ({age})"
    return str(value)


def format_status(status: Status) -> str:
    dlt_info = f"dlt pipeline --pipelines-dir {status.pipelines_dir} {status.pipeline_name} info"
    out = [f"learning360 status: pipeline {status.pipeline_name}, {status.where}"]
    if status.never_synced:
        out.append(
            "never synced: no completed load in this dataset and no pipeline state in "
            f"{status.pipelines_dir}; run `learning360 sync` (or check --destination, "
            "--dataset-name, --pipeline-name, --pipelines-dir, --duckdb-path)"
        )
        return "\n".join(out)
    origin = {
        "working dir": f"state: working dir {Path(status.pipelines_dir) / status.pipeline_name}",
        "destination": "state: restored from the destination (no working dir on this machine; "
        "the next sync restores it the same way)",
        "none": "state: none",
    }[status.state_from]
    out.append(origin)

    if status.last_run:
        out.append(f"last sync from this working dir: {status.last_run}")
    out.append("last loads (newest first, from _dlt_loads):")
    if not status.loads:
        out.append("  none in the destination yet")
    for load in status.loads:
        out.append(
            f"  {load.load_id:<22}{load.outcome:<28}{_when(load.inserted_at):<44}"
            f"schema {load.schema_version_hash}"
        )
    completed = next((load for load in status.loads if load.status == 0), None)
    if status.loads and completed is not status.loads[0]:
        out.append("  ! the last load did not complete: the derived tables show the one before")

    if status.rows:
        with_before = status.rows_before is not None
        title = "rows per table now"
        if with_before:
            title += f" (and before the last sync, at the sync of {status.snapshot_at})"
        out.append(title + ":")
        for table, count in sorted(status.rows.items()):
            line = f"  {table:<34}{count:>10}"
            if with_before:
                before = (status.rows_before or {}).get(table)
                line += f"{'' if before is None else before:>10}"
            out.append(line)

    out.append(
        "incremental cursors (the next sync asks for changes since cursor - modified_lag_seconds):"
    )
    if not status.cursors:
        out.append("  none yet")
    for cursor in status.cursors:
        line = f"  {cursor.resource:<20}{cursor.cursor:<20}{cursor.last_value}"
        if not cursor.valid:
            line += "  <- not a timestamp: the next sync resets it and reads that table in full"
        out.append(line)
    if status.change_feed:
        out.append(status.change_feed)

    if status.schema_lines:
        out.append("schema: " + status.schema_lines[0])
        out.extend(f"  {line}" for line in status.schema_lines[1:])

    if status.pending:
        out.append("pending load packages (the next sync loads them first):")
        for package in status.pending:
            tables = ", ".join(package.tables[:8]) + (" ..." if len(package.tables) > 8 else "")
            out.append(f"  {package.load_id} {package.state}: {tables or 'state only'}")
    elif status.state_from == "working dir":
        out.append("pending load packages: none")
    if status.variants:
        out.append("! variant columns (values that did not fit their column's type; readers of")
        out.append("  the column see NULL for those rows; docs/reliability.md, 'Bad data'):")
        out.extend(f"  {line}" for line in status.variants)
    if status.failed:
        out.append("failed load jobs:")
        for job in status.failed:
            out.append(f"  {job.load_id} {job.table}: {job.message}")
    if status.incomplete_models:
        out.append(
            "derived models incomplete (their last build did not finish; the next sync or "
            "`learning360 models` rebuilds them): " + ", ".join(status.incomplete_models)
        )
    out.append(f"dlt's own view: {dlt_info}")
    return "\n".join(out)


def _pipelines_dir(args: argparse.Namespace) -> str:
    if args.pipelines_dir:
        return str(args.pipelines_dir)
    return get_dlt_pipelines_dir()


def _where(args: argparse.Namespace, name: str, dataset: str) -> str:
    if args.destination == "duckdb":
        return f"duckdb file {dlt_config.duckdb_path(args.duckdb_path, name)}, dataset {dataset}"
    return f"{args.destination} dataset {dataset}"


@contextlib.contextmanager
def open_pipeline(
    args: argparse.Namespace, name: str, dataset: str, pipelines_dir: str | None = None
) -> Iterator[Any]:
    """The CLI's pipeline, in a throwaway working dir unless ``pipelines_dir`` is given."""
    scratch = None if pipelines_dir else tempfile.mkdtemp(prefix="learning360-")
    try:
        yield make_pipeline(
            destination=args.destination,
            pipeline_name=name,
            dataset_name=dataset,
            pipelines_dir=pipelines_dir or scratch,
            duckdb_path=args.duckdb_path,
        )
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    name = args.pipeline_name or PIPELINE_NAME
    dataset = dlt_config.dataset_name(args.dataset_name, name, DATASET_NAME)
    pipelines_dir = _pipelines_dir(args)
    has_local_state = (Path(pipelines_dir) / name / "state.json").exists()
    where = _where(args, name, dataset)
    if args.destination == "duckdb":
        duckdb_file = Path(dlt_config.duckdb_path(args.duckdb_path, name))
        if not duckdb_file.exists():
            # opening it would create an empty warehouse: say so instead
            print(f"learning360 status: pipeline {name}, {where}")
            if has_local_state:
                print(
                    f"no DuckDB file at {duckdb_file}, but {Path(pipelines_dir) / name} holds "
                    "this pipeline's state: pass the right --duckdb-path (a sync would start "
                    "over in a new file)"
                )
            else:
                print(
                    f"never synced: no DuckDB file at {duckdb_file} and no pipeline state in "
                    f"{pipelines_dir}; run `learning360 sync` or pass --duckdb-path"
                )
            return EXIT_NEVER_SYNCED

    if has_local_state:
        with open_pipeline(args, name, dataset, pipelines_dir) as pipeline:
            status = collect_status(
                pipeline, where=where, state_from="working dir", loads_limit=args.loads
            )
    else:
        with open_pipeline(args, name, dataset) as pipeline:
            pipeline.sync_destination()  # restores state and schema if the dataset has them
            status = collect_status(
                pipeline, where=where, state_from="destination", loads_limit=args.loads
            )
        status.pipelines_dir = pipelines_dir
    print(format_status(status))
    if status.exit_code == EXIT_ATTENTION:
        print(
            "learning360 status: needs attention (see above); the next `learning360 sync` "
            "retries pending packages and rebuilds incomplete models",
            file=sys.stderr,
        )
    return status.exit_code


__all__ = [
    "Cursor",
    "Status",
    "add_arguments",
    "collect_status",
    "columns_of_schema",
    "cursors_of",
    "format_status",
    "open_pipeline",
    "run",
]
