"""v2 DTOs -> rows (no I/O). Rows keep every v2 field and add v1's column where v1 names the
data otherwise, so the contract columns are filled and the models run unchanged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..cursors import Row
from ..tables import ROLE_PRECEDENCE, V1_ROLE, V2_TABLES


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _latest(value: Any) -> Any:
    """v2 sends some dates as lists (``deletedAt: [date]``): the latest one."""
    if isinstance(value, list):
        return max((v for v in value if isinstance(v, str)), default=None)
    return value


def v1_row(table: str, element: Mapping[str, Any], **defaults: Any) -> Row:
    """``element`` with ``table``'s v1 columns; ``defaults`` fill fields a child route omits."""
    row = {**defaults, **element}
    spec = V2_TABLES[table]
    for column, v2_field in spec.copies.items():
        row[column] = element.get(v2_field)
    for v2_field, column in spec.renames.items():
        row[column] = row.pop(v2_field) if v2_field in row else row.get(column)
    return row


def course_row(element: Mapping[str, Any]) -> Row:
    return {**v1_row("courses", element), "author": None}


def user_row(element: Mapping[str, Any]) -> Row:
    row = dict(element)
    row["deleted"] = element.get("status") == "deleted" or bool(element.get("deleted"))
    for field, column in (("deletedAt", "deleted_at"), ("reactivatedAt", "reactivated_at")):
        if field in row:
            row[column] = _latest(row.pop(field))
    return row


def path_stat_row(element: Mapping[str, Any]) -> Row:
    row = v1_row("user_path_sessions", element)
    spent = element.get("timeSpent")  # ms
    row["total_time_spent_in_seconds"] = spent / 1000 if isinstance(spent, int | float) else None
    return row


def certificate_row(user_id: str, element: Mapping[str, Any]) -> Row:
    return v1_row("user_certificates", element, userId=user_id)


def registration_row(classroom_id: str, element: Mapping[str, Any]) -> Row:
    return {**v1_row("classroom_slot_registrations", element), "classroom_id": classroom_id}


def slot_row(classroom_id: str, element: Mapping[str, Any]) -> Row:
    row = v1_row("classroom_slots", element, classroomId=classroom_id)
    context = row.pop("context", None)
    if isinstance(context, Mapping):
        row["context_id"] = context.get("_id")
        row["context_type"] = context.get("type")
    return row


def membership_rows(group_id: str, roles: Iterable[Any]) -> list[Row]:
    """One ``user_groups`` row per user of ``/groups/{id}/roles``: the first role of v1's order
    (ROLE_PRECEDENCE), else the first v2-only role seen."""
    chosen: dict[str, tuple[int, str, str]] = {}
    for element in (e for e in roles if isinstance(e, Mapping)):
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


def custom_value_rows(user_id: str, values: Iterable[Any]) -> list[Row]:
    rows: dict[str, Row] = {}
    for element in values:
        field_id = _str(element.get("customFieldId")) if isinstance(element, Mapping) else None
        if field_id and field_id not in rows:
            row = {k: v for k, v in element.items() if k != "customFieldId"}
            if row.get("value") is not None and not isinstance(row["value"], str):
                row["value"] = str(row["value"])  # string and date fields share one text column
            rows[field_id] = {**row, "user_id": user_id, "custom_field_id": field_id}
    return list(rows.values())
