"""The table registry: one :class:`TableSpec` per table and API version (docs/architecture.md).
Types follow the v2 OpenAPI for both versions; v2 keeps the name, key and columns of the tables
v1 loads too, so the models run unchanged on either version."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming

from .cursors import Row
from .v1 import parsing as v1

snake_case = SnakeCaseNaming().normalize_identifier

USER_BUCKETS = 4096  # users' fingerprint buckets (refresh.py)
# top-level lists (users.groups ...) become child tables, deeper ones JSON; link tables use 0
MAX_TABLE_NESTING = 1
FEED_CHUNK_SIZE = 500  # parent listings reach fan-outs in chunks of this many elements
RowMapper = Callable[[Any, Any], Iterable[Row]]  # (element or (parent, answer), V1Api) -> rows
TS, TEXT, BOOL, NUM, INT = "timestamp", "text", "bool", "double", "bigint"


@dataclass(frozen=True)
class TableSpec:
    """One table (or unloaded feed, no key) of one API version. A v1 spec with ``rows`` is
    generated (``v1/resources.py``): it lists ``routes[-1]``, or reads it per parent element and
    maps ``(parent, answer)`` (each parent element if the parent read that route)."""

    name: str
    primary_key: tuple[str, ...]
    write_disposition: Literal["merge", "replace"]
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> dlt data type
    routes: tuple[str, ...] = ()  # keys of routes.V1_ROUTES / V2_ROUTES, in call order
    parent: str | None = None  # the feed or table it fans out from
    merge_key: str | None = None  # v2: a re-read parent's rows replace its previous ones
    rows: RowMapper | None = None
    heavy: bool = False  # large answers: hold only a few at a time (parallel.FanOut)
    cursor: str | None = None  # API field tracked by dlt.sources.incremental
    server_filter: str | None = None  # query parameter the cursor (minus the lag) is sent as
    nesting: int = MAX_TABLE_NESTING
    partition: str | None = None  # BigQuery: partitioned by day of this column
    cluster: tuple[str, ...] = ()  # BigQuery: clustered by these columns
    # v2 rows (v2/parsing.py v1_row): v1 column <- v2 field of another name, copied; a v2 field
    # whose snake_case is the v1 column is renamed instead (two keys normalising to one collide)
    copies: dict[str, str] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)

    @property
    def cursor_column(self) -> str | None:
        return snake_case(self.cursor) if self.cursor else None

    def hints(self, *, incremental_cursor: bool = True) -> dict[str, Any]:
        """dlt resource hints. dlt.sources.incremental hints the cursor under its API name:
        the column takes that key too, or dlt would warn of two columns normalising to one."""
        if not self.primary_key:  # a feed: read for its children (dlt forks it), not loaded
            return {"name": self.name, "selected": False}
        columns = {
            column: {"data_type": data_type, "nullable": column not in self.primary_key}
            for column, data_type in self.columns.items()
        }
        if incremental_cursor and self.cursor and self.cursor_column in columns:
            columns[self.cursor] = columns.pop(self.cursor_column)
        return {
            "name": self.name,
            "primary_key": list(self.primary_key),
            "write_disposition": self.write_disposition,
            "max_table_nesting": self.nesting,
            "columns": columns,
        }


def _pairs(to_rows: Callable[[Row, Any], Iterable[Row]]) -> RowMapper:
    """A mapper of ``(parent, answer)``; no row for None (item deleted mid-sync)."""
    return lambda pair, api: () if pair[1] is None else to_rows(*pair)


def _by_spec(*specs: TableSpec) -> dict[str, TableSpec]:
    return {spec.name: spec for spec in specs}


def _itself(element: Row, api: Any) -> list[Row]:
    return [element]


# v1 feeds (never loaded): one request feeds every selected child (dlt forks a feed to each);
# a group deleted between getGroups and getGroup keeps its listing row, without members
V1_FEEDS = _by_spec(
    TableSpec("user_list", (), "replace", routes=("users",), rows=_itself),
    TableSpec("group_list", (), "replace", routes=("groups",), rows=_itself),
    TableSpec("program_session_list", (), "replace", routes=("program_sessions",), rows=_itself),
    TableSpec("group_details", (), "replace", routes=("groups", "group"), parent="group_list",
              rows=lambda pair, api: [v1.merge_details(*pair)]),
)  # fmt: skip

# fmt: off
V1_TABLES = _by_spec(
    # hand-written (v1/resources.py): getCourse details for new and changed courses
    TableSpec("courses", ("_id",), "merge", routes=("courses", "course"),
              cursor="modificationDate", server_filter="modifiedAfter",
              columns={"_id": TEXT, "name": TEXT, "status": TEXT, "author": TEXT,
                       "author_id": TEXT, "creation_date": TS, "modification_date": TS,
                       "group": TEXT, "lang": TEXT, "course_duration": NUM}),
    # hand-written: getUser for new / changed users and a rotating slice (refresh.py)
    TableSpec("users", ("_id",), "merge", routes=("users", "user"),
              columns={"_id": TEXT, "mail": TEXT, "first_name": TEXT, "last_name": TEXT,
                       "primary_group_id": TEXT, "deleted": BOOL,
                       # set when the complete listing stops returning the user
                       "deleted_noticed_at": TS}),
    TableSpec("groups", ("_id",), "replace", routes=("groups", "group"), parent="group_details",
              rows=lambda details, api: [v1.group_row(details)],
              columns={"_id": TEXT, "name": TEXT, "parent": TEXT, "public": BOOL}),
    TableSpec("user_groups", ("user_id", "group_id"), "replace", routes=("groups", "group"),
              parent="group_details", rows=lambda details, api: v1.group_memberships(details),
              nesting=0, cluster=("group_id", "user_id"),
              columns={"user_id": TEXT, "group_id": TEXT, "role": TEXT}),
    TableSpec("group_catalog", ("group_id", "item_type", "item_id"), "replace",
              routes=("groups", "group_catalog"), parent="group_list",
              rows=v1.group_catalog_rows, nesting=0, cluster=("group_id", "item_type"),
              columns={"group_id": TEXT, "item_type": TEXT, "item_id": TEXT}),
    # hand-written: the sessions' `groups`; getGroupPrograms per group if a tenant omits it
    TableSpec("group_programs", ("group_id", "program_session_id"), "replace",
              routes=("program_sessions", "group_programs"), parent="program_session_list",
              nesting=0, columns={"group_id": TEXT, "program_session_id": TEXT}),
    TableSpec("program_sessions", ("_id",), "replace", routes=("program_sessions",),
              parent="program_session_list", rows=_itself,
              columns={"_id": TEXT, "name": TEXT, "start_date": TS, "end_date": TS,
                       "program_template": TEXT, "modified_at": TS}),
    TableSpec("paths", ("_id",), "merge", routes=("paths",), rows=_itself,
              cursor="modifiedAt", server_filter="modifiedAfter",
              columns={"_id": TEXT, "name": TEXT, "author_id": TEXT, "group_id": TEXT,
                       "created_at": TS, "modified_at": TS}),
    TableSpec("path_sessions", ("_id",), "replace", routes=("path_sessions",), rows=_itself,
              columns={"_id": TEXT, "path_id": TEXT, "name": TEXT, "group_id": TEXT,
                       "start_date": TS, "end_date": TS, "created_at": TS, "modified_at": TS}),
    TableSpec("user_path_sessions", ("user_id", "path_session_id"), "replace",
              routes=("path_sessions", "path_session_user_stats"), parent="path_sessions",
              rows=_pairs(v1.path_session_user_rows), heavy=True,
              columns={"user_id": TEXT, "path_id": TEXT, "path_session_id": TEXT,
                       "progress": INT, "score": INT, "completed_at": TS,
                       "total_time_spent_in_seconds": NUM}),
    # hand-written, as pyarrow tables: bulk (courses_stats) or per_user (user_courses)
    TableSpec("user_courses", ("_id",), "merge", routes=("courses_stats",),
              cursor="lastActivity", server_filter="lastActivityAtAfter",
              partition="last_activity", cluster=("course_id", "user_id"),
              columns={"_id": TEXT, "user_id": TEXT, "course_id": TEXT, "progress": INT,
                       "score": INT, "completed_at": TS, "first_activity": TS,
                       "last_activity": TS, "global_time": NUM, "path": TEXT,
                       "path_session": TEXT,
                       # set when v2's full /courses/stats read stops returning it (never v1)
                       "deleted": BOOL, "deleted_noticed_at": TS}),
    # bulk (per_user: V1_PER_USER below, same rows); no v2 equivalent: v1's numbers stay double
    TableSpec("user_programs", ("user_id", "program_session_id"), "replace",
              routes=("program_sessions", "program_session_stats"),
              parent="program_session_list", rows=_pairs(v1.program_stats_rows), heavy=True,
              cluster=("program_session_id", "user_id"),
              columns={"user_id": TEXT, "program_session_id": TEXT, "progress": NUM,
                       "total_time_spent_in_seconds": NUM, "score": NUM, "completed_at": TS}),
)
# fmt: on

# user_programs_strategy = "per_user": getUserPrograms per user, same table
V1_PER_USER = {
    "user_programs": replace(
        V1_TABLES["user_programs"],
        routes=("users", "user_programs"),
        parent="user_list",
        rows=_pairs(v1.user_programs_rows),
        heavy=False,
    )
}

# v2 role -> v1's (docs/emulator-v2.md; v2-only roles keep their name); of a user's roles in a
# group, the first in v1's member-list order wins, so (user, group) stays a key
V1_ROLE = {"admin": "admin", "editor": "author", "coach": "coach", "learner": "learner"}
ROLE_PRECEDENCE = tuple(v1.MEMBER_LIST_ROLES.values())
# v1 tables v2 cannot produce (program sessions have no v2 route)
V1_ONLY_TABLES = ("program_sessions", "group_programs", "user_programs")


def _v2(name: str, routes: tuple[str, ...], v1_extra: dict[str, str], **kw: Any) -> TableSpec:
    """A v2 table v1 loads too: v1's key, columns and BigQuery hints, plus v2's columns."""
    spec = V1_TABLES[name]
    kw = {"rows": None, "parent": None, "heavy": False, **kw}
    return replace(spec, routes=routes, columns={**spec.columns, **v1_extra}, **kw)


_V2_CURSOR = {"cursor": "modifiedAt", "server_filter": "modifiedAt[gte]"}

# fmt: off
V2_TABLES = _by_spec(
    # ---- the tables v1 loads too ----------------------------------------------------------
    # courses' ``author`` mail stays NULL: the models join ``users`` on ``author_id``
    _v2("courses", ("courses",),
        {"author_id": TEXT, "group_id": TEXT, "created_at": TS, "modified_at": TS,
         "duration": NUM, "current_version_number": INT}, **_V2_CURSOR,
        copies={"creation_date": "createdAt", "modification_date": "modifiedAt",
                "group": "groupId", "lang": "defaultLang", "course_duration": "duration"}),
    _v2("users", ("users",), {"status": TEXT, "deleted_at": TS, "reactivated_at": TS,
                              "last_login_date": TS, "to_be_deactivated_at": TS},
        write_disposition="replace"),
    _v2("groups", ("groups",), {"parent_id": TEXT}, copies={"parent": "parentId"}),
    _v2("user_groups", ("groups", "group_roles"), {"v2_role": TEXT}, write_disposition="merge",
        parent="groups", merge_key="group_id"),
    _v2("group_catalog", ("groups", "catalog_course_ids", "catalog_path_session_ids"), {},
        write_disposition="merge", parent="groups", merge_key="group_id"),
    _v2("paths", ("paths",), {"status": TEXT, "estimated_duration__value": NUM,
                              "estimated_weekly_commitment__min": NUM,
                              "estimated_weekly_commitment__max": NUM}, **_V2_CURSOR),
    # replace, like v1, though v2 could filter by modifiedAt: sessions are few (500 a page), a
    # full read drops deleted ones, and replace -> merge breaks dlt's nested tables
    _v2("path_sessions", ("path_sessions",),
        {"user_limit": INT, "automatic_reenrollment__delay_days": NUM,
         "automatic_reenrollment__recurrence_months": NUM}),
    _v2("user_path_sessions", ("path_stats",),
        {"time_spent": NUM, "enrollment_id": TEXT, "session_id": TEXT, "enrolled_at": TS,
         "unenrolled_at": TS, "started_at": TS, "due_date": TS},
        copies={"path_session_id": "sessionId"},
        renames={"_id": "enrollment_id", "userId": "user_id", "pathId": "path_id"}),
    # a full re-read every run by default; between full reads optionally completedAt[gte] only
    _v2("user_courses", ("course_stats",),
        {"time_spent": NUM, "first_activity_at": TS, "last_activity_at": TS, "path_id": TEXT,
         "path_session_id": TEXT, "version_number": INT},
        cursor="completedAt", server_filter="completedAt[gte]",
        copies={"global_time": "timeSpent", "first_activity": "firstActivityAt",
                "last_activity": "lastActivityAt", "path": "pathId",
                "path_session": "pathSessionId"},
        renames={"courseId": "course_id", "userId": "user_id"}),
    # ---- v2-only tables (the emulator's truth tables of the same names) -------------------
    TableSpec("skills", ("_id",), "replace", routes=("skills",),
              columns={"_id": TEXT, "name": TEXT, "status": TEXT, "library_id": TEXT,
                       "created_at": TS, "updated_at": TS}),
    # read for learners with a path completion since the newest deliveryDate - lag
    TableSpec("user_certificates", ("_id",), "merge", routes=("path_stats", "user_certificates"),
              cursor="deliveryDate", server_filter="deliveryDate[gte]", nesting=0,
              columns={"_id": TEXT, "user_id": TEXT, "path_id": TEXT, "path_session_id": TEXT,
                       "certificate_outline_id": TEXT, "delivery_date": TS,
                       "expiration_date": TS, "title": TEXT, "type": TEXT,
                       "validity_period": NUM}, renames={"userId": "user_id"}),
    TableSpec("custom_fields", ("_id",), "replace", routes=("custom_fields",),
              columns={"_id": TEXT, "name": TEXT, "target_type": TEXT, "type": TEXT}),
    TableSpec("user_custom_fields", ("user_id", "custom_field_id"), "merge",
              routes=("users", "user_custom_field_values"), nesting=0, parent="users",
              merge_key="user_id",
              columns={"user_id": TEXT, "custom_field_id": TEXT, "type": TEXT, "value": TEXT}),
    TableSpec("classrooms", ("_id",), "replace", routes=("classrooms",),
              columns={"_id": TEXT, "name": TEXT, "group_id": TEXT, "created_at": TS,
                       "modified_at": TS}),
    TableSpec("classroom_slots", ("_id",), "replace", routes=("classrooms", "classroom_slots"),
              parent="classrooms",
              columns={"_id": TEXT, "classroom_id": TEXT, "name": TEXT, "start_date": TS,
                       "end_date": TS, "context_type": TEXT, "context_id": TEXT,
                       "virtual": BOOL, "created_at": TS, "modified_at": TS,
                       "reported_duration": NUM, "max_capacity": NUM,
                       "self_registration__cutoff_date": TS},
              renames={"classroomId": "classroom_id"}),
    TableSpec("classroom_slot_registrations", ("_id",), "replace",
              routes=("classrooms", "classroom_registrations"), parent="classrooms",
              columns={"_id": TEXT, "classroom_slot_id": TEXT, "classroom_id": TEXT,
                       "user_id": TEXT, "path_id": TEXT, "created_at": TS, "modified_at": TS,
                       "has_attended": BOOL, "status": TEXT, "archived_at": TS,
                       "attendance_duration": NUM, "rsvp__last_updated_at": TS},
              renames={"classroomSlotId": "classroom_slot_id"}),
)
# fmt: on
