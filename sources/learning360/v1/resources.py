"""v1 dlt resources: listings, fan-outs and the rows they yield.

Shape of the graph (feeds are unselected internal resources, see ``settings.FEEDS``)::

    courses            getCourses?modifiedAfter -> getCourse per returned course (merge)
    paths              getPaths?modifiedAfter (merge)
    program_sessions   getProgramSessions
    path_sessions      getPathSessions ──> user_path_sessions (stats per session)
    user_list (feed)   getUsers?deleted=true ──> users (getUser) / user_programs /
                                                  user_courses (per_user strategy)
    group_list (feed)  getGroups ──> group_catalog / group_programs
                                 └─> group_details (feed, getGroup) ──> groups / user_groups
    user_courses       getCoursesStats?lastActivityAtAfter (bulk strategy)

Listings are streamed and handed on in chunks; per-item calls run through
:func:`..parallel.bounded_map`. Resources never build URLs, authenticate or sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming
from dlt.extract.resource import DltResource

from ..lag_window import LagWindow
from ..parallel import bounded_map
from ..settings import FEED_CHUNK_SIZE, RESOURCES
from .api import V1Api
from .parsing import (
    catalog_rows,
    chunked,
    course_stats_attempts,
    group_memberships,
    group_program_rows,
    group_row,
    id_of,
    merge_details,
    path_session_user_rows,
    user_course_attempts,
    user_program_row,
    user_row,
)

if TYPE_CHECKING:
    from ..client import Learning360Client


Row = dict[str, Any]
_snake_case = SnakeCaseNaming().normalize_identifier


def table_hints(name: str) -> dict[str, Any]:
    """dlt hints of one table, from the settings table."""
    spec = RESOURCES[name]
    columns = {
        column: {"data_type": data_type, "nullable": column not in spec.primary_key}
        for column, data_type in spec.columns.items()
    }
    if spec.cursor and (cursor_column := _snake_case(spec.cursor)) in columns:
        # dlt.sources.incremental hints the cursor under its API name: use the same key, or
        # dlt would see two columns that normalise to one and warn on every run
        columns[spec.cursor] = columns.pop(cursor_column)
    return {
        "name": name,
        "primary_key": list(spec.primary_key),
        "write_disposition": spec.write_disposition,
        "max_table_nesting": spec.nesting,
        "columns": columns,
    }


def build_resources(
    client: Learning360Client, *, user_courses_strategy: str, modified_lag_seconds: int
) -> list[DltResource]:
    api = V1Api(client)
    workers = client.workers
    lag = float(modified_lag_seconds) if modified_lag_seconds else None

    def fan_out(fetch: Callable[..., Any], parents: list[Row]) -> Iterator[tuple[Row, Any]]:
        """``(parent, fetch(parent_id))`` for every parent that has an id, in parallel. A
        missing answer for a parent flagged ``deleted`` is expected, so it is not a warning."""
        with_ids = [parent for parent in parents if id_of(parent)]

        def call(parent: Row) -> Any:
            return fetch(id_of(parent), quiet=bool(parent.get("deleted")))

        yield from bounded_map(call, with_ids, workers)

    def only_changed(rows: list[Row], window: LagWindow) -> list[Row]:
        """Rows of the lag window that did not change since the last run are dropped."""
        fresh = [row for row in rows if not window.is_unchanged(row)]
        for row in fresh:
            window.remember(row)
        return fresh

    def lag_window(name: str) -> LagWindow:
        return LagWindow(dlt.current.resource_state(), RESOURCES[name].cursor or "", lag)

    def incremental(cursor_name: str) -> dlt.sources.incremental[Any]:
        spec = RESOURCES[cursor_name]
        return dlt.sources.incremental(spec.cursor, lag=lag, on_cursor_value_missing="include")

    # incremental defaults built here: dlt binds each to its resource's state
    courses_cursor = incremental("courses")
    paths_cursor = incremental("paths")
    bulk_cursor = incremental("user_courses")
    per_user_cursor = incremental("user_courses")

    # ---- feeds ---------------------------------------------------------------------------

    @dlt.resource(name="user_list", selected=False)
    def user_list() -> Iterator[list[Row]]:
        yield from chunked(api.users(), FEED_CHUNK_SIZE)

    @dlt.resource(name="group_list", selected=False)
    def group_list() -> Iterator[list[Row]]:
        yield from chunked(api.groups(), FEED_CHUNK_SIZE)

    @dlt.transformer(name="group_details", data_from=group_list, selected=False)
    def group_details(groups_chunk: list[Row]) -> Iterator[list[Row]]:
        # a group deleted between getGroups and getGroup keeps its listing row, no members
        yield [merge_details(g, details) for g, details in fan_out(api.group, groups_chunk)]

    # ---- catalog -------------------------------------------------------------------------

    @dlt.resource(**table_hints("courses"))
    def courses(modified: dlt.sources.incremental[Any] = courses_cursor) -> Iterator[list[Row]]:
        # details only for the courses the filtered listing returned and that changed
        window = lag_window("courses")
        for chunk in chunked(api.courses(modified.start_value), FEED_CHUNK_SIZE):
            chunk = only_changed(chunk, window)
            yield [merge_details(c, details) for c, details in fan_out(api.course, chunk)]
        window.prune()

    @dlt.resource(**table_hints("paths"))
    def paths(modified: dlt.sources.incremental[Any] = paths_cursor) -> Iterator[list[Row]]:
        window = lag_window("paths")
        for chunk in chunked(api.paths(modified.start_value), FEED_CHUNK_SIZE):
            yield only_changed(chunk, window)
        window.prune()

    @dlt.resource(**table_hints("program_sessions"))
    def program_sessions() -> Iterator[list[Row]]:
        yield from chunked(api.program_sessions(), FEED_CHUNK_SIZE)

    @dlt.resource(**table_hints("path_sessions"))
    def path_sessions() -> Iterator[list[Row]]:
        yield from chunked(api.path_sessions(), FEED_CHUNK_SIZE)

    # ---- people and groups ---------------------------------------------------------------

    @dlt.transformer(data_from=user_list, **table_hints("users"))
    def users(users_chunk: list[Row]) -> Iterator[list[Row]]:
        # a user gone between getUsers and getUser keeps its listing row, without details
        yield [user_row(u, details) for u, details in fan_out(api.user, users_chunk)]

    @dlt.transformer(data_from=group_details, **table_hints("groups"))
    def groups(details_chunk: list[Row]) -> Iterator[list[Row]]:
        yield [group_row(details) for details in details_chunk]

    @dlt.transformer(data_from=group_details, **table_hints("user_groups"))
    def user_groups(details_chunk: list[Row]) -> Iterator[list[Row]]:
        yield [row for details in details_chunk for row in group_memberships(details)]

    @dlt.transformer(data_from=group_list, **table_hints("group_catalog"))
    def group_catalog(groups_chunk: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for group, catalog in fan_out(api.group_catalog, groups_chunk):
            rows.extend(catalog_rows(id_of(group), catalog, api.classify_catalog_path))
        yield rows

    @dlt.transformer(data_from=group_list, **table_hints("group_programs"))
    def group_programs(groups_chunk: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for group, programs in fan_out(api.group_programs, groups_chunk):
            rows.extend(group_program_rows(id_of(group), programs))
        yield rows

    # ---- learner statistics --------------------------------------------------------------

    @dlt.transformer(data_from=path_sessions, **table_hints("user_path_sessions"))
    def user_path_sessions(sessions_chunk: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for session, body in fan_out(api.path_session_user_stats, sessions_chunk):
            if body is not None:
                rows.extend(path_session_user_rows(session, body))
        yield rows

    @dlt.transformer(data_from=user_list, **table_hints("user_programs"))
    def user_programs(users_chunk: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for user, programs in fan_out(api.user_programs, users_chunk):
            for element in programs or ():
                if isinstance(element, dict) and (row := user_program_row(id_of(user), element)):
                    rows.append(row)
        yield rows

    @dlt.resource(**table_hints("user_courses"))
    def user_courses_bulk(
        last_activity: dlt.sources.incremental[Any] = bulk_cursor,
    ) -> Iterator[list[Row]]:
        window = lag_window("user_courses")
        for element in api.courses_stats(last_activity.start_value):
            if isinstance(element, dict):
                yield only_changed(list(course_stats_attempts(element)), window)
        window.prune()

    @dlt.transformer(data_from=user_list, **table_hints("user_courses"))
    def user_courses_per_user(
        users_chunk: list[Row],
        last_activity: dlt.sources.incremental[Any] = per_user_cursor,
    ) -> Iterator[list[Row]]:
        # same rows and cursor as the bulk strategy; the cursor filters client-side here
        window = lag_window("user_courses")
        rows: list[Row] = []
        for user, elements in fan_out(api.user_courses, users_chunk):
            for element in elements or ():
                if isinstance(element, dict):
                    rows.extend(user_course_attempts(id_of(user), element))
        yield only_changed(rows, window)
        window.prune()

    user_courses = user_courses_bulk if user_courses_strategy == "bulk" else user_courses_per_user

    return [
        user_list,
        group_list,
        group_details,
        courses,
        users,
        groups,
        user_groups,
        group_catalog,
        group_programs,
        program_sessions,
        paths,
        path_sessions,
        user_path_sessions,
        user_courses,
        user_programs,
    ]
