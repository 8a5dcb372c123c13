"""v1 dlt resources: the simple shapes generated from the registry rows with a row mapper, and
the four with real logic written out below. Per-item calls share one :class:`..parallel.FanOut`
of ``workers`` threads; resources never build URLs, authenticate or sleep."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.extract.resource import DltResource

from ..client import json_type
from ..cursors import (
    ArrowCursor,
    LagWindow,
    Row,
    chunked,
    incremental,
    only_changed,
    parse_timestamp,
)
from ..parallel import FanOut
from ..quarantine import clean_cursor
from ..refresh import UserDetailsRefresh
from ..tables import FEED_CHUNK_SIZE, V1_FEEDS, V1_PER_USER, V1_TABLES, TableSpec, snake_case
from .api import V1Api
from .parsing import (
    course_stats_attempts,
    group_program_rows,
    id_of,
    merge_details,
    user_course_attempts,
    user_row,
)

if TYPE_CHECKING:
    from ..client import Learning360Client

ARROW_BATCH_ROWS = 5_000  # rows per user_courses pyarrow table: as fast as 20,000
# rows handed to dlt at a time by a fan-out, and "heavy" answers (a session's stats: a row per
# learner) held together: memory stays flat however big the sessions
ROW_CHUNK, HEAVY_BATCH = 2_000, 8


def build_resources(
    client: Learning360Client,
    *,
    user_courses_strategy: str,
    user_programs_strategy: str,
    user_details_refresh_days: float,
    modified_lag_seconds: int,
) -> list[DltResource]:
    api, quarantine = V1Api(client), client.stats.quarantine
    pool = FanOut(client.workers, stats=client.stats)
    lag = float(modified_lag_seconds) if modified_lag_seconds else None
    specs = {**V1_FEEDS, **V1_TABLES}
    if user_programs_strategy == "per_user":
        specs.update(V1_PER_USER)
    built: dict[str, DltResource] = {}

    def fan_out(
        fetch: Callable[..., Any], parents: Iterable[Row], *, heavy: bool = False
    ) -> Iterator[list[tuple[Row, Any]]]:
        """Batches of ``(parent, fetch(parent_id))`` as the answers arrive, quiet for a parent
        flagged ``deleted``; ``heavy`` answers are held a few at a time (flat memory)."""

        def call(parent: Row) -> Any:
            return fetch(id_of(parent), quiet=bool(parent.get("deleted")))

        held = {"buffer": 0, "max_batch": HEAVY_BATCH} if heavy else {}
        # a list: a known count of calls, so the progress shows an ETA
        return pool.batches(call, [parent for parent in parents if id_of(parent)], **held)

    def lag_window(spec: TableSpec) -> LagWindow:
        return LagWindow(dlt.current.resource_state(), spec.cursor or "", lag)

    def mapped(spec: TableSpec, elements: Iterable[Any]) -> list[Row]:
        return [row for element in elements for row in spec.rows(element, api)]  # type: ignore[misc]

    def generated(spec: TableSpec) -> DltResource:
        route = spec.routes[-1]
        if spec.parent is None and spec.cursor:
            start = incremental(spec.cursor, lag)

            @dlt.resource(**spec.hints())
            def changed_listing(since: dlt.sources.incremental[Any] = start) -> Iterator[list[Row]]:
                window = lag_window(spec)
                listing = getattr(api, route)(since.start_value)
                listing = clean_cursor(listing, spec.name, spec.cursor or "", quarantine)
                for chunk in chunked(listing, FEED_CHUNK_SIZE):
                    yield only_changed(mapped(spec, chunk), window)
                window.prune()

            return changed_listing
        if spec.parent is None:

            @dlt.resource(**spec.hints())
            def listing() -> Iterator[list[Row]]:
                for chunk in chunked(getattr(api, route)(), FEED_CHUNK_SIZE):
                    yield mapped(spec, chunk)

            return listing

        @dlt.transformer(data_from=built[spec.parent], **spec.hints())
        def child(chunk: list[Row]) -> Iterator[list[Row]]:
            if specs[spec.parent].routes[-1] == route:  # the parent's elements hold the rows
                yield mapped(spec, chunk)
                return
            batches = fan_out(getattr(api, route), chunk, heavy=spec.heavy)
            yield from chunked((row for batch in batches for row in mapped(spec, batch)), ROW_CHUNK)

        return child

    for spec in specs.values():
        if spec.rows is not None:
            built[spec.name] = generated(spec)

    def detailed(table: str, batches: Iterable[list[tuple[Row, Any]]]) -> Iterator[list[Row]]:
        """Listing rows merged with their getX details; a course gets its author's id."""
        for batch in batches:
            rows = [merge_details(row, details) for row, details in batch]
            for row in rows if table == "courses" else ():
                row["author_id"] = api.user_id_of_mail(row.get("author"))
            yield list(clean_cursor(rows, table, V1_TABLES[table].cursor or "", quarantine))

    courses_spec = V1_TABLES["courses"]
    courses_start = incremental(courses_spec.cursor or "", lag)

    @dlt.resource(**courses_spec.hints())
    def courses(modified: dlt.sources.incremental[Any] = courses_start) -> Iterator[list[Row]]:
        window = lag_window(courses_spec)
        listing = api.courses(modified.start_value)
        listing = clean_cursor(listing, "courses", modified.cursor_path, quarantine)
        yield from detailed("courses", fan_out(api.course, only_changed(listing, window)))
        window.prune()

    def retries(table: str, fetch: Callable[..., Any]) -> DltResource:
        """Records quarantined by an earlier run are re-read from the single-item route, in a
        resource of their own (the table's cursor would filter them out); no request if none."""

        spec = V1_TABLES[table]

        @dlt.resource(**{**spec.hints(), "name": f"{table}_retries", "table_name": table})
        def retried() -> Iterator[list[Row]]:
            batches = fan_out(fetch, [{"_id": key} for key in sorted(quarantine.open_keys(table))])
            yield from detailed(table, ([(p, d) for p, d in b if d is not None] for b in batches))

        return retried

    @dlt.resource(**V1_TABLES["users"].hints())
    def users() -> Iterator[list[Row]]:
        refresh = UserDetailsRefresh(dlt.current.resource_state(), user_details_refresh_days)
        rows = [row for row in api.users() if isinstance(row, dict)]  # whole: to fingerprint it
        # read whole: a user missing from it is flagged deleted after the load (case 10)
        client.stats.complete_reads["users"] = [id_of(row) or "" for row in rows]
        selected = refresh.select(rows)
        # users quarantined by an earlier run are re-read now, not when their refresh is due
        retry = quarantine.open_keys("users") - {id_of(row) for row in selected}
        selected += [row for row in rows if id_of(row) in retry]
        # a user gone between getUsers and getUser keeps its listing row, without details
        for batch in fan_out(api.user, selected):
            yield [user_row(u, details) for u, details in batch]

    seen_pairs: set[tuple[Any, Any]] = set()
    per_group: list[bool] = []  # set once a tenant's sessions lack `groups`

    def unseen(rows: Iterable[Row]) -> list[Row]:
        fresh = {(row["group_id"], row["program_session_id"]): row for row in rows}
        fresh = {pair: row for pair, row in fresh.items() if pair not in seen_pairs}
        seen_pairs.update(fresh)
        return list(fresh.values())

    @dlt.transformer(data_from=built["program_session_list"], **V1_TABLES["group_programs"].hints())
    def group_programs(sessions_chunk: list[Row]) -> Iterator[list[Row]]:
        """From each session's ``groups`` (no extra request). A tenant whose listing lacks
        ``groups`` (added to v1 in Feb 2021) gets getGroupPrograms per group instead, once."""
        if per_group:
            return
        sessions = [s for s in sessions_chunk if id_of(s)]
        if all(isinstance(s.get("groups"), list) for s in sessions):
            pairs = ((id_of(g, "groupId"), id_of(s)) for s in sessions for g in s["groups"])
            yield unseen({"group_id": g, "program_session_id": s} for g, s in pairs if g)
            return
        per_group.append(True)
        for batch in fan_out(api.group_programs, api.groups()):
            yield unseen(row for g, answer in batch for row in group_program_rows(id_of(g), answer))

    attempts = V1_TABLES["user_courses"]

    def bulk_attempts(element: Row) -> list[Row]:
        """A ``null`` among a course's ``stats`` or a learner's ``attempts`` is quarantined (the
        parsers skip it without a trace)."""
        stats = [stat for stat in element.get("stats") or () if isinstance(stat, dict)]
        for holder, key in [(element, "stats"), *((stat, "attempts") for stat in stats)]:
            values = holder.get(key)
            bad = [v for v in values if not isinstance(v, dict)] if isinstance(values, list) else []
            for value in bad:
                problem = f"GET courses/stats {key} element is {json_type(value)}, not an object"
                quarantine.reject("user_courses", problem, value)
        return list(course_stats_attempts(element))

    def arrow_batches(chunks: Iterable[list[Row]]) -> Iterator[pa.Table]:
        window = lag_window(attempts)
        cursor = attempts.cursor or ""
        chunks = (clean_cursor(chunk, "user_courses", cursor, quarantine) for chunk in chunks)
        fresh = (row for chunk in chunks for row in only_changed(chunk, window))
        yield from map(arrow_table, chunked(fresh, ARROW_BATCH_ROWS))
        window.prune()

    arrow_hints = attempts.hints(incremental_cursor=False)
    arrow_cursor = ArrowCursor(attempts.cursor_column, lag=lag, on_cursor_value_missing="include")
    if user_courses_strategy == "bulk":

        @dlt.resource(**arrow_hints)
        def user_courses(since: ArrowCursor = arrow_cursor) -> Iterator[Any]:
            elements = (e for e in api.courses_stats(since.start_value) if isinstance(e, dict))
            yield from arrow_batches(map(bulk_attempts, elements))

    else:  # same rows and cursor as the bulk strategy; dlt's cursor filters them here

        @dlt.transformer(data_from=built["user_list"], **arrow_hints)
        def user_courses(chunk: list[Row], since: ArrowCursor = arrow_cursor) -> Iterator[Any]:
            answers = (pair for batch in fan_out(api.user_courses, chunk) for pair in batch)
            yield from arrow_batches(
                list(user_course_attempts(id_of(user) or "", element))
                for user, answer in answers
                for element in answer or ()
                if isinstance(element, dict)
            )

    return [
        *built.values(),
        courses,
        retries("courses", api.course),
        retries("paths", api.path),
        users,
        group_programs,
        user_courses,
    ]


TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP,
}


def arrow_table(rows: list[Row]) -> pa.Table:
    """``user_courses`` dict rows (API keys) as a ``pa.Table`` (dlt normalizes dicts at ~12k
    rows/s, a pyarrow table loads as is) with the names and types dict rows would get, unknown
    fields as inferred columns and a key only some rows have NULL elsewhere."""
    spec = V1_TABLES["user_courses"]
    arrays, fields = [], []
    for key in dict.fromkeys(key for row in rows for key in row):
        name = snake_case(key)
        array = _array([row.get(key) for row in rows], ARROW_TYPES.get(spec.columns.get(name, "")))
        nullable = name not in spec.primary_key or array.null_count > 0
        arrays.append(array)
        fields.append(pa.field(name, array.type, nullable=nullable))
    if spec.cursor_column not in {field.name for field in fields}:  # dlt's cursor reads it
        arrays.append(pa.nulls(len(rows), TIMESTAMP))
        fields.append(pa.field(spec.cursor_column, TIMESTAMP))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _array(values: list[Any], data_type: pa.DataType | None) -> pa.Array:
    if data_type == TIMESTAMP:
        try:
            return pc.cast(pa.array(values, pa.string()), TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([parse_timestamp(v) for v in values], TIMESTAMP)
    if data_type is not None:
        try:
            return pa.array(values, data_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass  # an unexpected type: infer it below (dlt puts it in a variant column)
    if any(isinstance(v, dict | list) for v in values):
        return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
