"""v1 dlt resources: the simple shapes generated from the registry (``tables.V1_FEEDS`` and
``V1_TABLES`` rows with a row mapper), and the four with real logic written out below: course
details for changed courses, the users refresh, the arrow attempts and the group-programs
fallback.

Per-item calls go through one :class:`..parallel.FanOut` (``workers`` threads shared by every
fan-out), running while dlt's main thread works on other resources, so the client's rate
limiter stays busy. Resources never build URLs, authenticate or sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import dlt
from dlt.extract.resource import DltResource

from ..client import json_type
from ..lag_window import ArrowCursor, LagWindow
from ..parallel import FanOut
from ..quarantine import clean_cursor
from ..tables import (
    ARROW_BATCH_ROWS,
    FEED_CHUNK_SIZE,
    HEAVY_BATCH,
    ROW_CHUNK,
    V1_FEEDS,
    V1_PER_USER,
    V1_TABLES,
    Row,
    TableSpec,
)
from .api import V1Api
from .columnar import ArrowRows
from .parsing import (
    chunked,
    course_stats_attempts,
    group_program_rows,
    id_of,
    merge_details,
    user_course_attempts,
    user_row,
)
from .refresh import UserDetailsRefresh

if TYPE_CHECKING:
    from ..client import Learning360Client


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
    specs = {**V1_FEEDS, **V1_TABLES}
    if user_programs_strategy == "per_user":
        specs.update(V1_PER_USER)
    built: dict[str, DltResource] = {}

    def fan_out(
        fetch: Callable[..., Any], parents: Iterable[Row], *, heavy: bool = False
    ) -> Iterator[list[tuple[Row, Any]]]:
        """Batches of ``(parent, fetch(parent_id))`` for every parent with an id, as the answers
        arrive (no warning for a missing answer of a parent flagged ``deleted``). ``heavy``
        answers are held a few at a time: that keeps a large sync's memory flat."""

        def call(parent: Row) -> Any:
            return fetch(id_of(parent), quiet=bool(parent.get("deleted")))

        parents_with_id: Iterable[Row] = (parent for parent in parents if id_of(parent))
        if isinstance(parents, list):  # a known count of calls: progress shows an ETA
            parents_with_id = list(parents_with_id)
        if heavy:
            return pool.batches(call, parents_with_id, buffer=0, max_batch=HEAVY_BATCH)
        return pool.batches(call, parents_with_id)

    def rows_of(batches: Iterable[list[Any]], spec: TableSpec) -> Iterator[list[Row]]:
        """The rows ``spec.rows`` maps from every item, in lists of about ``ROW_CHUNK``."""
        rows: list[Row] = []
        for batch in batches:
            for item in batch:
                rows.extend(spec.rows(item, api))  # type: ignore[misc]
                if len(rows) >= ROW_CHUNK:
                    yield rows
                    rows = []
        if rows:
            yield rows

    def lag_window(spec: TableSpec) -> LagWindow:
        return LagWindow(dlt.current.resource_state(), spec.cursor or "", lag)

    def incremental(spec: TableSpec, arrow: bool = False) -> dlt.sources.incremental[Any]:
        """dlt's cursor on ``spec.cursor`` (its column on pyarrow tables), sent ``lag`` early;
        dlt binds each to its resource's state."""
        if arrow:
            return ArrowCursor(spec.cursor_column, lag=lag, on_cursor_value_missing="include")
        return dlt.sources.incremental(spec.cursor, lag=lag, on_cursor_value_missing="include")

    def hints(spec: TableSpec) -> dict[str, Any]:
        return spec.hints() if spec.primary_key else {"name": spec.name, "selected": False}

    def mapped(spec: TableSpec, elements: Iterable[Row]) -> list[Row]:
        return [row for element in elements for row in spec.rows(element, api)]  # type: ignore[misc]

    def generated(spec: TableSpec) -> DltResource:
        """list -> rows (filtered by the cursor if any), parent element -> rows, or parent ->
        one request each -> rows."""
        route = spec.routes[-1]
        if spec.parent is None and spec.cursor:
            start = incremental(spec)

            @dlt.resource(**hints(spec))
            def changed_listing(since: dlt.sources.incremental[Any] = start) -> Iterator[list[Row]]:
                window = lag_window(spec)
                listing = getattr(api, route)(since.start_value)
                listing = clean_cursor(listing, spec.name, spec.cursor or "", quarantine)
                for chunk in chunked(listing, FEED_CHUNK_SIZE):
                    yield window.only_changed(mapped(spec, chunk))
                window.prune()

            return changed_listing
        if spec.parent is None:

            @dlt.resource(**hints(spec))
            def listing() -> Iterator[list[Row]]:
                for chunk in chunked(getattr(api, route)(), FEED_CHUNK_SIZE):
                    yield mapped(spec, chunk)

            return listing
        if specs[spec.parent].routes[-1] == route:  # the parent's elements hold the rows

            @dlt.transformer(data_from=built[spec.parent], **hints(spec))
            def from_parent(chunk: list[Row]) -> Iterator[list[Row]]:
                yield mapped(spec, chunk)

            return from_parent

        @dlt.transformer(data_from=built[spec.parent], **hints(spec))
        def fetched(chunk: list[Row]) -> Iterator[list[Row]]:
            yield from rows_of(fan_out(getattr(api, route), chunk, heavy=spec.heavy), spec)

        return fetched

    for spec in specs.values():
        if spec.rows is not None:
            built[spec.name] = generated(spec)

    # ---- courses: getCourse details for the new and changed courses only -----------------

    courses_spec = V1_TABLES["courses"]
    cursor, courses_start = courses_spec.cursor or "", incremental(courses_spec)

    @dlt.resource(**courses_spec.hints())
    def courses(modified: dlt.sources.incremental[Any] = courses_start) -> Iterator[list[Row]]:
        window = lag_window(courses_spec)
        listing = clean_cursor(api.courses(modified.start_value), "courses", cursor, quarantine)
        changed = window.only_changed(list(listing))
        for batch in fan_out(api.course, changed):
            rows = [merge_details(c, details) for c, details in batch]
            yield list(clean_cursor(with_author_ids(rows), "courses", cursor, quarantine))
        window.prune()

    def with_author_ids(rows: list[Row]) -> list[Row]:
        for row in rows:
            row["author_id"] = api.user_id_of_mail(row.get("author"))
        return rows

    def retries(
        table: str, fetch: Callable[..., Any], finish: Callable[[list[Row]], list[Row]] = list
    ) -> DltResource:
        """Records quarantined by an earlier run (getCourse answered null, a date that is not a
        date) are re-read now from the single-item route, in a resource of their own (the
        table's cursor would filter the older ones out). No request when nothing is open."""
        spec = V1_TABLES[table]

        @dlt.resource(**{**spec.hints(), "name": f"{table}_retries", "table_name": table})
        def retried() -> Iterator[list[Row]]:
            parents = [{"_id": key} for key in sorted(quarantine.open_keys(table))]
            for batch in fan_out(fetch, parents):
                rows = [merge_details(p, details) for p, details in batch if details is not None]
                yield list(clean_cursor(finish(rows), table, spec.cursor or "", quarantine))

        return retried

    # ---- users: details for new and changed users and a rotating slice --------------------

    @dlt.resource(**V1_TABLES["users"].hints())
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
            # every user this run: the listing is held (~14 MB for 20k users) so the fan-out
            # knows how many calls are due and progress can show an ETA
            selected = list(refresh.observe(listing()))
        else:
            rows = list(listing())  # read whole to fingerprint it
            selected = refresh.select(rows)
            # users quarantined by an earlier run are re-read now, not when their refresh is due
            retry = quarantine.open_keys("users") - {id_of(row) for row in selected}
            if retry:
                selected = selected + [row for row in rows if id_of(row) in retry]
        # a user gone between getUsers and getUser keeps its listing row, without details
        for batch in fan_out(api.user, selected):
            yield [user_row(u, details) for u, details in batch]

    # ---- group_programs: from the sessions' `groups`, else getGroupPrograms per group -----

    group_programs_seen: set[tuple[str, str]] = set()
    group_programs_mode: dict[str, bool] = {"per_group": False}

    @dlt.transformer(data_from=built["program_session_list"], **V1_TABLES["group_programs"].hints())
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

    # ---- user_courses: pyarrow tables, bulk or per user ----------------------------------

    attempts_spec = V1_TABLES["user_courses"]

    def refuse_nested_non_objects(element: Row) -> None:
        """A ``null`` among a course's ``stats`` or a learner's ``attempts``: quarantined and
        taken out (the parsers would skip it without a trace)."""
        for holder, key in [(element, "stats"), *(
            (stat, "attempts") for stat in element.get("stats") or () if isinstance(stat, dict)
        )]:  # fmt: skip
            values = holder.get(key)
            if isinstance(values, list) and not all(isinstance(v, dict) for v in values):
                for value in values:
                    if not isinstance(value, dict):
                        quarantine.reject(
                            "user_courses",
                            f"GET courses/stats {key} element is {json_type(value)}, not an object",
                            value,
                        )
                holder[key] = [v for v in values if isinstance(v, dict)]

    def arrow_batches(rows: Iterable[list[Row]]) -> Iterator[Any]:
        """Attempt rows -> pyarrow tables of about ``ARROW_BATCH_ROWS``, after the lag window
        dropped the re-read ones whose cursor did not move."""
        window = lag_window(attempts_spec)
        table = ArrowRows(
            attempts_spec.columns, attempts_spec.primary_key, always=[attempts_spec.cursor_column]
        )
        for chunk in rows:
            attempts = clean_cursor(chunk, "user_courses", attempts_spec.cursor or "", quarantine)
            table.extend(window.only_changed(list(attempts)))
            if len(table) >= ARROW_BATCH_ROWS:
                yield table.flush()
        if len(table):
            yield table.flush()
        window.prune()

    arrow_hints = attempts_spec.hints(incremental_cursor=False)
    bulk_start = incremental(attempts_spec, arrow=True)
    per_user_start = incremental(attempts_spec, arrow=True)

    @dlt.resource(**arrow_hints)
    def user_courses_bulk(since: ArrowCursor = bulk_start) -> Iterator[Any]:
        def elements() -> Iterator[list[Row]]:
            for element in api.courses_stats(since.start_value):
                if isinstance(element, dict):
                    refuse_nested_non_objects(element)
                    yield list(course_stats_attempts(element))

        yield from arrow_batches(elements())

    @dlt.transformer(data_from=built["user_list"], **arrow_hints)
    def user_courses_per_user(
        users_chunk: list[Row], since: ArrowCursor = per_user_start
    ) -> Iterator[Any]:
        # same rows and cursor as the bulk strategy; dlt's cursor filters them here
        def elements() -> Iterator[list[Row]]:
            for batch in fan_out(api.user_courses, users_chunk):
                for user, answer in batch:
                    for element in answer or ():
                        if isinstance(element, dict):
                            yield list(user_course_attempts(id_of(user) or "", element))

        yield from arrow_batches(elements())

    return [
        *built.values(),
        courses,
        retries("courses", api.course, with_author_ids),
        retries("paths", api.path),
        users,
        group_programs,
        user_courses_bulk if user_courses_strategy == "bulk" else user_courses_per_user,
    ]
