"""The v2 resource table as data: for each table, its v2 routes, the scope they need, primary
key, write disposition and incremental cursor. ``docs/migration-v2.md`` is the contract.

The tables v1 also loads keep v1's name, primary key and contract columns (with v1's declared
types, taken from ``..settings.RESOURCES``), so the derived models run unchanged on either
version and a pipeline can switch versions in place. The v2-only tables follow the emulator's
truth tables of the same names (docs/emulator-v2.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..routes import SCOPES
from ..settings import MAX_TABLE_NESTING, RESOURCES

# v2 role names -> v1's (the emulator's mapping, docs/emulator-v2.md); v2-only roles (analyst,
# contributor, owner, userAdmin) keep their v2 name. When a user holds several roles in one
# group, the first of ROLE_PRECEDENCE wins (v1's member-list order), so (user, group) stays a key.
V1_ROLE = {"admin": "admin", "editor": "author", "coach": "coach", "learner": "learner"}
ROLE_PRECEDENCE = ("admin", "author", "coach", "learner")

# v1 tables v2 cannot produce (program sessions have no v2 route)
V1_ONLY_TABLES = ("program_sessions", "group_programs", "user_programs")

Disposition = Literal["merge", "replace"]
# the official OpenAPI's `number` -> double, `integer` -> bigint, `date-time` -> timestamp
# (SPEC_ROWS below; tests/v2/test_spec_types.py holds every hint to the spec)
TS, TEXT, BOOL, NUM, INT = "timestamp", "text", "bool", "double", "bigint"


@dataclass(frozen=True)
class V2Spec:
    name: str
    routes: tuple[str, ...]  # keys of ROUTES, in call order
    primary_key: tuple[str, ...]
    write_disposition: Disposition
    cursor: str | None = None  # v2 field tracked by dlt.sources.incremental
    server_filter: str | None = None  # filter the cursor (minus the lag) is sent as
    nesting: int = MAX_TABLE_NESTING
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(SCOPES[route] for route in self.routes))


def _v1_columns(name: str, **extra: str) -> dict[str, str]:
    return {**RESOURCES[name].columns, **extra}


# fmt: off
V2_RESOURCES: dict[str, V2Spec] = {spec.name: spec for spec in (
    # ---- the tables v1 loads too: same keys, same contract columns --------------------------
    V2Spec("courses", ("courses",), ("_id",), "merge",
           cursor="modifiedAt", server_filter="modifiedAt[gte]",
           columns=_v1_columns("courses", author_id=TEXT, group_id=TEXT, created_at=TS,
                               modified_at=TS, duration=NUM, current_version_number=INT)),
    V2Spec("users", ("users",), ("_id",), "replace",
           columns=_v1_columns("users", status=TEXT, deleted_at=TS, reactivated_at=TS,
                               last_login_date=TS, to_be_deactivated_at=TS)),
    V2Spec("groups", ("groups",), ("_id",), "replace",
           columns=_v1_columns("groups", parent_id=TEXT)),
    # merge (merge_key group_id): a re-read group's members replace its rows (v2/refresh.py)
    V2Spec("user_groups", ("groups", "group_roles"), ("user_id", "group_id"), "merge",
           nesting=0, columns=_v1_columns("user_groups", v2_role=TEXT)),
    V2Spec("group_catalog", ("groups", "catalog_course_ids", "catalog_path_session_ids"),
           ("group_id", "item_type", "item_id"), "merge", nesting=0,
           columns=_v1_columns("group_catalog")),
    V2Spec("paths", ("paths",), ("_id",), "merge",
           cursor="modifiedAt", server_filter="modifiedAt[gte]",
           columns=_v1_columns("paths", status=TEXT, estimated_duration__value=NUM,
                               estimated_weekly_commitment__min=NUM,
                               estimated_weekly_commitment__max=NUM)),
    # replace, like v1, although v2 could filter by modifiedAt: sessions are few (500 a page),
    # a full read also drops deleted sessions, and a pipeline switching from v1 keeps its
    # disposition (replace -> merge breaks dlt's nested tables: a NOT NULL _dlt_root_id)
    V2Spec("path_sessions", ("path_sessions",), ("_id",), "replace",
           columns=_v1_columns("path_sessions", user_limit=INT,
                               automatic_reenrollment__delay_days=NUM,
                               automatic_reenrollment__recurrence_months=NUM)),
    V2Spec("user_path_sessions", ("path_stats",), ("user_id", "path_session_id"), "replace",
           columns=_v1_columns("user_path_sessions", time_spent=NUM, enrollment_id=TEXT,
                               session_id=TEXT, enrolled_at=TS, unenrolled_at=TS,
                               started_at=TS, due_date=TS)),
    # full re-read every run by default; between full reads optionally completedAt[gte] only
    V2Spec("user_courses", ("course_stats",), ("_id",), "merge",
           cursor="completedAt", server_filter="completedAt[gte]",
           columns=_v1_columns("user_courses", time_spent=NUM, first_activity_at=TS,
                               last_activity_at=TS, path_id=TEXT, path_session_id=TEXT,
                               version_number=INT)),
    # ---- v2-only tables (the emulator's truth tables of the same names) ---------------------
    V2Spec("skills", ("skills",), ("_id",), "replace",
           columns={"_id": TEXT, "name": TEXT, "status": TEXT, "library_id": TEXT,
                    "created_at": TS, "updated_at": TS}),
    # read for learners with a path completion since the newest deliveryDate - lag
    V2Spec("user_certificates", ("path_stats", "user_certificates"), ("_id",), "merge",
           cursor="deliveryDate", server_filter="deliveryDate[gte]", nesting=0,
           columns={"_id": TEXT, "user_id": TEXT, "path_id": TEXT, "path_session_id": TEXT,
                    "certificate_outline_id": TEXT, "delivery_date": TS, "expiration_date": TS,
                    "title": TEXT, "type": TEXT, "validity_period": NUM}),
    V2Spec("custom_fields", ("custom_fields",), ("_id",), "replace",
           columns={"_id": TEXT, "name": TEXT, "target_type": TEXT, "type": TEXT}),
    V2Spec("user_custom_fields", ("users", "user_custom_field_values"),
           ("user_id", "custom_field_id"), "merge", nesting=0,
           columns={"user_id": TEXT, "custom_field_id": TEXT, "type": TEXT, "value": TEXT}),
    V2Spec("classrooms", ("classrooms",), ("_id",), "replace",
           columns={"_id": TEXT, "name": TEXT, "group_id": TEXT, "created_at": TS,
                    "modified_at": TS}),
    V2Spec("classroom_slots", ("classrooms", "classroom_slots"), ("_id",), "replace",
           columns={"_id": TEXT, "classroom_id": TEXT, "name": TEXT, "start_date": TS,
                    "end_date": TS, "context_type": TEXT, "context_id": TEXT, "virtual": BOOL,
                    "created_at": TS, "modified_at": TS, "reported_duration": NUM,
                    "max_capacity": NUM,
                    "self_registration__cutoff_date": TS}),
    V2Spec("classroom_slot_registrations", ("classrooms", "classroom_registrations"), ("_id",),
           "replace",
           columns={"_id": TEXT, "classroom_slot_id": TEXT, "classroom_id": TEXT,
                    "user_id": TEXT, "path_id": TEXT, "created_at": TS, "modified_at": TS,
                    "has_attended": BOOL, "status": TEXT, "archived_at": TS,
                    "attendance_duration": NUM, "rsvp__last_updated_at": TS}),
)}
# fmt: on

# Where each table's rows come from in the official OpenAPI (the 200 schema of a list route), and
# the contract columns filled from a v2 field of another name (parsing.py). Every other hinted
# column is the snake_case of its v2 field (nested objects flattened with ``__``). The unit test
# checks each hint against the spec's type, and that no spec number/integer/date-time field of
# those rows is left to dlt's inference (an integer-looking first value would make it bigint).
SPEC_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    "courses": (
        "/courses",
        {
            "creation_date": "createdAt",
            "modification_date": "modifiedAt",
            "course_duration": "duration",
        },
    ),
    "users": ("/users", {"deleted_at": "deletedAt", "reactivated_at": "reactivatedAt"}),
    "groups": ("/groups", {}),
    "user_groups": ("/groups/{groupId}/roles", {}),
    "paths": ("/paths", {}),
    "path_sessions": ("/paths/sessions", {}),
    "user_path_sessions": ("/paths/stats", {"total_time_spent_in_seconds": "timeSpent"}),
    "user_courses": (
        "/courses/stats",
        {
            "global_time": "timeSpent",
            "first_activity": "firstActivityAt",
            "last_activity": "lastActivityAt",
        },
    ),
    "skills": ("/skills", {}),
    "user_certificates": ("/users/{userId}/certificates", {}),
    "custom_fields": ("/custom-fields", {}),
    "user_custom_fields": ("/users/{userId}/custom-fields/values", {}),
    "classrooms": ("/classrooms", {}),
    "classroom_slots": ("/classrooms/{classroomId}/slots", {}),
    "classroom_slot_registrations": ("/classrooms/{classroomId}/registrations", {}),
}

# every scope a full v2 sync needs, in the order of the table above
REQUIRED_SCOPES = tuple(
    dict.fromkeys(scope for spec in V2_RESOURCES.values() for scope in spec.scopes)
)
