"""v2 dlt resources: v1's raw tables (same names, keys, contract columns) plus the v2-only
tables (docs/migration-v2.md). The simple ones (a listing's rows, a listed parent's children)
are generated from the tables below; hand-written are those with real logic: courses and paths
(cursor and lag window), attempts (schedule, cursor, deletions), certificates (read for path
completions) and the per-parent tables without a change signal (refresh.py, change_feed.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource

from ..change_feed import ChangeFeed
from ..lag_window import LagWindow
from ..parallel import bounded_map
from ..quarantine import clean_cursor
from ..resource_helpers import Row, chunked, incremental, only_changed
from ..tables import FEED_CHUNK_SIZE, V2_TABLES
from ..timestamps import format_api_timestamp, parse_timestamp
from . import parsing
from .api import V2Api
from .refresh import FullReadSchedule, V2Options, group_refresh, user_refresh

if TYPE_CHECKING:
    from ..client import Learning360Client

STATE_KEY = "v2"  # this adapter's part of each resource's dlt state (v1 keeps its own)
EPOCH = "1970-01-01T00:00:00.000Z"  # a full read's cursor start: dlt filters out no attempt


def hints(name: str) -> dict[str, Any]:
    return V2_TABLES[name].hints()


def build_resources(
    client: Learning360Client,
    *,
    options: V2Options,
    user_courses_strategy: str = "bulk",
    modified_lag_seconds: int = 3600,
    **_: Any,
) -> list[DltResource]:
    api = V2Api(client)
    quarantine = client.stats.quarantine  # a cursor that is not a date never moves
    lag = float(modified_lag_seconds) if modified_lag_seconds else None
    if user_courses_strategy != "bulk":
        logger.info(
            "360Learning v2: user_courses_strategy is a v1 setting; v2 reads /courses/stats"
        )
    feed = (
        ChangeFeed(api, lag or 0.0, options.reconcile_hours, options.retention_hours)
        if options.change_feed
        else None
    )

    # dlt binds each default cursor to its resource's state
    cursors = {
        name: incremental(V2_TABLES[name].cursor or "", lag)
        for name in ("courses", "paths", "user_certificates", "user_courses")
    }

    def state() -> dict[str, Any]:
        return dlt.current.resource_state().setdefault(STATE_KEY, {})

    def fan_out(fetch: Callable[[str], Any], parents: list[Row]) -> Iterator[tuple[Row, Any]]:
        with_ids = [p for p in parents if isinstance(p, Mapping) and isinstance(p.get("_id"), str)]
        return bounded_map(lambda parent: fetch(parent["_id"]), with_ids, client.workers)

    def rows_of(pairs: Iterator[tuple[Row, Any]], to_rows: Callable[[str, Any], list[Row]]):
        return (row for parent, answer in pairs for row in to_rows(parent["_id"], answer))

    def each(to_row: Callable[[str, Any], Row]) -> Callable[[str, Any], list[Row]]:
        return lambda parent_id, answer: [
            to_row(parent_id, e) for e in answer if isinstance(e, Mapping)
        ]

    def pages(route: str) -> Callable[[], Iterator[list[Row]]]:
        """A listing read once per run (shared by its tables and fan-outs), in chunks."""
        return lambda: chunked(api.listing(route), FEED_CHUNK_SIZE)

    def changed_since(name: str, read: Callable[[Any], Iterator[list[Any]]], to_row: Any = dict):
        """Rows changed since the table's cursor (sent ``lag`` early); the rows of the lag
        window that did not change are dropped."""
        cursor = V2_TABLES[name].cursor or ""

        def rows(since: dlt.sources.incremental[Any] = cursors[name]) -> Iterator[list[Row]]:
            window = LagWindow(state(), cursor, lag)
            for page in read(since.start_value):
                page = clean_cursor(page, name, cursor, quarantine)
                yield [to_row(row) for row in only_changed(page, window)]
            window.prune()

        return dlt.resource(rows, **hints(name))

    def listed_table(name: str, pages: Callable[[], Any], to_row: Callable[[Any], Row]):
        def rows() -> Iterator[list[Row]]:
            for page in pages():
                yield [to_row(e) for e in page if isinstance(e, Mapping)]

        return dlt.resource(rows, **hints(name))

    def per_parent(
        name: str, merge_key: str | None, parents: Callable[[], list[Row]], fetch, to_rows
    ):
        """Rows of the parents ``parents()`` selects; with a ``merge_key`` a re-read parent's
        rows replace its previous ones."""

        def rows() -> Iterator[list[Row]]:
            yield from chunked(rows_of(fan_out(fetch, parents()), to_rows), FEED_CHUNK_SIZE)

        return dlt.resource(rows, **hints(name), merge_key=merge_key)

    def feed_users(table: str) -> list[Row]:
        """The users the change feed names for ``table``, on top of the default policy."""
        return feed.users(table, api.listing("users")) if feed else []

    def users_to_read() -> list[Row]:
        """New and changed users and those due (``v2_user_refresh_days``), plus the feed's."""
        selected = user_refresh(state(), options.user_refresh_days).select(api.listing("users"))
        chosen = {u.get("_id") for u in selected}
        return selected + [u for u in feed_users("user_custom_fields") if u["_id"] not in chosen]

    def groups_to_read() -> list[Row]:
        """New and changed groups and those due (``v2_group_refresh_days``)."""
        return group_refresh(state(), options.group_refresh_days).select(api.listing("groups"))

    def catalog(group_id: str) -> tuple[list[Any], list[Any]]:
        return api.catalog_course_ids(group_id), api.catalog_path_session_ids(group_id)

    # ---- generated: changed rows; a listing's rows; a parent's children --------------------
    listed = {
        "users": (pages("users"), parsing.user_row),
        "groups": (pages("groups"), partial(parsing.v1_row, "groups")),
        "classrooms": (pages("classrooms"), dict),
        "path_sessions": (api.path_sessions, dict),
        "user_path_sessions": (api.path_stats, parsing.path_stat_row),
        "skills": (api.skills, dict),
        "custom_fields": (api.custom_fields, dict),
    }
    classrooms = partial(api.listing, "classrooms")  # every classroom, every run
    children = {
        "user_custom_fields": ("user_id", users_to_read, api.user_custom_field_values),
        "user_groups": ("group_id", groups_to_read, api.group_roles),
        "group_catalog": ("group_id", groups_to_read, catalog),
        "classroom_slots": (None, classrooms, api.classroom_slots),
        "classroom_slot_registrations": (None, classrooms, api.classroom_registrations),
    }
    child_rows = {
        "user_custom_fields": parsing.custom_value_rows,
        "user_groups": parsing.membership_rows,
        "group_catalog": parsing.catalog_rows,
        "classroom_slots": each(parsing.slot_row),
        "classroom_slot_registrations": each(parsing.registration_row),
    }
    generated = [
        changed_since("courses", api.courses, parsing.course_row),
        changed_since("paths", api.paths),
    ]
    generated += [listed_table(name, *spec) for name, spec in listed.items()]
    generated += [per_parent(name, *spec, child_rows[name]) for name, spec in children.items()]

    # ---- hand-written ----------------------------------------------------------------------

    def certificate_holders(since: Any) -> set[str]:
        """Learners with a path completion since ``since`` (any completion or certificate on a
        first run): a certificate is delivered when a learner completes a path. Completions
        the lag window re-reads unchanged are dropped."""
        window = LagWindow(state(), "completedAt", lag)
        stats = (s for page in api.path_completions(since) for s in page)
        completions = [
            s
            for s in stats
            if isinstance(s.get("userId"), str) and (s.get("completedAt") or s.get("certificateId"))
        ]
        holders = {s["userId"] for s in only_changed(completions, window)}
        window.prune()
        return holders

    @dlt.resource(**hints("user_certificates"))
    def user_certificates(
        delivered: dlt.sources.incremental[Any] = cursors["user_certificates"],
    ) -> Iterator[list[Row]]:
        """Certificates delivered since the cursor, of the learners who completed a path since
        then and of those the change feed names."""
        since = delivered.start_value
        holders = certificate_holders(since) | {u["_id"] for u in feed_users("user_certificates")}
        parents = [{"_id": user_id} for user_id in sorted(holders)]
        pairs = fan_out(lambda user_id: api.user_certificates(user_id, since), parents)
        yield from chunked(rows_of(pairs, each(parsing.certificate_row)), FEED_CHUNK_SIZE)

    @dlt.resource(**hints("user_courses"))
    def user_courses(
        completed: dlt.sources.incremental[Any] = cursors["user_courses"],
    ) -> Iterator[list[Row]]:
        """Every attempt when the full read is due (v2 filters attempts by ``completedAt``
        only, and open attempts change without it), else the completions since the cursor."""
        own = state()
        old = parse_timestamp(own.pop("completed_cursor", None))  # the previous version's
        if old is not None and completed.last_value is None:  # one-time migration
            slot = dlt.current.resource_state()["incremental"]["completedAt"]
            slot["last_value"] = format_api_timestamp(old)
            completed.start_value = completed.last_value  # that value minus the lag
        schedule = FullReadSchedule(own, options.full_read_hours)
        full = schedule.due(completed.last_value)
        if full and completed.start_value is not None:
            completed.start_value = EPOCH
        # a full read lists every attempt: their ids (~250k short strings on a large company)
        # let the load flag the ones it no longer returns as deleted (pipelines/data_guard.py)
        seen: list[str] | None = [] if full else None
        for page in api.course_stats(None if full else completed.start_value):
            rows = [parsing.v1_row("user_courses", e) for e in page if isinstance(e, Mapping)]
            rows = list(clean_cursor(rows, "user_courses", "completedAt", quarantine))
            ids = [row.get("_id") for row in rows]
            if seen is not None and len(rows) == len(page) and all(isinstance(i, str) for i in ids):
                seen.extend(ids)
            else:  # an element without an id (quarantined) could be any stored attempt
                seen = None
            yield rows
        if full:
            schedule.done()
        if seen is not None:
            client.stats.complete_reads["user_courses"] = seen

    tables = [*generated, user_courses, user_certificates]
    for resource in tables:
        resource.selected = resource.name not in options.skip_tables
    by_name = {resource.name: resource for resource in tables}
    return [by_name[name] for name in V2_TABLES]
