"""v2 dlt resources: v1's raw tables (same names, keys, contract columns) plus the v2-only
tables (docs/migration-v2.md). Simple tables are generated from their registry rows; hand-written
are those with real logic (user_courses' schedule and deletions, certificates)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource

from ..change_feed import ChangeFeed
from ..cursors import (
    LagWindow,
    Row,
    chunked,
    format_api_timestamp,
    incremental,
    only_changed,
    parse_timestamp,
)
from ..parallel import bounded_map
from ..quarantine import clean_cursor
from ..refresh import GROUP_BUCKETS, UserDetailsRefresh, full_read_due
from ..tables import FEED_CHUNK_SIZE, V2_TABLES
from ..v1.parsing import catalog_rows
from ..validation import V2Options
from . import parsing
from .api import V2Api

if TYPE_CHECKING:
    from ..client import Learning360Client

STATE_KEY = "v2"  # this adapter's part of each resource's dlt state (v1 keeps its own)
EPOCH = "1970-01-01T00:00:00.000Z"  # a full read's cursor start: dlt filters out no attempt


def build_resources(
    client: Learning360Client,
    *,
    options: V2Options,
    user_courses_strategy: str = "bulk",
    modified_lag_seconds: int = 3600,
    **_: Any,
) -> list[DltResource]:
    api = V2Api(client)
    lag = float(modified_lag_seconds) if modified_lag_seconds else None
    if user_courses_strategy != "bulk":
        logger.info(
            "360Learning v2: user_courses_strategy is a v1 setting; v2 reads /courses/stats"
        )
    feed = options.change_feed and ChangeFeed(
        api,
        lag_seconds=lag or 0.0,
        reconcile_hours=options.change_feed_reconcile_hours,
        retention_hours=options.change_feed_retention_hours,
    )

    # dlt binds each default cursor to its resource's state
    cursors = {name: incremental(t.cursor, lag) for name, t in V2_TABLES.items() if t.cursor}

    def state() -> dict[str, Any]:
        return dlt.current.resource_state().setdefault(STATE_KEY, {})

    def fan_out(fetch: Callable[[str], Any], ids: list[str], to_rows: Callable[[str, Any], Any]):
        pairs = bounded_map(fetch, ids, client.workers)
        return chunked((row for i, answer in pairs for row in to_rows(i, answer)), FEED_CHUNK_SIZE)

    def each(to_row: Callable[[str, Any], Row]) -> Callable[[str, Any], list[Row]]:
        return lambda pid, answer: [to_row(pid, e) for e in answer if isinstance(e, Mapping)]

    def pages(route: str) -> Callable[[], Iterator[list[Row]]]:
        """A listing read once per run (shared by its tables and fan-outs), in chunks."""
        return lambda: chunked(api.listing(route), FEED_CHUNK_SIZE)

    def feed_users(table: str) -> list[Row]:
        return feed.users(table, api.listing("users")) if feed else []

    def users_to_read() -> list[Row]:
        """New and changed users and those due (``v2_user_refresh_days``), plus the feed's."""
        due = UserDetailsRefresh(state(), options.v2_user_refresh_days)
        selected = due.select(api.listing("users"))
        chosen = {u.get("_id") for u in selected}
        return selected + [u for u in feed_users("user_custom_fields") if u["_id"] not in chosen]

    def catalog(group_id: str) -> dict[str, list[Any]]:  # in v1's shape: v1's rows
        courses = api.catalog_course_ids(group_id)
        return {"courses": courses, "pathSessions": api.catalog_path_session_ids(group_id)}

    # the parents a per-parent table (``TableSpec.parent``) reads children of this run
    parents = {
        "users": users_to_read,
        "groups": lambda: UserDetailsRefresh(
            state(), options.v2_group_refresh_days, GROUP_BUCKETS
        ).select(api.listing("groups")),
        "classrooms": partial(api.listing, "classrooms"),  # every classroom, every run
    }
    # generated from the registry: table -> (read, rows). With a cursor: the changed rows since
    # it; with a parent: one request per parent id and its rows; else a listing's rows.
    generated = {
        "courses": (api.courses, parsing.course_row),
        "users": (pages("users"), parsing.user_row),
        "groups": (pages("groups"), partial(parsing.v1_row, "groups")),
        "user_groups": (api.group_roles, parsing.membership_rows),
        "group_catalog": (catalog, catalog_rows),
        "paths": (api.paths, dict),
        "path_sessions": (api.path_sessions, dict),
        "user_path_sessions": (api.path_stats, parsing.path_stat_row),
        "skills": (api.skills, dict),
        "custom_fields": (api.custom_fields, dict),
        "user_custom_fields": (api.user_custom_field_values, parsing.custom_value_rows),
        "classrooms": (pages("classrooms"), dict),
        "classroom_slots": (api.classroom_slots, each(parsing.slot_row)),
        "classroom_slot_registrations": (
            api.classroom_registrations,
            each(parsing.registration_row),
        ),
    }

    def generate(name: str, read: Callable[..., Any], to_rows: Callable[..., Any]) -> DltResource:
        spec = V2_TABLES[name]
        cursor, start = spec.cursor or "", cursors.get(name)

        def changed(since: dlt.sources.incremental[Any] = start) -> Iterator[list[Row]]:
            """Sent ``lag`` early: the lag window drops the re-read unchanged rows."""
            window = LagWindow(state(), cursor, lag)
            for page in read(since.start_value):
                page = clean_cursor(page, name, cursor, client.stats.quarantine)
                yield [to_rows(row) for row in only_changed(page, window)]
            window.prune()

        def per_parent() -> Iterator[list[Row]]:
            ids = [p.get("_id") for p in parents[spec.parent]() if isinstance(p, Mapping)]
            yield from fan_out(read, [i for i in ids if isinstance(i, str)], to_rows)

        def listed() -> Iterator[list[Row]]:
            for page in read():
                yield [to_rows(e) for e in page if isinstance(e, Mapping)]

        rows = changed if spec.cursor else per_parent if spec.parent else listed
        return dlt.resource(rows, **spec.hints(), merge_key=spec.merge_key)

    @dlt.resource(**V2_TABLES["user_certificates"].hints())
    def user_certificates(
        delivered: dlt.sources.incremental[Any] = cursors["user_certificates"],
    ) -> Iterator[list[Row]]:
        """Certificates delivered since the cursor, of the learners with a path completion since
        then (a certificate comes with one) and of the feed's."""
        since, window = delivered.start_value, LagWindow(state(), "completedAt", lag)
        pages = api.path_completions(since)
        stats = [s for page in pages for s in page if isinstance(s.get("userId"), str)]
        changed = only_changed(stats, window)
        holders = {s["userId"] for s in changed if s.get("completedAt") or s.get("certificateId")}
        window.prune()
        holders |= {u["_id"] for u in feed_users("user_certificates")}
        fetch = lambda user_id: api.user_certificates(user_id, since)  # noqa: E731
        yield from fan_out(fetch, sorted(holders), each(parsing.certificate_row))

    @dlt.resource(**V2_TABLES["user_courses"].hints())
    def user_courses(
        completed: dlt.sources.incremental[Any] = cursors["user_courses"],
    ) -> Iterator[list[Row]]:
        """Every attempt when the full read is due (v2 filters attempts by ``completedAt``
        only, and open attempts change without it), else the completions since the cursor."""
        own = state()
        stored = own.pop("completed_cursor", None)  # the previous version's, moved once
        old = parse_timestamp(stored)
        if stored is not None and old is None:
            logger.warning(
                f"360Learning: the user_courses cursor v2.completed_cursor held {str(stored)[:40]!r}"
                ", not a timestamp (stored by an earlier version); reset: this sync reads that "
                "table in full"
            )
        if old is not None and completed.last_value is None:  # one-time migration
            slot = dlt.current.resource_state()["incremental"]["completedAt"]
            slot["last_value"] = format_api_timestamp(old)
            completed.start_value = completed.last_value  # that value minus the lag
        started = full_read_due(own, options.user_courses_full_read_hours, completed.last_value)
        complete = started is not None  # until an element is refused
        if complete and completed.start_value is not None:
            completed.start_value = EPOCH
        # a full read lists every attempt: their ids (~250k short strings on a large company)
        # let the load flag the ones it no longer returns as deleted (pipelines/data_guard.py)
        seen: list[Any] = []
        for page in api.course_stats(None if complete else completed.start_value):
            rows = [parsing.v1_row("user_courses", e) for e in page if isinstance(e, Mapping)]
            rows = list(clean_cursor(rows, "user_courses", "completedAt", client.stats.quarantine))
            complete = complete and len(rows) == len(page)
            seen += [row.get("_id") for row in rows] if complete else []
            yield rows
        if started is not None:
            own["full_read_at"] = started
        # an element without an id (quarantined) could be any stored attempt
        if complete and all(isinstance(i, str) for i in seen):
            client.stats.complete_reads["user_courses"] = seen

    by_name = {name: generate(name, *spec) for name, spec in generated.items()}
    by_name |= {"user_courses": user_courses, "user_certificates": user_certificates}
    for name, resource in by_name.items():
        resource.selected = name not in options.v2_skip_tables
    return [by_name[name] for name in V2_TABLES]
