"""The summary printed after `learning360 sync`, and what changed since the previous sync.

It says how long the sync took, how many API requests it made (429 answers, retries), and per
table: its write disposition, the rows this sync brought, the rows now, the rows at the previous
sync and the difference. For ``merge`` tables the difference is new rows and the rest of the
loaded rows were updates; for ``replace`` tables it is the net of rows added and removed. It
also lists schema changes: new tables, new columns and variant columns (``score__v_text``: the
API changed a field's type), with dlt's schema version before and after.

Where "the previous sync" comes from:

* rows per table: a small JSON snapshot, ``learning360_last_sync.json``, in the pipeline's
  working directory (``<pipelines-dir>/<pipeline-name>/``), rewritten after every sync. Row
  counts of replace tables cannot be recovered from the warehouse afterwards, so they are kept.
* the schema: the same snapshot, or, on a machine without one, dlt's own history in the
  destination: the ``schema_version_hash`` of the previous completed load in ``_dlt_loads``
  and the schema stored under that hash in ``_dlt_version``.

The warehouse helpers here (:func:`load_history`, :func:`stored_schema_columns`) are shared
with ``learning360 status``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dlt.common.schema.utils import get_write_disposition

from pipelines.column_types import VARIANT_MARK
from pipelines.run import table_row_counts

SNAPSHOT_FILE = "learning360_last_sync.json"
SNAPSHOT_VERSION = 1
LOADS_TABLE = "_dlt_loads"
VERSION_TABLE = "_dlt_version"


# ---- the warehouse's own history (_dlt_loads, _dlt_version) ----------------------------------


@dataclass(frozen=True)
class LoadRow:
    load_id: str
    schema_name: str
    status: int
    inserted_at: Any
    schema_version_hash: str | None

    @property
    def outcome(self) -> str:
        return "completed" if self.status == 0 else f"not completed (status {self.status})"


def load_history(pipeline: Any, limit: int | None = 10) -> list[LoadRow]:
    """The newest loads in the destination's ``_dlt_loads`` (newest first); [] when the dataset
    has no such table (never loaded)."""
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(LOADS_TABLE)
        sql = (
            "SELECT load_id, schema_name, status, inserted_at, schema_version_hash "
            f"FROM {table} ORDER BY inserted_at DESC, load_id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        try:
            rows = client.execute_sql(sql) or []
        except Exception:  # no dataset or no _dlt_loads yet
            return []
    return [LoadRow(str(r[0]), str(r[1]), int(r[2]), r[3], r[4]) for r in rows]


def stored_schema(pipeline: Any, version_hash: str) -> dict[str, Any] | None:
    """The schema dlt stored in ``_dlt_version`` under ``version_hash`` (None if absent)."""
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(VERSION_TABLE)
        try:
            rows = client.execute_sql(
                f"SELECT schema FROM {table} WHERE version_hash = %s", version_hash
            )
        except Exception:
            return None
    if not rows or rows[0][0] is None:
        return None
    raw = rows[0][0]
    return raw if isinstance(raw, dict) else json.loads(raw)


def columns_of_schema(schema: Any) -> dict[str, list[str]]:
    """Data tables -> column names, from a dlt ``Schema`` or a stored schema dict."""
    tables = schema.tables if hasattr(schema, "tables") else (schema or {}).get("tables", {})
    return {
        name: sorted(table.get("columns", {}))
        for name, table in tables.items()
        if not name.startswith("_dlt") and table.get("columns")
    }


def stored_schema_columns(pipeline: Any, version_hash: str | None) -> dict[str, list[str]] | None:
    if not version_hash:
        return None
    schema = stored_schema(pipeline, version_hash)
    return columns_of_schema(schema) if schema is not None else None


# ---- schema differences -------------------------------------------------------------------


@dataclass
class SchemaDiff:
    new_tables: list[str] = field(default_factory=list)
    new_columns: dict[str, list[str]] = field(default_factory=dict)
    removed_tables: list[str] = field(default_factory=list)

    @property
    def variant_columns(self) -> list[str]:
        return [
            f"{table}.{column}"
            for table, columns in self.new_columns.items()
            for column in columns
            if VARIANT_MARK in column
        ]

    def __bool__(self) -> bool:
        return bool(self.new_tables or self.new_columns or self.removed_tables)

    def describe(self) -> list[str]:
        """One short line per kind of change."""
        lines = []
        if self.new_tables:
            lines.append("new tables: " + ", ".join(self.new_tables))
        if self.new_columns:
            lines.append(
                "new columns: "
                + ", ".join(f"{t}.{c}" for t, cols in self.new_columns.items() for c in cols)
            )
        if self.variant_columns:
            lines.append(
                "variant columns (the API changed a field's type; values of the new type land "
                "there): " + ", ".join(self.variant_columns)
            )
        if self.removed_tables:
            lines.append("tables no longer in the schema: " + ", ".join(self.removed_tables))
        return lines


def diff_columns(before: dict[str, list[str]], after: dict[str, list[str]]) -> SchemaDiff:
    diff = SchemaDiff()
    for table in sorted(after):
        if table not in before:
            diff.new_tables.append(table)
            continue
        added = sorted(set(after[table]) - set(before[table]))
        if added:
            diff.new_columns[table] = added
    diff.removed_tables = sorted(set(before) - set(after))
    return diff


# ---- the snapshot of the previous sync ----------------------------------------------------


def snapshot_path(pipeline: Any) -> Path:
    return Path(pipeline.working_dir) / SNAPSHOT_FILE


def read_snapshot(pipeline: Any) -> dict[str, Any] | None:
    """The previous sync's snapshot, or None (first sync here, other dataset, unreadable)."""
    path = snapshot_path(pipeline)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
        return None
    if data.get("dataset_name") != pipeline.dataset_name:
        return None
    return data


def write_snapshot(
    pipeline: Any,
    rows: dict[str, int],
    load_ids: list[str],
    synced_at: dt.datetime,
    previous: dict[str, Any] | None = None,
    schema_changes: list[str] | None = None,
    run: dict[str, Any] | None = None,
) -> Path:
    """Records this sync (and, for ``learning360 status``, the counts of the one before)."""
    schema = pipeline.default_schema
    data = {
        "version": SNAPSHOT_VERSION,
        "synced_at": synced_at.isoformat(timespec="seconds"),
        "dataset_name": pipeline.dataset_name,
        "load_ids": list(load_ids),
        "schema_version": schema.version,
        "schema_version_hash": schema.version_hash,
        "rows": dict(sorted(rows.items())),
        "columns": columns_of_schema(schema),
        "schema_changes": list(schema_changes or []),
        "run": dict(run or {}),  # seconds, requests, 429, retries of this sync
        "previous": (
            {"synced_at": previous.get("synced_at"), "rows": previous.get("rows")}
            if previous
            else None
        ),
    }
    path = snapshot_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ---- the summary ----------------------------------------------------------------------------


@dataclass
class TableLine:
    table: str
    disposition: str
    loaded: int
    now: int
    before: int | None

    @property
    def change(self) -> int | None:
        return None if self.before is None else self.now - self.before


@dataclass
class SyncSummary:
    where: str
    seconds: float
    requests: dict[str, Any]
    tables: list[TableLine]
    schema_version: int
    schema_hash: str
    schema_hash_before: str | None  # None: nothing to compare with
    schema_diff: SchemaDiff | None  # None: nothing to compare with
    previous_sync_at: str | None
    models: dict[str, int]

    @property
    def first_sync(self) -> bool:
        return all(t.before is None for t in self.tables)


def _disposition(schema: Any, table: str) -> str:
    try:
        return str(get_write_disposition(schema.tables, table))
    except Exception:
        return "?"


def _previous_load_columns(
    pipeline: Any, this_sync: set[str]
) -> tuple[dict[str, list[str]] | None, str | None]:
    """Columns and schema hash of the last completed load before this sync, from the
    destination (for machines without a snapshot)."""
    for load in load_history(pipeline, limit=50):
        if (
            load.load_id in this_sync
            or load.status != 0
            or load.schema_name != pipeline.default_schema_name
        ):
            continue
        schema = (
            stored_schema(pipeline, load.schema_version_hash) if load.schema_version_hash else None
        )
        if schema is None:
            return None, None
        return columns_of_schema(schema), load.schema_version_hash
    return None, None


def build_summary(
    pipeline: Any,
    result: Any,
    where: str,
    *,
    previous: dict[str, Any] | None = None,
    rows_now: dict[str, int] | None = None,
) -> SyncSummary:
    """Compares the warehouse after ``result`` (a ``run.SyncResult``) with ``previous`` (the
    snapshot read before the sync; read here when not given)."""
    if previous is None:
        previous = read_snapshot(pipeline)
    schema = pipeline.default_schema
    now = rows_now if rows_now is not None else table_row_counts(pipeline)
    loaded: dict[str, int] = dict(result.rows_per_table)
    before_rows: dict[str, int] | None = previous.get("rows") if previous else None
    tables = [
        TableLine(
            table=name,
            disposition=_disposition(schema, name),
            loaded=loaded.get(name, 0),
            now=now.get(name, 0),
            before=None if before_rows is None else before_rows.get(name, 0),
        )
        for name in sorted(set(now) | set(loaded))
    ]
    this_sync = set(result.load_info.loads_ids) if result.load_info is not None else set()
    if previous and previous.get("columns") is not None:
        before_columns, hash_before = previous["columns"], previous.get("schema_version_hash")
    else:
        before_columns, hash_before = _previous_load_columns(pipeline, this_sync)
    diff = diff_columns(before_columns, columns_of_schema(schema)) if before_columns else None
    return SyncSummary(
        where=where,
        seconds=result.seconds,
        requests=dict(result.requests),
        tables=tables,
        schema_version=schema.version,
        schema_hash=schema.version_hash,
        schema_hash_before=hash_before if before_columns else None,
        schema_diff=diff,
        previous_sync_at=previous.get("synced_at") if previous else None,
        models=dict(result.models),
    )


def _signed(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n:+d}" if n else "0"


def _change_note(line: TableLine) -> str:
    """``3 new, 5 updated`` for merge tables, ``net +2`` for replace tables."""
    if line.before is None:
        return ""
    change = line.now - line.before
    if line.disposition == "merge":
        new = max(change, 0)
        updated = max(line.loaded - new, 0)
        parts = [f"{new} new"] if new else []
        if updated:
            parts.append(f"{updated} updated")
        return ", ".join(parts)
    if line.disposition == "replace" and change:
        return "rows added" if change > 0 else "rows removed"
    return ""


def format_summary(summary: SyncSummary) -> str:
    req = summary.requests
    out = [f"learning360 sync: done in {summary.seconds:.1f} s into {summary.where}"]
    requests_line = (
        f"requests: {req.get('total', 0)} (429 answers: {req.get('429', 0)}, "
        f"retries: {req.get('retries', 0)}"
    )
    if req.get("reauthentications"):
        requests_line += f", re-authentications: {req['reauthentications']}"
    if req.get("skipped_missing"):
        requests_line += f", items gone mid-sync: {req['skipped_missing']}"
    requests_line += ")"
    routes: dict[str, int] = req.get("requests") or {}
    if routes:
        busiest = sorted(routes.items(), key=lambda item: (-item[1], item[0]))[:3]
        requests_line += "; busiest: " + ", ".join(f"{r} {n}" for r, n in busiest)
    out.append(requests_line)

    if summary.first_sync:
        out.append("since the last sync: no earlier sync recorded in this working directory")
    else:
        out.append(f"since the last sync ({summary.previous_sync_at}):")
    header = f"{'table':<32}{'disposition':<12}{'rows this sync':>15}{'rows now':>11}"
    if not summary.first_sync:
        header += f"{'before':>11}{'change':>9}  note"
    out.append(header)
    for line in summary.tables:
        row = f"{line.table:<32}{line.disposition:<12}{line.loaded:>15}{line.now:>11}"
        if not summary.first_sync:
            before = "-" if line.before is None else str(line.before)
            row += f"{before:>11}{_signed(line.change):>9}  {_change_note(line)}"
        out.append(row.rstrip())
    if not summary.first_sync:
        changed = [t for t in summary.tables if t.change]
        grew = sum(1 for t in changed if (t.change or 0) > 0)
        out.append(
            f"rows: {grew} tables grew, {len(changed) - grew} shrank, "
            f"{len(summary.tables) - len(changed)} unchanged"
        )

    version = f"schema: version {summary.schema_version}"
    if summary.schema_diff is None or summary.schema_hash_before is None:
        out.append(f"{version} (nothing earlier to compare with)")
    elif summary.schema_diff:
        out.append(f"{version}, changed; " + "; ".join(summary.schema_diff.describe()))
    elif summary.schema_hash_before != summary.schema_hash:
        out.append(f"{version}, changed: no new tables or columns (hints or types only)")
    else:
        out.append(f"{version}, unchanged")
    rejected: dict[str, int] = req.get("rejected") or {}
    if rejected:  # refused records, each logged as a warning (docs/reliability.md)
        out.append(
            f"quarantined: {sum(rejected.values())} records (select * from "
            "_learning360_rejected): " + ", ".join(f"{k}: {n}" for k, n in sorted(rejected.items()))
        )
    if summary.models:
        out.append("derived tables: " + ", ".join(f"{m} ({n})" for m, n in summary.models.items()))
    return "\n".join(out)


def print_summary(
    pipeline: Any,
    result: Any,
    where: str,
    *,
    previous: dict[str, Any] | None = None,
    stream: TextIO | None = None,
) -> SyncSummary:
    """Builds, prints and records the summary of a finished sync (the CLI's one call).

    ``previous``: the snapshot as read *before* the sync (:func:`read_snapshot`); read now when
    not given, which is the same thing as long as nothing else synced in between."""
    rows_now = table_row_counts(pipeline)
    summary = build_summary(pipeline, result, where, previous=previous, rows_now=rows_now)
    print(format_summary(summary), file=stream or sys.stdout)
    load_ids = list(result.load_info.loads_ids) if result.load_info is not None else []
    if previous is None:
        previous = read_snapshot(pipeline)
    changes = summary.schema_diff.describe() if summary.schema_diff else []
    try:
        req = result.requests
        run = {
            "seconds": round(result.seconds, 1),
            "requests": req.get("total", 0),
            "429": req.get("429", 0),
            "retries": req.get("retries", 0),
        }
        write_snapshot(
            pipeline, rows_now, load_ids, dt.datetime.now(dt.UTC), previous, changes, run
        )
    except OSError as exc:  # the sync itself succeeded: say so, do not fail it
        print(f"learning360 sync: could not record this sync's row counts: {exc}", file=sys.stderr)
    return summary
