"""The resource table as data: for each table, its v1 routes, primary key, write disposition,
incremental cursor and nesting, in one screen. The resources in ``v1/resources.py`` take
their dlt hints from here; ``docs/architecture.md`` ("Raw tables") is the contract.

Feeds are internal, unselected resources that several tables read from, so one HTTP call
feeds every selected table and ``with_resources("user_groups")`` alone still works
(dlt evaluates a feed once and forks it to each selected child, loading nothing of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming

_snake_case = SnakeCaseNaming().normalize_identifier

# users are hashed into this many buckets; a bucket's users get getUser again when the bucket's
# list-level fingerprint changes (new, renamed, deleted user) or when its refresh is due.
USER_BUCKETS = 4096

# Top-level lists (paths.steps, program_sessions.modules, users.groups ...) become child
# tables joined by _dlt_parent_id; anything deeper stays a JSON column.
MAX_TABLE_NESTING = 1
# Parent listings are handed to fan-out transformers in chunks of this many elements.
FEED_CHUNK_SIZE = 500
# Rows per pyarrow table for the big flat tables (user_courses): the arrow path skips dlt's
# per-row normalizer (~12k rows/s) and loads parquet as is. 5,000 rows (~5 MB as dicts)
# is as fast as 20,000 and keeps the batch being built small.
ARROW_BATCH_ROWS = 5_000
# Rows of per-session stats handed to dlt at a time, and how many such answers (one row per
# enrolled user each) are handed on together; such a fan-out also holds at most 2 x workers
# finished answers (not parallel.DEFAULT_BUFFER): memory stays flat however big the sessions.
ROW_CHUNK = 2_000
HEAVY_BATCH = 8


Disposition = Literal["merge", "replace"]


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    routes: tuple[str, ...]  # keys of ROUTES, in call order
    primary_key: tuple[str, ...]
    write_disposition: Disposition
    feed: str | None = None  # internal feed (or table) it fans out from
    cursor: str | None = None  # API field tracked by dlt.sources.incremental
    server_filter: str | None = None  # query param the cursor (minus the lag) is sent as
    nesting: int = MAX_TABLE_NESTING
    columns: dict[str, str] = field(default_factory=dict)  # contract columns -> dlt data type


# Types follow the official v2 OpenAPI, for v1's equivalent columns too: `number` -> double
# (``global_time``, ``course_duration``, ``total_time_spent_in_seconds``; a bigint hint sends
# ``12.5`` to a variant column), `integer` -> bigint (progress, score: whole percents),
# `date-time` -> timestamp. ``user_programs`` has no v2 equivalent: v1's numbers stay double.
TS, TEXT, BOOL, NUM, INT = "timestamp", "text", "bool", "double", "bigint"


def dlt_hints(spec: Any, *, incremental_cursor: bool = True) -> dict[str, Any]:
    """dlt resource hints of one table spec (v1's ``ResourceSpec`` or v2's ``V2Spec``)."""
    columns = {
        column: {"data_type": data_type, "nullable": column not in spec.primary_key}
        for column, data_type in spec.columns.items()
    }
    cursor_column = _snake_case(spec.cursor) if spec.cursor else None
    if incremental_cursor and cursor_column in columns:
        # dlt.sources.incremental hints the cursor under its API name: use the same key, or
        # dlt would see two columns that normalise to one and warn on every run
        columns[spec.cursor] = columns.pop(cursor_column)
    return {
        "name": spec.name,
        "primary_key": list(spec.primary_key),
        "write_disposition": spec.write_disposition,
        "max_table_nesting": spec.nesting,
        "columns": columns,
    }


# fmt: off
RESOURCES: dict[str, ResourceSpec] = {spec.name: spec for spec in (
    ResourceSpec("courses", ("courses", "course"), ("_id",), "merge",
                 cursor="modificationDate", server_filter="modifiedAfter",
                 columns={"_id": TEXT, "name": TEXT, "status": TEXT, "author": TEXT,
                          "author_id": TEXT, "creation_date": TS, "modification_date": TS, "group": TEXT,
                          "lang": TEXT, "course_duration": NUM}),
    # merge: getUser details are re-read only for new / changed users and a rotating slice
    ResourceSpec("users", ("users", "user"), ("_id",), "merge",
                 columns={"_id": TEXT, "mail": TEXT, "first_name": TEXT, "last_name": TEXT,
                          "primary_group_id": TEXT, "deleted": BOOL,
                          # set when the complete listing stops returning the user
                          "deleted_noticed_at": TS}),
    ResourceSpec("groups", ("groups", "group"), ("_id",), "replace", feed="group_details",
                 columns={"_id": TEXT, "name": TEXT, "parent": TEXT, "public": BOOL}),
    ResourceSpec("user_groups", ("groups", "group"), ("user_id", "group_id"), "replace",
                 feed="group_details", nesting=0,
                 columns={"user_id": TEXT, "group_id": TEXT, "role": TEXT}),
    ResourceSpec("group_catalog", ("groups", "group_catalog"), ("group_id", "item_type", "item_id"),
                 "replace", feed="group_list", nesting=0,
                 columns={"group_id": TEXT, "item_type": TEXT, "item_id": TEXT}),
    # from getProgramSessions' `groups`; getGroupPrograms per group if a tenant omits it
    ResourceSpec("group_programs", ("program_sessions", "group_programs"),
                 ("group_id", "program_session_id"), "replace", feed="program_session_list",
                 nesting=0,
                 columns={"group_id": TEXT, "program_session_id": TEXT}),
    ResourceSpec("program_sessions", ("program_sessions",), ("_id",), "replace",
                 feed="program_session_list",
                 columns={"_id": TEXT, "name": TEXT, "start_date": TS, "end_date": TS,
                          "program_template": TEXT, "modified_at": TS}),
    ResourceSpec("paths", ("paths",), ("_id",), "merge",
                 cursor="modifiedAt", server_filter="modifiedAfter",
                 columns={"_id": TEXT, "name": TEXT, "author_id": TEXT, "group_id": TEXT,
                          "created_at": TS, "modified_at": TS}),
    ResourceSpec("path_sessions", ("path_sessions",), ("_id",), "replace",
                 columns={"_id": TEXT, "path_id": TEXT, "name": TEXT, "group_id": TEXT,
                          "start_date": TS, "end_date": TS, "created_at": TS, "modified_at": TS}),
    ResourceSpec("user_path_sessions", ("path_sessions", "path_session_user_stats"),
                 ("user_id", "path_session_id"), "replace", feed="path_sessions",
                 columns={"user_id": TEXT, "path_id": TEXT, "path_session_id": TEXT,
                          "progress": INT, "score": INT, "completed_at": TS,
                          "total_time_spent_in_seconds": NUM}),
    # bulk: courses_stats filtered server-side; per_user: users -> user_courses (same rows)
    ResourceSpec("user_courses", ("courses_stats", "user_courses"), ("_id",), "merge",
                 cursor="lastActivity", server_filter="lastActivityAtAfter",
                 columns={"_id": TEXT, "user_id": TEXT, "course_id": TEXT, "progress": INT,
                          "score": INT, "completed_at": TS, "first_activity": TS,
                          "last_activity": TS, "global_time": NUM, "path": TEXT,
                          "path_session": TEXT,
                          # set when v2's complete /courses/stats read stops returning the
                          # attempt (v1 reads attempts incrementally: never set there)
                          "deleted": BOOL, "deleted_noticed_at": TS}),
    # bulk: program_session_stats per session; per_user: users -> user_programs (same rows)
    ResourceSpec("user_programs", ("program_session_stats", "user_programs"),
                 ("user_id", "program_session_id"), "replace", feed="program_session_list",
                 columns={"user_id": TEXT, "program_session_id": TEXT, "progress": NUM,
                          "total_time_spent_in_seconds": NUM, "score": NUM, "completed_at": TS}),
)}
# fmt: on

# Internal feeds (never loaded): name -> routes.
FEEDS = {
    "user_list": ("users",),  # getUsers?deleted=true, chunked (per_user strategies only)
    "program_session_list": ("program_sessions",),
    "group_list": ("groups",),
    "group_details": ("group",),  # getGroup per group_list element
}
