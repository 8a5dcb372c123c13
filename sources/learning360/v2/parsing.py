"""v2 DTOs -> rows of v1's raw tables (and the v2-only tables). Pure functions, no I/O.

Rows keep every v2 field (dlt snake_cases them: ``authorId`` -> ``author_id``) and add v1's
column where the data is the same but the name differs, so the contract columns of
docs/architecture.md are filled and the derived models run unchanged:

====================  ==========================================================================
table                 v1 column  <-  v2 field
====================  ==========================================================================
courses               ``creation_date`` <- createdAt, ``modification_date`` <- modifiedAt,
                      ``group`` <- groupId, ``lang`` <- defaultLang, ``course_duration`` <-
                      duration (minutes), ``author`` NULL: the author is ``author_id``
                      (a mail copied here would go stale when the user changes it; the
                      models join ``users`` for it)
users                 ``deleted`` <- ``status == "deleted"``; ``deletedAt``/``reactivatedAt``
                      (lists of dates in v2) -> the latest date
groups                ``parent`` <- parentId
user_groups           one row per (user, group); ``role`` <- v2 role mapped back to v1's names
group_catalog         course-ids -> item_type ``course``; path-session-ids -> ``path_session``
user_path_sessions    ``path_session_id`` <- sessionId, ``total_time_spent_in_seconds`` <-
                      timeSpent (ms) / 1000, ``enrollment_id`` <- _id (the enrolment)
user_courses          ``global_time`` <- timeSpent (ms), ``first_activity`` <- firstActivityAt,
                      ``last_activity`` <- lastActivityAt, ``path`` <- pathId, ``path_session``
                      <- pathSessionId
====================  ==========================================================================

A v2 field whose snake_case *is* the v1 column (``courseId`` -> ``course_id``) is renamed, not
copied: two keys that normalise to one column would collide in dlt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..tables import ROLE_PRECEDENCE, V1_ROLE

Row = dict[str, Any]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _latest(value: Any) -> Any:
    """v2 sends some dates as lists (``deletedAt: [date]``): the latest one."""
    if isinstance(value, list):
        dates = [v for v in value if isinstance(v, str)]
        return max(dates) if dates else None
    return value


def _rename(row: Row, old: str, new: str) -> None:
    if old in row:
        row[new] = row.pop(old)
    else:
        row.setdefault(new, None)


def course_row(element: Mapping[str, Any]) -> Row:
    row = dict(element)
    row["creation_date"] = element.get("createdAt")
    row["modification_date"] = element.get("modifiedAt")
    row["group"] = element.get("groupId")
    row["lang"] = element.get("defaultLang")
    row["course_duration"] = element.get("duration")
    row["author"] = None  # v1's mail column; v2 names the author by id (author_id) only
    return row


def user_row(element: Mapping[str, Any]) -> Row:
    row = dict(element)
    row["deleted"] = element.get("status") == "deleted" or bool(element.get("deleted"))
    for field, column in (("deletedAt", "deleted_at"), ("reactivatedAt", "reactivated_at")):
        if field in row:
            row[column] = _latest(row.pop(field))
    return row


def group_row(element: Mapping[str, Any]) -> Row:
    row = dict(element)
    row["parent"] = element.get("parentId")
    return row


def membership_rows(group_id: str, roles: Iterable[Any]) -> list[Row]:
    """``/groups/{id}/roles`` (``{userId, role}``, possibly several roles per user) -> one
    ``user_groups`` row per user: the first role of v1's order (admin, author, coach, learner),
    else the first v2-only role seen."""
    chosen: dict[str, tuple[int, str, str]] = {}
    for element in roles:
        if not isinstance(element, Mapping):
            continue
        user_id, v2_role = _str(element.get("userId")), _str(element.get("role"))
        if not user_id or not v2_role:
            continue
        role = V1_ROLE.get(v2_role, v2_role)
        rank = ROLE_PRECEDENCE.index(role) if role in ROLE_PRECEDENCE else len(ROLE_PRECEDENCE)
        if user_id not in chosen or rank < chosen[user_id][0]:
            chosen[user_id] = (rank, role, v2_role)
    return [
        {"user_id": user_id, "group_id": group_id, "role": role, "v2_role": v2_role}
        for user_id, (_, role, v2_role) in chosen.items()
    ]


def catalog_rows(group_id: str, course_ids: Iterable[Any], session_ids: Iterable[Any]) -> list[Row]:
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    for item_type, ids in (("course", course_ids), ("path_session", session_ids)):
        for item_id in ids:
            item_id = _str(item_id) or (
                _str(item_id.get("_id")) if isinstance(item_id, Mapping) else None
            )
            if item_id and (item_type, item_id) not in seen:
                seen.add((item_type, item_id))
                rows.append({"group_id": group_id, "item_type": item_type, "item_id": item_id})
    return rows


def path_stat_row(element: Mapping[str, Any]) -> Row:
    row = dict(element)
    row["enrollment_id"] = row.pop("_id", None)
    _rename(row, "userId", "user_id")
    _rename(row, "pathId", "path_id")
    row["path_session_id"] = element.get("sessionId")
    spent = element.get("timeSpent")
    row["total_time_spent_in_seconds"] = spent / 1000 if isinstance(spent, int | float) else None
    return row


def attempt_row(element: Mapping[str, Any]) -> Row:
    row = dict(element)
    _rename(row, "courseId", "course_id")
    _rename(row, "userId", "user_id")
    row["global_time"] = element.get("timeSpent")
    row["first_activity"] = element.get("firstActivityAt")
    row["last_activity"] = element.get("lastActivityAt")
    row["path"] = element.get("pathId")
    row["path_session"] = element.get("pathSessionId")
    return row


# ---- v2-only tables --------------------------------------------------------------------------


def certificate_row(user_id: str, element: Mapping[str, Any]) -> Row:
    row = dict(element)
    row.setdefault("userId", user_id)
    _rename(row, "userId", "user_id")
    return row


def custom_value_rows(user_id: str, values: Iterable[Any]) -> list[Row]:
    rows: list[Row] = []
    seen: set[str] = set()
    for element in values:
        if not isinstance(element, Mapping):
            continue
        field_id = _str(element.get("customFieldId"))
        if not field_id or field_id in seen:
            continue
        seen.add(field_id)
        row = {k: v for k, v in element.items() if k != "customFieldId"}
        value = row.get("value")
        if value is not None and not isinstance(value, str):
            row["value"] = str(value)  # string and date fields share one text column
        row.update(user_id=user_id, custom_field_id=field_id)
        rows.append(row)
    return rows


def slot_row(classroom_id: str, element: Mapping[str, Any]) -> Row:
    row = dict(element)
    row.setdefault("classroomId", classroom_id)
    _rename(row, "classroomId", "classroom_id")
    context = row.pop("context", None)
    if isinstance(context, Mapping):
        row["context_id"] = context.get("_id")
        row["context_type"] = context.get("type")
    return row


def registration_row(classroom_id: str, element: Mapping[str, Any]) -> Row:
    row = dict(element)
    _rename(row, "classroomSlotId", "classroom_slot_id")
    row["classroom_id"] = classroom_id
    return row
