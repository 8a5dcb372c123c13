"""Reads what the report shows from the warehouse, through the pipeline's ``sql_client()`` only.

Every query is plain SQL that runs unchanged on DuckDB, PostgreSQL and BigQuery: table names come
from ``make_qualified_table_name``, dates are ``CAST(x AS DATE)``, booleans are summed through
``CASE WHEN``, and there is no ``UNION`` without ``ALL`` (BigQuery refuses it). The small derived
tables (one row per course, program session or group) are read whole; the per-learner tables are
aggregated in SQL, by day or by learner, and finished in Python (weeks, histogram bins).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

logger = logging.getLogger(__name__)

# the derived tables the report reads; without them there is nothing to show
REQUIRED_TABLES = (
    "course_stats",
    "program_session_stats",
    "group_stats",
    "learner_course_stats",
    "learner_program_stats",
    "learner_visibility",
    "learner_visibility_grants",
)


class ReportError(Exception):
    """A problem the user can fix (wrong warehouse, models never built): one line, no traceback."""


@dataclass
class ReportData:
    """Everything on the page, already aggregated (plain Python values, no DB types)."""

    dataset_name: str
    destination: str
    courses: list[dict[str, Any]]
    program_sessions: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    # item_type -> {"visible", "assigned", "completed", "learners"}
    visibility: dict[str, dict[str, int]]
    # (item_type, grant_type) -> rows in learner_visibility_grants
    grants: dict[tuple[str, str], int]
    # day -> count, for course starts (first activity) and first completions
    started_per_day: dict[dt.date, int]
    completed_per_day: dict[dt.date, int]
    # hours spent learning per learner (courses + program sessions), one float per learner
    hours_per_learner: list[float]
    learners: int
    active_learners: int
    paths: int
    data_as_of: dt.datetime | None = None  # when the last completed load finished
    # the latest learner activity in the data (an attempt's last activity, a program
    # completion): a tenant idle for months shows it here, not in the load time
    latest_activity: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)

    # headline numbers -----------------------------------------------------------------------

    @property
    def course_pairs_started(self) -> int:
        return sum(c["learners_started"] or 0 for c in self.courses)

    @property
    def course_pairs_completed(self) -> int:
        return sum(c["learners_completed"] or 0 for c in self.courses)

    @property
    def course_completion_rate(self) -> float | None:
        started = self.course_pairs_started
        return self.course_pairs_completed / started if started else None

    @property
    def program_completion_rate(self) -> float | None:
        assigned = sum(s["learners_assigned"] or 0 for s in self.program_sessions)
        done = sum(s["learners_completed"] or 0 for s in self.program_sessions)
        return done / assigned if assigned else None

    @property
    def total_hours(self) -> float:
        return sum(self.hours_per_learner)


# --------------------------------------------------------------------------------------------
# SQL access
# --------------------------------------------------------------------------------------------


class _Reader:
    """A thin wrapper on dlt's sql client: qualified names, rows as dicts, tolerant queries."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def t(self, table: str) -> str:
        return self.client.make_qualified_table_name(table)

    def completed(self, table: str) -> str:
        """A raw table restricted to completed loads, as the models read it."""
        return (
            f"(SELECT * FROM {self.t(table)} WHERE _dlt_load_id IN "
            f"(SELECT load_id FROM {self.t('_dlt_loads')} WHERE status = 0))"
        )

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with self.client.execute_query(sql) as cursor:
            if cursor is None or cursor.description is None:
                return []
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str) -> Any:
        result = self.client.execute_sql(sql)
        if not result:
            return None
        return result[0][0]

    def try_scalar(self, sql: str) -> Any:
        """A scalar, or None when the query fails (an optional raw table or column is missing)."""
        try:
            return self.scalar(sql)
        except Exception as exc:  # dlt maps every engine's "no such table/column" differently
            logger.debug("report: optional query failed: %s (%s)", sql, exc)
            return None


@contextmanager
def _reader(pipeline: dlt.Pipeline) -> Iterator[_Reader]:
    with pipeline.sql_client() as client:
        yield _Reader(client)


def _num(value: Any) -> float | None:
    """DB numbers (Decimal, int, float, None) as float."""
    return None if value is None else float(value)


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------------------------
# the queries
# --------------------------------------------------------------------------------------------


def _check_models(r: _Reader, pipeline: dlt.Pipeline) -> None:
    missing = []
    for table in REQUIRED_TABLES:
        try:
            r.scalar(f"SELECT COUNT(*) FROM {r.t(table)} WHERE 1 = 0")
        except DatabaseUndefinedRelation:
            missing.append(table)
    if missing:
        raise ReportError(
            f"dataset {pipeline.dataset_name!r} has no derived table {', '.join(missing)}: run "
            "`learning360 sync` (or `learning360 models`) first, or point the report at the "
            "warehouse you synced (--destination, --duckdb-path, --dataset-name)"
        )


def _read_items(
    r: _Reader,
    model: str,
    key: str,
    texts: tuple[str, ...],
    counts: tuple[str, ...],
    numbers: tuple[str, ...],
) -> list[dict[str, Any]]:
    """One dict per row of a per-item derived table (course, program session, group): texts
    as they are, counts as int, the rest as float."""
    items = []
    for row in r.rows(f"SELECT {', '.join((key, *texts, *counts, *numbers))} FROM {r.t(model)}"):
        item = {column: row[column] for column in (key, *texts)}
        item |= {column: _int(row[column]) for column in counts}
        items.append(item | {column: _num(row[column]) for column in numbers})
    return items


def _per_day(r: _Reader, table: str, column: str, where: str = "") -> dict[dt.date, int]:
    day = f"CAST({column} AS DATE)"
    condition = f"{column} IS NOT NULL" + (f" AND {where}" if where else "")
    out: dict[dt.date, int] = {}
    for row in r.rows(
        f"SELECT {day} AS day, COUNT(*) AS n FROM {r.t(table)} WHERE {condition} GROUP BY {day}"
    ):
        d = _as_date(row["day"])
        if d is not None:
            out[d] = out.get(d, 0) + _int(row["n"])
    return out


def read_report_data(pipeline: dlt.Pipeline) -> ReportData:
    """Runs the report's queries on the pipeline's dataset. Raises :class:`ReportError` when the
    derived tables are missing."""
    with _reader(pipeline) as r:
        _check_models(r, pipeline)
        warnings: list[str] = []

        courses = _read_items(
            r,
            "course_stats",
            "course_id",
            ("course_name", "course_status"),
            ("learners_with_access", "learners_started", "learners_completed", "attempts"),
            ("completion_rate", "avg_score", "avg_time_spent_ms"),
        )
        sessions = _read_items(
            r,
            "program_session_stats",
            "program_session_id",
            ("program_session_name",),
            ("learners_with_access", "learners_assigned", "learners_started", "learners_completed"),
            ("completion_rate", "avg_score", "avg_time_spent_s"),
        )
        groups = _read_items(
            r,
            "group_stats",
            "group_id",
            ("group_name", "parent_group_id"),
            ("members", "active_members", "items_visible", "assigned_pairs", "completed_pairs"),
            ("completion_rate",),
        )
        group_names = {g["group_id"]: g["group_name"] for g in groups}
        for group in groups:
            parent = group["parent_group_id"]
            group["parent_group_name"] = group_names.get(parent) if parent else None
        for items, kind in ((courses, "course"), (sessions, "program_session"), (groups, "group")):
            for item in items:  # an item without a name is shown by its id
                item[f"{kind}_name"] = item[f"{kind}_name"] or item[f"{kind}_id"]
        courses.sort(key=lambda c: (-c["learners_started"], str(c["course_name"]).lower()))
        sessions.sort(
            key=lambda s: (-s["learners_assigned"], str(s["program_session_name"]).lower())
        )
        groups.sort(key=lambda g: (-g["members"], str(g["group_name"]).lower()))

        visibility: dict[str, dict[str, int]] = {}
        for row in r.rows(
            "SELECT item_type, COUNT(*) AS visible, COUNT(DISTINCT user_id) AS learners, "
            "SUM(CASE WHEN is_assigned THEN 1 ELSE 0 END) AS assigned, "
            "SUM(CASE WHEN is_completed THEN 1 ELSE 0 END) AS completed "
            f"FROM {r.t('learner_visibility')} GROUP BY item_type"
        ):
            visibility[str(row["item_type"])] = {
                k: _int(row[k]) for k in ("visible", "learners", "assigned", "completed")
            }

        grants: dict[tuple[str, str], int] = {}
        for row in r.rows(
            "SELECT item_type, grant_type, COUNT(*) AS n "
            f"FROM {r.t('learner_visibility_grants')} GROUP BY item_type, grant_type"
        ):
            grants[(str(row["item_type"]), str(row["grant_type"]))] = _int(row["n"])

        lcs = "learner_course_stats"
        started_per_day = _per_day(r, lcs, "first_activity_at")
        completed_per_day = _per_day(r, lcs, "completed_at")

        hours_per_learner = [
            _num(row["hours"]) or 0.0
            for row in r.rows(
                "SELECT user_id, SUM(hours) AS hours FROM ("
                "SELECT user_id, COALESCE(total_time_spent_ms, 0) / 3600000.0 AS hours "
                f"FROM {r.t('learner_course_stats')} "
                "UNION ALL "
                "SELECT user_id, COALESCE(time_spent_s, 0) / 3600.0 AS hours "
                f"FROM {r.t('learner_program_stats')}"
                ") t GROUP BY user_id"
            )
        ]

        active = _int(
            r.scalar(
                "SELECT COUNT(DISTINCT user_id) FROM ("
                f"SELECT user_id FROM {r.t('learner_course_stats')} "
                "UNION ALL "
                f"SELECT user_id FROM {r.t('learner_program_stats')} WHERE is_started"
                ") t"
            )
        )

        # learners = users who are not deleted (the models' population); users is a raw table,
        # so read completed loads only, and cope with a young tenant without a `deleted` column
        learners = r.try_scalar(
            f"SELECT SUM(CASE WHEN deleted THEN 0 ELSE 1 END) FROM {r.completed('users')} u"
        )
        if learners is None:
            learners = r.try_scalar(f"SELECT COUNT(*) FROM {r.completed('users')} u")
        if learners is None:
            warnings.append("no users table: learners counted from learner_visibility")
            learners = r.scalar(f"SELECT COUNT(DISTINCT user_id) FROM {r.t('learner_visibility')}")

        paths = r.try_scalar(f"SELECT COUNT(DISTINCT _id) FROM {r.completed('paths')} p")

        data_as_of = _as_datetime(
            r.try_scalar(f"SELECT MAX(inserted_at) FROM {r.t('_dlt_loads')} WHERE status = 0")
        )

        latest = [
            _as_datetime(r.try_scalar(f"SELECT MAX({column}) FROM {r.t(table)}"))
            for table, column in (
                ("learner_course_stats", "last_activity_at"),
                ("learner_program_stats", "completed_at"),
            )
        ]
        latest_activity = max((t for t in latest if t is not None), default=None)

    return ReportData(
        dataset_name=pipeline.dataset_name,
        destination=pipeline.destination.destination_type.split(".")[-1],
        courses=courses,
        program_sessions=sessions,
        groups=groups,
        visibility=visibility,
        grants=grants,
        started_per_day=started_per_day,
        completed_per_day=completed_per_day,
        hours_per_learner=hours_per_learner,
        learners=_int(learners),
        active_learners=active,
        paths=_int(paths),
        data_as_of=data_as_of,
        latest_activity=latest_activity,
        warnings=warnings,
    )
