"""What a sync checks between extract and load, and does after the load, so that bad data never
advances a cursor, empties a table or hides a deletion (docs/reliability.md, "Bad data").

* :func:`repair_cursors`: a cursor in the state that is not a timestamp (an earlier version
  stored ``"not-a-date"`` as is) is reset with a WARNING before dlt reads it; that table is
  then read in full once (merge keys absorb the overlap).
* :func:`extract_and_normalize`: the source, then a second small extract for the
  ``_learning360_rejected`` table (:func:`rejected_resource`, from the refusals the source
  recorded in sources/learning360/quarantine.py), then normalize.
* :func:`check_shrink`: a ``replace`` table whose complete listing shrank by more than
  ``max_shrink_share`` (default 50 %), or from non-empty to empty, since the last load fails
  the sync before anything is loaded (``learning360 sync --allow-shrink`` accepts it); the
  same for the users a complete listing no longer returns.
* :func:`flag_deleted`: after the load, a user missing from v1's complete listing
  (``GET /users?deleted=true``), or an attempt missing from v2's full ``/courses/stats`` read,
  gets ``deleted = true`` and ``deleted_noticed_at``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common import logger

from sources.learning360.cursors import parse_timestamp
from sources.learning360.errors import ConfigurationError, Learning360Error, config_key
from sources.learning360.quarantine import REJECTED_TABLE, STATE_KEY, Quarantine

SHRINK_KEY = "sources.learning360.max_shrink_share"
DEFAULT_MAX_SHRINK_SHARE = 0.5
SOURCE = "learning360"
DELETED_COLUMN, NOTICED_COLUMN = "deleted", "deleted_noticed_at"
UPDATE_BATCH = 500


class ShrinkRefused(Learning360Error):
    """A complete listing lost more rows than the guard allows; nothing was loaded."""


def max_shrink_share() -> float:
    """``[sources.learning360] max_shrink_share`` (env ``SOURCES__LEARNING360__MAX_SHRINK_SHARE``):
    the share of a replace table's rows a sync may lose; 1 turns the guard off."""
    value = dlt.config.get(SHRINK_KEY)
    try:
        share = float(value) if value is not None else DEFAULT_MAX_SHRINK_SHARE
    except (TypeError, ValueError):
        share = -1.0
    if not 0 <= share <= 1:
        raise ConfigurationError(
            f"max_shrink_share {value!r} is not a share: set {config_key('max_shrink_share')} "
            "to a number from 0 to 1 (default 0.5)"
        )
    return share


# ---- cursors --------------------------------------------------------------------------------


def _bad_cursors(resources: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    found = []
    for name, state in resources.items():
        if not isinstance(state, Mapping):
            continue
        for cursor, slot in (state.get("incremental") or {}).items():
            value = slot.get("last_value") if isinstance(slot, Mapping) else None
            if value is not None and parse_timestamp(value) is None:
                found.append((name, cursor, value))
    return found


def repair_cursors(pipeline: dlt.Pipeline) -> list[str]:
    """Resets every cursor of the state that is not a timestamp, with a WARNING each; the
    names of the repaired cursors."""
    resources = pipeline.state.get("sources", {}).get(SOURCE, {}).get("resources", {})
    if not _bad_cursors(resources):
        return []
    repaired = []
    with pipeline.managed_state() as state:
        resources = state["sources"][SOURCE]["resources"]
        for name, cursor, value in _bad_cursors(resources):
            resources[name]["incremental"].pop(cursor, None)
            shown = str(value)[:40]
            logger.warning(
                f"360Learning: the {name} cursor {cursor} held {shown!r}, not a timestamp "
                "(stored by an earlier version); reset: this sync reads that table in full"
            )
            repaired.append(f"{name}.{cursor}")
    return repaired


# ---- extract --------------------------------------------------------------------------------

REJECTED_COLUMNS = {
    "table_name": {"data_type": "text", "nullable": False},
    "record_key": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "severity": {"data_type": "text"},
    "raw_json": {"data_type": "text"},
    "load_id": {"data_type": "text"},
    "first_seen": {"data_type": "timestamp"},
    "last_seen": {"data_type": "timestamp"},
    "resolved": {"data_type": "bool", "hard_delete": True},  # an item fixed since: deleted
}


def rejected_resource(quarantine: Quarantine, load_id: str | None) -> Any:
    """The resource that merges this run's quarantine rows (a second, small extract)."""

    @dlt.resource(
        name=REJECTED_TABLE,
        write_disposition="merge",
        primary_key=("table_name", "record_key", "reason"),
        columns=REJECTED_COLUMNS,
    )
    def rejected() -> Iterator[list[dict[str, Any]]]:
        registry = dlt.current.source_state().setdefault(STATE_KEY, {}).setdefault("open", {})
        yield rejected_rows(quarantine, registry, load_id)

    return rejected


def rejected_rows(
    quarantine: Quarantine, registry: dict[str, Any], load_id: str | None
) -> list[dict[str, Any]]:
    """The run's refusals and resolved items; updates ``registry`` (the state's open items)."""
    moment = datetime.now(UTC).isoformat()
    rows: list[dict[str, Any]] = []
    for (table, key, reason), (raw, severity) in sorted(quarantine.found.items()):
        first = registry.setdefault(table, {}).setdefault(key, {}).setdefault(reason, moment)
        rows.append(
            {
                **{"table_name": table, "record_key": key, "reason": reason},
                **{"severity": severity, "raw_json": raw, "load_id": load_id},
                **{"first_seen": first, "last_seen": moment, "resolved": False},
            }
        )
    refused_now = {(table, key) for table, key, _ in quarantine.found}
    for table, keys in sorted(quarantine.resolved.items()):
        for key in sorted(keys):
            if (table, key) in refused_now:
                continue  # refused again for another reason: still open
            for reason in sorted(registry.get(table, {}).pop(key, {})):
                rows.append(
                    {"table_name": table, "record_key": key, "reason": reason, "resolved": True}
                )
        if not registry.get(table):
            registry.pop(table, None)
    return rows


def extract_and_normalize(
    pipeline: dlt.Pipeline,
    source: Any,
    stats: Any,
    *,
    loader_file_format: Any,
    refresh: str | None,
    allow_shrink: bool,
) -> dict[str, Any]:
    """Extract (source, then the quarantine rows), run the guards, normalize. Returns the rows
    per table, seconds per step and what :func:`flag_deleted` needs after the load."""
    repair_cursors(pipeline)
    t0 = time.monotonic()
    info = pipeline.extract(source, loader_file_format=loader_file_format, refresh=refresh)
    t1 = time.monotonic()
    counts = dict(pipeline.normalize().row_counts)
    quarantine = stats.quarantine
    if quarantine.has_rows():
        load_id = info.loads_ids[0] if info.loads_ids else None
        pipeline.extract(rejected_resource(quarantine, load_id))
        for table, n in pipeline.normalize().row_counts.items():
            counts[table] = counts.get(table, 0) + n
    steps = {"extract": t1 - t0, "normalize": time.monotonic() - t1}
    gone: dict[str, list[str]] = {}
    if not refresh:
        replace = [
            r.table_name
            for r in source.selected_resources.values()
            if r.write_disposition == "replace" and isinstance(r.table_name, str)
        ]
        gone = gone_from_complete_reads(pipeline, stats.complete_reads)
        problems = check_shrink(pipeline, replace, counts, gone)
        if problems and not allow_shrink:
            pipeline.abort_packages()  # nothing of this sync is loaded; state rolled back
            raise ShrinkRefused(
                "refused to load: "
                + "; ".join(problems)
                + ". If the API is right, run `learning360 sync --allow-shrink` (threshold: "
                f"sources.learning360.max_shrink_share = {max_shrink_share():g})"
            )
        for problem in problems:
            logger.warning(f"360Learning: accepted with --allow-shrink: {problem}")
    data_rows = {t: n for t, n in sorted(counts.items()) if not t.startswith("_dlt")}
    return {"rows": data_rows, "steps": steps, "gone": gone}


def _count(client: Any, table: str, where: str = "") -> int | None:
    try:
        rows = client.execute_sql(
            f"SELECT COUNT(*) FROM {client.make_qualified_table_name(table)}{where}"
        )
    except Exception:  # not created yet (first sync, or never any rows)
        return None
    return int(rows[0][0]) if rows else 0


def check_shrink(
    pipeline: dlt.Pipeline,
    replace_tables: list[str],
    loaded: Mapping[str, int],
    gone: Mapping[str, list[str]],
) -> list[str]:
    """One line per table that would lose more than the allowed share of its rows."""
    share = max_shrink_share()
    problems: list[str] = []
    try:
        client_cm = pipeline.sql_client()
        client = client_cm.__enter__()
    except Exception:  # no dataset yet: nothing to shrink
        return []
    try:
        for table in sorted(set(replace_tables)):
            before = _count(client, table)
            now = loaded.get(table, 0)
            if before and (now == 0 or before - now > share * before):
                problems.append(f"{table} would shrink from {before} to {now} rows")
        for table, ids in sorted(gone.items()):
            active = _count(client, table, f" WHERE COALESCE({DELETED_COLUMN}, FALSE) = FALSE")
            if active and len(ids) > share * active:
                problems.append(
                    f"{len(ids)} of {active} {table} would be flagged deleted (gone from the listing)"
                )
    finally:
        client_cm.__exit__(None, None, None)
    return problems


# ---- deletions ------------------------------------------------------------------------------


def gone_from_complete_reads(
    pipeline: dlt.Pipeline, complete_reads: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """Per table read whole this run: ids of rows not flagged deleted that the listing no
    longer returns."""
    gone: dict[str, list[str]] = {}
    if not complete_reads:
        return gone
    try:
        client_cm = pipeline.sql_client()
        client = client_cm.__enter__()
    except Exception:
        return gone
    try:
        for table, ids in complete_reads.items():
            name = client.make_qualified_table_name(table)
            try:
                rows = client.execute_sql(
                    f"SELECT _id FROM {name} WHERE COALESCE({DELETED_COLUMN}, FALSE) = FALSE"
                )
            except Exception:  # first sync: nothing stored yet
                continue
            listed = set(ids)
            missing = sorted(r[0] for r in rows or [] if r[0] not in listed)
            if missing:
                gone[table] = missing
    finally:
        client_cm.__exit__(None, None, None)
    return gone


def flag_deleted(pipeline: dlt.Pipeline, gone: Mapping[str, list[str]]) -> int:
    """``deleted = true, deleted_noticed_at = now`` for the rows a complete listing no longer
    returns (run after the load); the number of rows flagged."""
    if not gone:
        return 0
    now = datetime.now(UTC)
    flagged = 0
    with pipeline.sql_client() as client:
        for table, ids in gone.items():
            name = client.make_qualified_table_name(table)
            deleted = client.escape_column_name(DELETED_COLUMN)
            noticed = client.escape_column_name(NOTICED_COLUMN)
            for start in range(0, len(ids), UPDATE_BATCH):
                batch = ids[start : start + UPDATE_BATCH]
                marks = ", ".join(["%s"] * len(batch))
                client.execute_sql(
                    f"UPDATE {name} SET {deleted} = TRUE, {noticed} = %s WHERE _id IN ({marks})",
                    now,
                    *batch,
                )
                flagged += len(batch)
            logger.warning(
                f"360Learning: {len(ids)} {table} gone from the complete listing: flagged "
                f"{DELETED_COLUMN} = true, {NOTICED_COLUMN} = {now.isoformat(timespec='seconds')}"
            )
    return flagged


__all__ = [
    "REJECTED_TABLE",
    "ShrinkRefused",
    "check_shrink",
    "extract_and_normalize",
    "flag_deleted",
    "repair_cursors",
]
