"""v1 dlt resources: listings, fan-outs and the rows they yield.

Shape of the graph (feeds are unselected internal resources, see ``settings.FEEDS``)::

    courses            getCourses?modifiedAfter -> getCourse per new/changed course (merge)
    paths              getPaths?modifiedAfter (merge)
    users              getUsers?deleted=true -> getUser for new/changed users and a rotating
                       slice (merge; ``refresh.UserDetailsRefresh``)
    program_session_list (feed)  getProgramSessions ──> program_sessions
                                 ├─> group_programs (the sessions' `groups`; getGroupPrograms
                                 │   per group if a tenant omits them)
                                 └─> user_programs (bulk: getProgramSessionStats per session)
    path_sessions      getPathSessions ──> user_path_sessions (stats per session)
    group_list (feed)  getGroups ──> group_catalog
                                 └─> group_details (feed, getGroup) ──> groups / user_groups
    user_courses       getCoursesStats?lastActivityAtAfter (bulk), as pyarrow tables
    user_list (feed)   getUsers?deleted=true ──> user_courses / user_programs (per_user
                                                  strategies: one request per user)

Per-item calls go through one :class:`..parallel.FanOut` (``workers`` threads shared by every
fan-out) and run in the background while dlt's main thread works on other resources, so the
client's rate limiter stays busy. Resources never build URLs, authenticate or sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import dlt
from dlt.extract.resource import DltResource

from ..client import json_type
from ..errors import ConfigurationError, config_key
from ..lag_window import LagWindow, MaxCursor
from ..parallel import FanOut
from ..quarantine import clean_cursor
from ..settings import (
    ARROW_BATCH_ROWS,
    FEED_CHUNK_SIZE,
    HEAVY_BATCH,
    RESOURCES,
    ROW_CHUNK,
    dlt_hints,
)
from .api import V1Api
from .columnar import ArrowRows
from .parsing import (
    catalog_problem,
    catalog_rows,
    chunked,
    course_stats_attempts,
    group_memberships,
    group_program_rows,
    group_row,
    id_of,
    merge_details,
    path_session_user_rows,
    program_stats_user_rows,
    user_course_attempts,
    user_program_row,
    user_row,
)
from .refresh import UserDetailsRefresh

if TYPE_CHECKING:
    from ..client import Learning360Client


Row = dict[str, Any]


def table_hints(name: str, *, incremental_cursor: bool = True) -> dict[str, Any]:
    """dlt hints of one v1 table, from the settings table."""
    return dlt_hints(RESOURCES[name], incremental_cursor=incremental_cursor)


def build_resources(
    client: Learning360Client,
    *,
    user_courses_strategy: str,
    modified_lag_seconds: int,
    user_programs_strategy: str = "bulk",
    user_details_refresh_days: float = 30,
) -> list[DltResource]:
    api = V1Api(client)
    quarantine = client.stats.quarantine
    pool = FanOut(client.workers, stats=client.stats)
    lag = float(modified_lag_seconds) if modified_lag_seconds else None

    def fan_out(
        fetch: Callable[..., Any], parents: Iterable[Row], *, heavy: bool = False
    ) -> Iterator[list[tuple[Row, Any]]]:
        """Batches of ``(parent, fetch(parent_id))`` for every parent that has an id, as the
        answers arrive. A missing answer for a parent flagged ``deleted`` is expected, so it
        is not a warning. ``heavy`` answers (a session's stats: one row per enrolled user)
        are held a few at a time, not hundreds: that is what keeps a large sync's memory flat."""

        def call(parent: Row) -> Any:
            return fetch(id_of(parent), quiet=bool(parent.get("deleted")))

        parents_with_id: Iterable[Row] = (parent for parent in parents if id_of(parent))
        if isinstance(parents, list):  # a known count of calls: progress shows an ETA
            parents_with_id = list(parents_with_id)
        if heavy:
            return pool.batches(call, parents_with_id, buffer=0, max_batch=HEAVY_BATCH)
        return pool.batches(call, parents_with_id)

    def rows_of(
        batches: Iterable[list[tuple[Row, Any]]], to_rows: Callable[[Row, Any], Iterable[Row]]
    ) -> Iterator[list[Row]]:
        """The rows of every answer, in lists of about ``ROW_CHUNK`` rows."""
        rows: list[Row] = []
        for batch in batches:
            for parent, body in batch:
                rows.extend(to_rows(parent, body))
                if len(rows) >= ROW_CHUNK:
                    yield rows
                    rows = []
        if rows:
            yield rows

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
    attempt_columns = RESOURCES["user_courses"].columns
    attempt_key = RESOURCES["user_courses"].primary_key

    # ---- feeds ---------------------------------------------------------------------------

    @dlt.resource(name="user_list", selected=False)
    def user_list() -> Iterator[list[Row]]:
        yield from chunked(api.users(), FEED_CHUNK_SIZE)

    @dlt.resource(name="group_list", selected=False)
    def group_list() -> Iterator[list[Row]]:
        yield from chunked(api.groups(), FEED_CHUNK_SIZE)

    @dlt.resource(name="program_session_list", selected=False)
    def program_session_list() -> Iterator[list[Row]]:
        yield from chunked(api.program_sessions(), FEED_CHUNK_SIZE)

    @dlt.transformer(name="group_details", data_from=group_list, selected=False)
    def group_details(groups_chunk: list[Row]) -> Iterator[list[Row]]:
        # a group deleted between getGroups and getGroup keeps its listing row, no members
        for batch in fan_out(api.group, groups_chunk):
            yield [merge_details(g, details) for g, details in batch]

    # ---- catalog -------------------------------------------------------------------------

    @dlt.resource(**table_hints("courses"))
    def courses(modified: dlt.sources.incremental[Any] = courses_cursor) -> Iterator[list[Row]]:
        # details only for the courses the filtered listing returned and that changed
        window = lag_window("courses")
        listing = clean_cursor(
            api.courses(modified.start_value), "courses", "modificationDate", quarantine
        )
        changed = only_changed(list(listing), window)
        for batch in fan_out(api.course, changed):
            rows = [merge_details(c, details) for c, details in batch]
            yield list(
                clean_cursor(with_author_ids(rows), "courses", "modificationDate", quarantine)
            )
        window.prune()

    def with_author_ids(rows: list[Row]) -> list[Row]:
        for row in rows:
            row["author_id"] = api.user_id_of_mail(row.get("author"))
        return rows

    def retries(
        table: str, fetch: Callable[..., Any], finish: Callable[[list[Row]], list[Row]] = list
    ) -> DltResource:
        """Records of ``table`` quarantined by an earlier run (getCourse answered null, a date
        that is not a date) are re-read now, not when they next change: the single-item route
        gives the whole row. A resource of its own (same table) because the table's cursor
        would filter out the older ones. No request when nothing is open."""
        cursor = RESOURCES[table].cursor or ""

        @dlt.resource(**{**table_hints(table), "name": f"{table}_retries", "table_name": table})
        def retried() -> Iterator[list[Row]]:
            parents = [{"_id": key} for key in sorted(quarantine.open_keys(table))]
            for batch in fan_out(fetch, parents):
                rows = [merge_details(p, details) for p, details in batch if details is not None]
                yield list(clean_cursor(finish(rows), table, cursor, quarantine))

        return retried

    course_retries = retries("courses", api.course, with_author_ids)
    path_retries = retries("paths", api.path)

    @dlt.resource(**table_hints("paths"))
    def paths(modified: dlt.sources.incremental[Any] = paths_cursor) -> Iterator[list[Row]]:
        window = lag_window("paths")
        listing = clean_cursor(api.paths(modified.start_value), "paths", "modifiedAt", quarantine)
        for chunk in chunked(listing, FEED_CHUNK_SIZE):
            yield only_changed(chunk, window)
        window.prune()

    @dlt.transformer(data_from=program_session_list, **table_hints("program_sessions"))
    def program_sessions(sessions_chunk: list[Row]) -> Iterator[list[Row]]:
        yield sessions_chunk

    @dlt.resource(**table_hints("path_sessions"))
    def path_sessions() -> Iterator[list[Row]]:
        yield from chunked(api.path_sessions(), FEED_CHUNK_SIZE)

    # ---- people and groups ---------------------------------------------------------------

    @dlt.resource(**table_hints("users"))
    def users() -> Iterator[list[Row]]:
        refresh = UserDetailsRefresh(dlt.current.resource_state(), user_details_refresh_days)
        seen: list[str] = []

        def listing() -> Iterator[Row]:
            for row in api.users():
                if isinstance(row, dict):
                    seen.append(id_of(row) or "")
                    yield row
            # read whole: a user missing from it is flagged deleted after the load (case 10)
            client.stats.complete_reads["users"] = seen

        selected: Iterable[Row]
        if refresh.everyone():
            # every user this run: the listing is held (as select does; ~14 MB for 20k users)
            # so the fan-out knows how many calls are due and progress can show an ETA
            selected = list(refresh.observe(listing()))
        else:
            # the listing is read whole (a few MB even for 20k users) to fingerprint it
            rows = list(listing())
            selected = refresh.select(rows)
            # users quarantined by an earlier run (getUser answered null...) are re-read now,
            # not when their refresh is due
            retry = quarantine.open_keys("users") - {id_of(row) for row in selected}
            if retry:
                selected = selected + [row for row in rows if id_of(row) in retry]
        # a user gone between getUsers and getUser keeps its listing row, without details
        for batch in fan_out(api.user, selected):
            yield [user_row(u, details) for u, details in batch]

    @dlt.transformer(data_from=group_details, **table_hints("groups"))
    def groups(details_chunk: list[Row]) -> Iterator[list[Row]]:
        yield [group_row(details) for details in details_chunk]

    @dlt.transformer(data_from=group_details, **table_hints("user_groups"))
    def user_groups(details_chunk: list[Row]) -> Iterator[list[Row]]:
        yield [row for details in details_chunk for row in group_memberships(details)]

    @dlt.transformer(data_from=group_list, **table_hints("group_catalog"))
    def group_catalog(groups_chunk: list[Row]) -> Iterator[list[Row]]:
        def to_rows(group: Row, catalog: Any) -> list[Row]:
            problem = catalog_problem(catalog)
            if problem:  # {"courses": {"a": 1}} would yield item_id "a": refuse the catalog
                quarantine.reject("group_catalog", problem, catalog, id_of(group))
                return []
            return catalog_rows(id_of(group), catalog, api.classify_catalog_path)

        yield from rows_of(fan_out(api.group_catalog, groups_chunk), to_rows)

    group_programs_seen: set[tuple[str, str]] = set()
    group_programs_mode: dict[str, bool] = {"per_group": False}

    @dlt.transformer(data_from=program_session_list, **table_hints("group_programs"))
    def group_programs(sessions_chunk: list[Row]) -> Iterator[list[Row]]:
        """From each session's ``groups`` (no extra request). A tenant whose listing lacks
        ``groups`` (added to v1 in Feb 2021) gets getGroupPrograms per group instead, once."""
        if group_programs_mode["per_group"]:
            return
        sessions = [s for s in sessions_chunk if id_of(s)]
        if all(isinstance(s.get("groups"), list) for s in sessions):
            rows: list[Row] = []
            for session in sessions:
                for group in session["groups"]:
                    pair = (id_of(group, "groupId"), id_of(session))
                    if pair[0] and pair not in group_programs_seen:
                        group_programs_seen.add(pair)  # type: ignore[arg-type]
                        rows.append({"group_id": pair[0], "program_session_id": pair[1]})
            yield rows
            return
        group_programs_mode["per_group"] = True
        for batch in fan_out(api.group_programs, api.groups()):
            rows = []
            for group, programs in batch:
                for row in group_program_rows(id_of(group), programs):
                    pair = (row["group_id"], row["program_session_id"])
                    if pair not in group_programs_seen:
                        group_programs_seen.add(pair)
                        rows.append(row)
            yield rows

    # ---- learner statistics --------------------------------------------------------------

    @dlt.transformer(data_from=path_sessions, **table_hints("user_path_sessions"))
    def user_path_sessions(sessions_chunk: list[Row]) -> Iterator[list[Row]]:
        def to_rows(session: Row, body: Any) -> list[Row]:
            return [] if body is None else path_session_user_rows(session, body)

        stats = fan_out(api.path_session_user_stats, sessions_chunk, heavy=True)
        yield from rows_of(stats, to_rows)

    @dlt.transformer(data_from=program_session_list, **table_hints("user_programs"))
    def user_programs_bulk(sessions_chunk: list[Row]) -> Iterator[list[Row]]:
        def to_rows(session: Row, body: Any) -> list[Row]:
            if body is None:
                return []  # the session was deleted mid-sync
            found = program_stats_user_rows(session, body)
            if found is None:
                raise ConfigurationError(
                    "360Learning's program-session stats name no user id on this tenant, so "
                    "user_programs cannot be read in bulk: set "
                    f'{config_key("user_programs_strategy")} = "per_user"'
                )
            return found

        stats = fan_out(api.program_session_stats, sessions_chunk, heavy=True)
        yield from rows_of(stats, to_rows)

    @dlt.transformer(data_from=user_list, **table_hints("user_programs"))
    def user_programs_per_user(users_chunk: list[Row]) -> Iterator[list[Row]]:
        def to_rows(user: Row, programs: Any) -> Iterator[Row]:
            for element in programs or ():
                if isinstance(element, dict) and (row := user_program_row(id_of(user), element)):
                    yield row

        yield from rows_of(fan_out(api.user_programs, users_chunk), to_rows)

    user_courses_hints = table_hints("user_courses", incremental_cursor=False)

    def refuse_nested_non_objects(element: Row) -> None:
        """A ``null`` among a course's ``stats`` or a learner's ``attempts``: quarantined and
        taken out (the parsers would skip it without a trace)."""
        for holder, key, what in [(element, "stats", "stats"), *(
            (stat, "attempts", "attempts") for stat in element.get("stats") or ()
            if isinstance(stat, dict)
        )]:  # fmt: skip
            values = holder.get(key)
            if isinstance(values, list) and not all(isinstance(v, dict) for v in values):
                for value in values:
                    if not isinstance(value, dict):
                        quarantine.reject(
                            "user_courses",
                            f"GET courses/stats {what} element is {json_type(value)}, not an object",
                            value,
                        )
                holder[key] = [v for v in values if isinstance(v, dict)]

    @dlt.resource(**user_courses_hints)
    def user_courses_bulk() -> Iterator[Any]:
        state = dlt.current.resource_state()
        cursor = MaxCursor(state, RESOURCES["user_courses"].cursor or "", lag)
        window = lag_window("user_courses")
        table = ArrowRows(attempt_columns, attempt_key)
        for element in api.courses_stats(cursor.since):
            if not isinstance(element, dict):
                continue
            refuse_nested_non_objects(element)
            attempts = clean_cursor(
                course_stats_attempts(element), "user_courses", "lastActivity", quarantine
            )
            rows = only_changed(list(attempts), window)
            for row in rows:
                cursor.observe(row)
            table.extend(rows)
            if len(table) >= ARROW_BATCH_ROWS:
                yield table.flush()
        if len(table):
            yield table.flush()
        cursor.commit()
        window.prune()

    per_user_cursor: list[MaxCursor] = []  # fixed by the first chunk of the run

    @dlt.transformer(data_from=user_list, **user_courses_hints)
    def user_courses_per_user(users_chunk: list[Row]) -> Iterator[Any]:
        # same rows and cursor as the bulk strategy; the cursor filters client-side here
        state = dlt.current.resource_state()
        if not per_user_cursor:
            per_user_cursor.append(MaxCursor(state, RESOURCES["user_courses"].cursor or "", lag))
        cursor = per_user_cursor[0]
        window = lag_window("user_courses")
        table = ArrowRows(attempt_columns, attempt_key)
        for batch in fan_out(api.user_courses, users_chunk):
            rows: list[Row] = []
            for user, elements in batch:
                for element in elements or ():
                    if isinstance(element, dict):
                        attempts = clean_cursor(
                            user_course_attempts(id_of(user), element),
                            "user_courses",
                            "lastActivity",
                            quarantine,
                        )
                        rows.extend(r for r in attempts if cursor.keep(r))
            rows = only_changed(rows, window)
            for row in rows:
                cursor.observe(row)
            table.extend(rows)
        if len(table):
            yield table.flush()
        cursor.commit()
        window.prune()

    user_courses = user_courses_bulk if user_courses_strategy == "bulk" else user_courses_per_user
    user_programs = (
        user_programs_bulk if user_programs_strategy == "bulk" else user_programs_per_user
    )

    return [
        user_list,
        group_list,
        program_session_list,
        group_details,
        courses,
        course_retries,
        path_retries,
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
