"""Every derived model computed in plain Python from ``company.truth()``.

Written from the model definitions in docs/models.md, not from the SQL, so the two can catch each
other's mistakes. Each ``expected_<model>(truth)`` returns ``{key tuple: row dict}`` with exactly
the model's columns; timestamps are timezone-aware UTC datetimes. ``EXPECTED`` and ``KEYS`` index
them by model name, and :func:`diff_rows` compares them with rows read from a warehouse (used by
the model tests and by the end-to-end tests).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

Truth = Mapping[str, Any]
Row = dict[str, Any]
Key = tuple[Any, ...]

ITEM_TABLES = {"course": "courses", "program_session": "program_sessions", "path": "paths"}
CATALOG_ITEM_TYPES = {"course", "program_session", "path"}


def ts(value: Any) -> datetime | None:
    """An API ISO timestamp (or a datetime) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rows(truth: Truth, table: str) -> list[Row]:
    return list(truth.get(table) or [])


def live_attempts(truth: Truth) -> list[Row]:
    """Attempts not flagged deleted (a hard-deleted attempt stays in the truth, flagged): the
    only attempts the models count."""
    return [a for a in _rows(truth, "user_courses") if not a.get("deleted")]


def _min(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _mean(values: Iterable[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


class Snapshot(dict):
    """A truth dict that remembers what was derived from it, so computing every model
    (:func:`expected_models`) derives shared intermediate results once."""

    def __init__(self, truth: Truth) -> None:
        super().__init__(truth)
        self.memo: dict[str, Any] = {}


def _memo(truth: Truth, compute: Callable[[Truth], Any]) -> Any:
    memo = getattr(truth, "memo", None)
    if memo is None:
        return compute(truth)
    if compute.__name__ not in memo:
        memo[compute.__name__] = compute(truth)
    return memo[compute.__name__]


def active_user_ids(truth: Truth) -> set[str]:
    """Users that exist and are not flagged deleted: the only users the models report on."""
    return {u["_id"] for u in _rows(truth, "users") if not u.get("deleted")}


def item_names(truth: Truth) -> dict[tuple[str, str], str | None]:
    """(item_type, item_id) -> name, for every item that exists."""
    return {
        (item_type, row["_id"]): row.get("name")
        for item_type, table in ITEM_TABLES.items()
        for row in _rows(truth, table)
    }


def _path_of_session(truth: Truth) -> dict[str, str]:
    return {s["_id"]: s.get("path_id") for s in _rows(truth, "path_sessions")}


def _enrolment_path(enrolment: Row, session_path: Mapping[str, str]) -> str | None:
    """The path of a path-session enrolment (its own path_id, else its session's)."""
    return enrolment.get("path_id") or session_path.get(enrolment["path_session_id"])


def expected_learner_visibility_grants(truth: Truth) -> dict[Key, Row]:
    """Why each learner can see each item: assignments, group catalogs, group programs."""
    active, items = active_user_ids(truth), item_names(truth)
    session_path = _path_of_session(truth)
    grants: dict[Key, Row] = {}

    def grant(user: str, item_type: str, item_id: str | None, kind: str, group: str | None):
        if user in active and (item_type, item_id) in items:
            key = (user, item_type, item_id, kind, group)
            grants[key] = dict(
                zip(("user_id", "item_type", "item_id", "grant_type", "group_id"), key, strict=True)
            )

    for row in _rows(truth, "user_programs"):
        grant(row["user_id"], "program_session", row["program_session_id"], "assignment", None)
    for row in live_attempts(truth):
        grant(row["user_id"], "course", row["course_id"], "assignment", None)
    for row in _rows(truth, "user_path_sessions"):
        grant(row["user_id"], "path", _enrolment_path(row, session_path), "assignment", None)

    members: dict[str, set[str]] = defaultdict(set)
    for row in _rows(truth, "user_groups"):
        members[row["group_id"]].add(row["user_id"])
    for entry in _rows(truth, "group_catalog"):
        item_type, item_id = entry["item_type"], entry["item_id"]
        if item_type == "path_session":
            item_type, item_id = "path", session_path.get(item_id)
        elif item_type not in CATALOG_ITEM_TYPES:
            continue
        for user in members[entry["group_id"]]:
            grant(user, item_type, item_id, "group_catalog", entry["group_id"])
    for entry in _rows(truth, "group_programs"):
        for user in members[entry["group_id"]]:
            grant(
                user,
                "program_session",
                entry["program_session_id"],
                "group_program",
                entry["group_id"],
            )
    return grants


def _recency(attempt: Row) -> tuple[bool, datetime, str]:
    """Sort key of an attempt: latest last_activity (missing = oldest), ties by _id."""
    last = ts(attempt.get("last_activity"))
    return (last is not None, last or datetime.min.replace(tzinfo=UTC), attempt["_id"])


def expected_learner_course_stats(truth: Truth) -> dict[Key, Row]:
    """All attempts of a learner in a course, summed up."""
    active, items = active_user_ids(truth), item_names(truth)
    attempts: dict[Key, list[Row]] = defaultdict(list)
    for row in live_attempts(truth):
        if row["user_id"] in active and ("course", row["course_id"]) in items:
            attempts[(row["user_id"], row["course_id"])].append(row)
    result: dict[Key, Row] = {}
    for (user, course), rows in attempts.items():
        latest = max(rows, key=_recency)
        completed_at = _min(ts(r.get("completed_at")) for r in rows)
        result[(user, course)] = {
            "user_id": user,
            "course_id": course,
            "course_name": items[("course", course)],
            "attempts": len(rows),
            "best_progress": _max(r.get("progress") for r in rows),
            "last_progress": latest.get("progress"),
            "best_score": _max(r.get("score") for r in rows),
            "total_time_spent_ms": sum(r.get("global_time") or 0 for r in rows),
            "first_activity_at": _min(ts(r.get("first_activity")) for r in rows),
            "last_activity_at": _max(ts(r.get("last_activity")) for r in rows),
            "completed_at": completed_at,
            "is_completed": completed_at is not None,
        }
    return result


def expected_learner_program_stats(truth: Truth) -> dict[Key, Row]:
    """A learner's state in each program session they are assigned to."""
    active, items = active_user_ids(truth), item_names(truth)
    result: dict[Key, Row] = {}
    for row in _rows(truth, "user_programs"):
        session = row["program_session_id"]
        if row["user_id"] not in active or ("program_session", session) not in items:
            continue
        completed_at = ts(row.get("completed_at"))
        seconds = row.get("total_time_spent_in_seconds")
        result[(row["user_id"], session)] = {
            "user_id": row["user_id"],
            "program_session_id": session,
            "program_session_name": items[("program_session", session)],
            "progress": row.get("progress"),
            "score": row.get("score"),
            "time_spent_s": None if seconds is None else float(seconds),
            "completed_at": completed_at,
            "is_started": (row.get("progress") or 0) > 0 or completed_at is not None,
            "is_completed": completed_at is not None,
        }
    return result


def _completions(truth: Truth) -> dict[Key, datetime | None]:
    """(user_id, item_type, item_id) -> first completion date, for every item kind."""
    done: dict[Key, datetime | None] = {}
    for (user, course), row in _memo(truth, expected_learner_course_stats).items():
        done[(user, "course", course)] = row["completed_at"]
    for (user, session), row in _memo(truth, expected_learner_program_stats).items():
        done[(user, "program_session", session)] = row["completed_at"]
    by_path: dict[Key, list[datetime | None]] = defaultdict(list)
    session_path = _path_of_session(truth)
    for row in _rows(truth, "user_path_sessions"):
        by_path[(row["user_id"], "path", _enrolment_path(row, session_path))].append(
            ts(row.get("completed_at"))
        )
    for key, dates in by_path.items():
        done[key] = _min(dates)
    return done


def expected_learner_visibility(truth: Truth) -> dict[Key, Row]:
    """Every item each learner can access, how, and whether they completed it."""
    items, done = item_names(truth), _memo(truth, _completions)
    kinds: dict[Key, set[str]] = defaultdict(set)
    groups: dict[Key, set[str]] = defaultdict(set)
    for user, item_type, item_id, kind, group in _memo(truth, expected_learner_visibility_grants):
        kinds[(user, item_type, item_id)].add(kind)
        if group is not None:
            groups[(user, item_type, item_id)].add(group)
    result: dict[Key, Row] = {}
    for key, granted in kinds.items():
        user, item_type, item_id = key
        completed_at = done.get(key)
        result[key] = {
            "user_id": user,
            "item_type": item_type,
            "item_id": item_id,
            "item_name": items[(item_type, item_id)],
            "is_assigned": "assignment" in granted,
            "via_group_catalog": "group_catalog" in granted,
            "via_group_program": "group_program" in granted,
            "group_count": len(groups[key]),
            "completed_at": completed_at,
            "is_completed": completed_at is not None,
        }
    return result


def _learners_with_access(truth: Truth, item_type: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for _user, kind, item_id in _memo(truth, expected_learner_visibility):
        if kind == item_type:
            counts[item_id] += 1
    return counts


def expected_course_stats(truth: Truth) -> dict[Key, Row]:
    """Reach and results per course, over non-deleted learners."""
    per_learner: dict[str, list[Row]] = defaultdict(list)
    for (_user, course), row in _memo(truth, expected_learner_course_stats).items():
        per_learner[course].append(row)
    reach = _learners_with_access(truth, "course")
    mails = {u["_id"]: u.get("mail") for u in _rows(truth, "users")}
    result: dict[Key, Row] = {}
    for course in _rows(truth, "courses"):
        rows = per_learner[course["_id"]]
        started = len(rows)
        completed = sum(1 for r in rows if r["is_completed"])
        result[(course["_id"],)] = {
            "course_id": course["_id"],
            "course_name": course.get("name"),
            "course_status": course.get("status"),
            "learners_with_access": reach[course["_id"]],
            "learners_started": started,
            "learners_completed": completed,
            "completion_rate": _rate(completed, started),
            "avg_score": _mean(r["best_score"] for r in rows),
            "avg_time_spent_ms": _mean(r["total_time_spent_ms"] for r in rows),
            "attempts": sum(r["attempts"] for r in rows),
            "author_id": course.get("author_id"),
            # the author's mail as users has it now; the course row's own only as a fallback
            "author_mail": mails.get(course.get("author_id")) or course.get("author"),
        }
    return result


def expected_program_session_stats(truth: Truth) -> dict[Key, Row]:
    """Enrolment and results per program session, over non-deleted learners."""
    per_learner: dict[str, list[Row]] = defaultdict(list)
    for (_user, session), row in _memo(truth, expected_learner_program_stats).items():
        per_learner[session].append(row)
    reach = _learners_with_access(truth, "program_session")
    result: dict[Key, Row] = {}
    for session in _rows(truth, "program_sessions"):
        rows = per_learner[session["_id"]]
        completed = sum(1 for r in rows if r["is_completed"])
        result[(session["_id"],)] = {
            "program_session_id": session["_id"],
            "program_session_name": session.get("name"),
            "learners_with_access": reach[session["_id"]],
            "learners_assigned": len(rows),
            "learners_started": sum(1 for r in rows if r["is_started"]),
            "learners_completed": completed,
            "completion_rate": _rate(completed, len(rows)),
            "avg_score": _mean(r["score"] for r in rows),
            "avg_time_spent_s": _mean(r["time_spent_s"] for r in rows),
        }
    return result


def expected_group_stats(truth: Truth) -> dict[Key, Row]:
    """Members, activity, reach and assigned-item completion per group (direct members)."""
    active = active_user_ids(truth)
    members: dict[str, set[str]] = defaultdict(set)
    for row in _rows(truth, "user_groups"):
        if row["user_id"] in active:
            members[row["group_id"]].add(row["user_id"])
    learners_active = {user for user, _course in _memo(truth, expected_learner_course_stats)}
    learners_active |= {
        user
        for (user, _s), row in _memo(truth, expected_learner_program_stats).items()
        if row["is_started"]
    }
    granted: dict[str, set[Key]] = defaultdict(set)
    for _user, item_type, item_id, _kind, group in _memo(truth, expected_learner_visibility_grants):
        if group is not None:
            granted[group].add((item_type, item_id))
    assigned_by_user: dict[str, list[bool]] = defaultdict(list)
    for (user, _type, _id), row in _memo(truth, expected_learner_visibility).items():
        if row["is_assigned"]:
            assigned_by_user[user].append(row["is_completed"])
    result: dict[Key, Row] = {}
    for group in _rows(truth, "groups"):
        users = members[group["_id"]]
        pairs = [done for user in users for done in assigned_by_user[user]]
        completed = sum(pairs)
        result[(group["_id"],)] = {
            "group_id": group["_id"],
            "group_name": group.get("name"),
            "parent_group_id": group.get("parent"),
            "members": len(users),
            "active_members": len(users & learners_active),
            "items_visible": len(granted[group["_id"]]),
            "assigned_pairs": len(pairs),
            "completed_pairs": completed,
            "completion_rate": _rate(completed, len(pairs)),
        }
    return result


EXPECTED: dict[str, Callable[[Truth], dict[Key, Row]]] = {
    "learner_visibility_grants": expected_learner_visibility_grants,
    "learner_visibility": expected_learner_visibility,
    "learner_course_stats": expected_learner_course_stats,
    "learner_program_stats": expected_learner_program_stats,
    "course_stats": expected_course_stats,
    "program_session_stats": expected_program_session_stats,
    "group_stats": expected_group_stats,
}

KEYS: dict[str, tuple[str, ...]] = {
    "learner_visibility_grants": ("user_id", "item_type", "item_id", "grant_type", "group_id"),
    "learner_visibility": ("user_id", "item_type", "item_id"),
    "learner_course_stats": ("user_id", "course_id"),
    "learner_program_stats": ("user_id", "program_session_id"),
    "course_stats": ("course_id",),
    "program_session_stats": ("program_session_id",),
    "group_stats": ("group_id",),
}


def expected_models(truth: Truth) -> dict[str, dict[Key, Row]]:
    """Every model, computed from one truth snapshot."""
    snapshot = Snapshot(truth)
    return {name: _memo(snapshot, compute) for name, compute in EXPECTED.items()}


def normalize(value: Any) -> Any:
    """A warehouse value in comparable form: numbers as float, timestamps as aware UTC."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, datetime):
        return ts(value).astimezone(UTC)
    return value


def same(expected: Any, actual: Any) -> bool:
    """Equality with float tolerance and timestamps compared as instants."""
    if isinstance(expected, datetime) and isinstance(actual, str):
        actual = ts(actual)
    expected, actual = normalize(expected), normalize(actual)
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-6)
    return expected == actual


def diff_rows(
    model: str, expected: Mapping[Key, Row], actual_rows: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Human-readable differences between expected rows and warehouse rows (empty = equal)."""
    keys = KEYS[model]
    problems: list[str] = []
    actual: dict[Key, Mapping[str, Any]] = {}
    for row in actual_rows:
        key = tuple(row[k] for k in keys)
        if key in actual:
            problems.append(f"{model}: duplicate key {key}")
        actual[key] = row
    for key in sorted(set(expected) - set(actual), key=repr):
        problems.append(f"{model}: missing row {key}")
    for key in sorted(set(actual) - set(expected), key=repr):
        problems.append(f"{model}: unexpected row {key}: {dict(actual[key])}")
    for key in sorted(set(expected) & set(actual), key=repr):
        want, got = expected[key], actual[key]
        if set(want) != set(got):
            problems.append(f"{model}: columns {sorted(got)} != expected {sorted(want)}")
            continue
        for column, value in want.items():
            if not same(value, got[column]):
                problems.append(f"{model} {key}.{column}: got {got[column]!r}, want {value!r}")
    return problems
