"""v2 dlt resources: the v1 raw tables (same names, keys, contract columns) plus the v2-only
tables, from the v2 routes.

Shape of the graph (feeds are unselected internal resources, one page per item)::

    courses               /courses?modifiedAt[gte]   (author_id only: no mail copied)
    paths                 /paths?modifiedAt[gte]
    path_sessions         /paths/sessions                    (full read, replace)
    user_path_sessions    /paths/stats                       (full read, replace)
    user_courses          /courses/stats                     (full read, merge; see below)
    skills, custom_fields /skills, /custom-fields            (full read, replace)
    user_list (feed)      /users (read once per run, shared) ──> users
    user_custom_fields    /users ──> /users/{id}/custom-fields/values   (selected users, refresh.py)
    user_certificates     /paths/stats?completedAt[gte] ──> /users/{id}/certificates?deliveryDate[gte]
    group_list (feed)     /groups (read once per run, shared) ──> groups
    user_groups, group_catalog   /groups ──> /groups/{id}/roles, /groups/{id}/catalog/…-ids
                                 (selected groups, refresh.py)
    classroom_list (feed) /classrooms ──> classrooms / classroom_slots (/classrooms/{id}/slots) /
                                          classroom_slot_registrations (/classrooms/{id}/registrations)

Incremental strategy (docs/migration-v2.md):

* ``courses``, ``paths``: ``modifiedAt[gte]`` = last ``modifiedAt`` −
  ``modified_lag_seconds`` (dlt ``incremental``), merged on ``_id``; the lag window drops
  re-read rows whose ``modifiedAt`` did not move (state kept under the resource's ``v2`` key,
  apart from v1's).
* ``user_courses``: v2 can filter attempts only by ``completedAt``; an attempt in progress
  changes (progress, time, last activity) without any filterable field, and a new one has no
  ``completedAt`` at all. Default (``user_courses_full_read_hours = 0``): every run re-reads all
  attempts and merges them, which is always right. With ``N > 0`` hours a full read happens at
  most every N hours and the runs in between read only ``completedAt[gte]`` = newest completion
  − lag: new completions arrive at once, progress of open attempts and new open attempts wait
  for the next full read. An attempt a full read no longer returns keeps its row, flagged
  ``deleted`` / ``deleted_noticed_at`` after the load (pipelines/data_guard.py).
* ``user_certificates``: a certificate is delivered when a learner completes a path, so only
  learners with a path completion since the cursor (newest ``deliveryDate`` − lag, dlt
  ``incremental``) are read, and only their certificates delivered since then; merged on ``_id``.
* ``user_custom_fields``, ``user_groups``, ``group_catalog``: no change signal in v2. A parent
  (user, group) is re-read when new, when its listing row changed, or when its refresh falls due
  (``v2_user_refresh_days``, ``v2_group_refresh_days``; refresh.py); merged with the parent id as
  ``merge_key``, so a re-read parent's rows replace its previous ones.
* users, groups, path statistics, skills, custom fields, classrooms and their slots and
  registrations: full read, replace. Their listings are one or a few pages (a change filter
  would save at most those), a full read drops deleted records and catches progress no filter
  shows; the classroom fan-out has no listing-level signal for new registrations.
  ``path_sessions`` too, although v2 can filter them by ``modifiedAt``: they are few, a full
  read drops deleted ones, and v1's ``replace`` is kept so that a pipeline can switch versions
  in place (tables.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource

from ..change_feed import ChangeFeed
from ..errors import ConfigurationError, config_key
from ..lag_window import LagWindow
from ..parallel import bounded_map
from ..quarantine import clean_cursor
from ..tables import FEED_CHUNK_SIZE, V2_TABLES
from ..timestamps import parse_timestamp
from .api import V2Api
from .auth import install_v2_auth
from .parsing import (
    attempt_row,
    catalog_rows,
    certificate_row,
    course_row,
    custom_value_rows,
    group_row,
    membership_rows,
    path_stat_row,
    registration_row,
    slot_row,
    user_row,
)
from .refresh import (
    DEFAULT_GROUP_REFRESH_DAYS,
    DEFAULT_USER_REFRESH_DAYS,
    GROUP_REFRESH_DAYS_KEY,
    USER_REFRESH_DAYS_KEY,
    group_refresh,
    refresh_days,
    user_refresh,
)

if TYPE_CHECKING:
    from ..client import Learning360Client

Row = dict[str, Any]

FULL_READ_HOURS_KEY = "sources.learning360.user_courses_full_read_hours"
SKIP_TABLES_KEY = "sources.learning360.v2_skip_tables"
STATE_KEY = "v2"  # this adapter's part of each resource's dlt state (v1 keeps its own)


def table_hints(name: str) -> dict[str, Any]:
    """dlt hints of one v2 table, from the v2 settings table."""
    return V2_TABLES[name].hints()


def full_read_hours() -> float:
    """``[sources.learning360] user_courses_full_read_hours`` (env
    ``SOURCES__LEARNING360__USER_COURSES_FULL_READ_HOURS``); 0 = a full read every run."""
    value = dlt.config.get(FULL_READ_HOURS_KEY)
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def skip_tables() -> set[str]:
    """``[sources.learning360] v2_skip_tables`` (a list, or a comma-separated string; env
    ``SOURCES__LEARNING360__V2_SKIP_TABLES``): tables not to load, e.g. the v2-only tables of
    a credential without their scope. Unknown names are a configuration error."""
    value = dlt.config.get(SKIP_TABLES_KEY)
    if not value:
        return set()
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = {str(name).strip() for name in names if str(name).strip()}
    unknown = chosen - set(V2_TABLES)
    if unknown:
        raise ConfigurationError(
            f"v2_skip_tables names unknown table(s) {', '.join(sorted(unknown))}: set "
            f"{config_key('v2_skip_tables')} to some of {', '.join(V2_TABLES)}"
        )
    return chosen


def build_resources(
    client: Learning360Client,
    *,
    user_courses_strategy: str = "bulk",
    modified_lag_seconds: int = 3600,
    **_: Any,
) -> list[DltResource]:
    # the credentials the client was built with (the adapter seam passes only the client)
    auth = install_v2_auth(client, client._credentials)  # noqa: SLF001
    api = V2Api(client, auth)
    quarantine = client.stats.quarantine  # a modifiedAt that is not a date never moves a cursor
    workers = client.workers
    lag = float(modified_lag_seconds) if modified_lag_seconds else None
    hours = full_read_hours()
    user_days = refresh_days(USER_REFRESH_DAYS_KEY, DEFAULT_USER_REFRESH_DAYS)
    group_days = refresh_days(GROUP_REFRESH_DAYS_KEY, DEFAULT_GROUP_REFRESH_DAYS)
    if user_courses_strategy != "bulk":
        logger.info(
            "360Learning v2: user_courses_strategy is a v1 setting; v2 reads /courses/stats"
        )

    def fan_out(fetch: Callable[[str], Any], parents: list[Row]) -> Iterator[tuple[Row, Any]]:
        with_ids = [p for p in parents if isinstance(p, Mapping) and isinstance(p.get("_id"), str)]
        yield from bounded_map(lambda parent: fetch(parent["_id"]), with_ids, workers)

    def state() -> dict[str, Any]:
        return dlt.current.resource_state().setdefault(STATE_KEY, {})

    def lag_window(name: str) -> LagWindow:
        return LagWindow(state(), V2_TABLES[name].cursor or "", lag)

    def only_changed(rows: list[Row], window: LagWindow) -> list[Row]:
        fresh = [row for row in rows if isinstance(row, Mapping) and not window.is_unchanged(row)]
        for row in fresh:
            window.remember(row)
        return fresh

    def incremental(name: str) -> dlt.sources.incremental[Any]:
        cursor = V2_TABLES[name].cursor
        return dlt.sources.incremental(cursor, lag=lag, on_cursor_value_missing="include")

    # the webhook change feed (change_feed.py), None = off: the users its events name are
    # re-read on top of the default policy (which stays the safety net and the freshness bound)
    feed = ChangeFeed.from_config(api, lag or 0.0)

    def feed_users(table: str) -> list[Row]:
        if feed is None or feed.falls_back(table):
            return []  # the default v2 policy alone
        return feed.select(table, list(api.listing("users")))

    courses_cursor = incremental("courses")
    paths_cursor = incremental("paths")
    certificates_cursor = incremental("user_certificates")

    def chunks(pairs: Iterator[tuple[Row, Any]], rows_of: Callable[[Row, Any], list[Row]]):
        """Rows of a fan-out, handed to dlt a chunk at a time."""
        rows: list[Row] = []
        for parent, answer in pairs:
            rows.extend(rows_of(parent, answer))
            if len(rows) >= FEED_CHUNK_SIZE:
                yield rows
                rows = []
        if rows:
            yield rows

    def certificate_holders(since: Any) -> list[str]:
        """Learners who may have a certificate to read: a certificate is delivered when a
        learner completes a path, so those with a path completion since ``since``
        (``/paths/stats?completedAt[gte]``; any completion or certificate id on a first run).
        Completions the lag window re-reads unchanged are dropped (lag_window.py)."""
        window = LagWindow(state(), "completedAt", lag)
        users: set[str] = set()
        for page in api.path_completions(since):
            for stat in page:
                if not isinstance(stat, Mapping) or not isinstance(stat.get("userId"), str):
                    continue
                if not (stat.get("completedAt") or stat.get("certificateId")):
                    continue
                if not window.is_unchanged(stat):
                    window.remember(stat)
                    users.add(stat["userId"])
        window.prune()
        return sorted(users)

    def groups_to_read() -> list[Row]:
        """The groups whose members / catalog to read this run (refresh.py)."""
        return group_refresh(state(), group_days).select(list(api.listing("groups")))

    # ---- feeds ---------------------------------------------------------------------------

    @dlt.resource(name="user_list", selected=False)
    def user_list() -> Iterator[list[Row]]:
        listing = api.listing("users")
        for start in range(0, len(listing), FEED_CHUNK_SIZE):
            yield listing[start : start + FEED_CHUNK_SIZE]

    @dlt.resource(name="group_list", selected=False)
    def group_list() -> Iterator[list[Row]]:
        listing = api.listing("groups")
        for start in range(0, len(listing), FEED_CHUNK_SIZE):
            yield listing[start : start + FEED_CHUNK_SIZE]

    @dlt.resource(name="classroom_list", selected=False)
    def classroom_list() -> Iterator[list[Row]]:
        yield from api.classrooms()

    # ---- catalog -------------------------------------------------------------------------

    @dlt.resource(**table_hints("courses"))
    def courses(modified: dlt.sources.incremental[Any] = courses_cursor) -> Iterator[list[Row]]:
        window = lag_window("courses")
        for page in api.courses(modified.start_value):
            page = only_changed(
                list(clean_cursor(page, "courses", "modifiedAt", quarantine)), window
            )
            yield [course_row(c) for c in page]
        window.prune()

    @dlt.resource(**table_hints("paths"))
    def paths(modified: dlt.sources.incremental[Any] = paths_cursor) -> Iterator[list[Row]]:
        window = lag_window("paths")
        for page in api.paths(modified.start_value):
            yield only_changed(list(clean_cursor(page, "paths", "modifiedAt", quarantine)), window)
        window.prune()

    @dlt.resource(**table_hints("path_sessions"))
    def path_sessions() -> Iterator[list[Row]]:
        yield from api.path_sessions()

    @dlt.resource(**table_hints("skills"))
    def skills() -> Iterator[list[Row]]:
        yield from api.skills()

    @dlt.resource(**table_hints("custom_fields"))
    def custom_fields() -> Iterator[list[Row]]:
        yield from api.custom_fields()

    # ---- people and groups ---------------------------------------------------------------

    @dlt.transformer(data_from=user_list, **table_hints("users"))
    def users(page: list[Row]) -> Iterator[list[Row]]:
        yield [user_row(u) for u in page if isinstance(u, Mapping)]

    @dlt.resource(**table_hints("user_certificates"))
    def user_certificates(
        delivered: dlt.sources.incremental[Any] = certificates_cursor,
    ) -> Iterator[list[Row]]:
        """Certificates of the learners who completed a path since the cursor (the newest
        ``deliveryDate`` − lag), delivered since then; all holders on a first run."""
        since = delivered.start_value
        holder_ids = set(certificate_holders(since))
        holder_ids.update(u["_id"] for u in feed_users("user_certificates"))
        holders = [{"_id": user_id} for user_id in sorted(holder_ids)]

        def read(user_id: str) -> list[Row]:
            return api.user_certificates(user_id, since)

        def rows_of(user: Row, certificates: list[Row]) -> list[Row]:
            return [certificate_row(user["_id"], c) for c in certificates if isinstance(c, Mapping)]

        yield from chunks(fan_out(read, holders), rows_of)

    @dlt.resource(**table_hints("user_custom_fields"), merge_key="user_id")
    def user_custom_fields() -> Iterator[list[Row]]:
        """Values of new and changed users and of those due (``v2_user_refresh_days``)."""
        selected = user_refresh(state(), user_days).select(list(api.listing("users")))
        chosen = {u.get("_id") for u in selected}
        selected += [u for u in feed_users("user_custom_fields") if u["_id"] not in chosen]

        def rows_of(user: Row, values: list[Row]) -> list[Row]:
            return custom_value_rows(user["_id"], values)

        yield from chunks(fan_out(api.user_custom_field_values, selected), rows_of)

    @dlt.transformer(data_from=group_list, **table_hints("groups"))
    def groups(page: list[Row]) -> Iterator[list[Row]]:
        yield [group_row(g) for g in page if isinstance(g, Mapping)]

    @dlt.resource(**table_hints("user_groups"), merge_key="group_id")
    def user_groups() -> Iterator[list[Row]]:
        """Members of new and changed groups and of those due (``v2_group_refresh_days``)."""

        def rows_of(group: Row, roles: list[Row]) -> list[Row]:
            return membership_rows(group["_id"], roles)

        yield from chunks(fan_out(api.group_roles, groups_to_read()), rows_of)

    @dlt.resource(**table_hints("group_catalog"), merge_key="group_id")
    def group_catalog() -> Iterator[list[Row]]:
        """Catalogs of new and changed groups and of those due (``v2_group_refresh_days``)."""

        def both(group_id: str) -> tuple[list[Any], list[Any]]:
            return api.catalog_course_ids(group_id), api.catalog_path_session_ids(group_id)

        def rows_of(group: Row, ids: tuple[list[Any], list[Any]]) -> list[Row]:
            return catalog_rows(group["_id"], *ids)

        yield from chunks(fan_out(both, groups_to_read()), rows_of)

    # ---- classrooms ----------------------------------------------------------------------

    @dlt.transformer(data_from=classroom_list, **table_hints("classrooms"))
    def classrooms(page: list[Row]) -> Iterator[list[Row]]:
        yield [dict(room) for room in page if isinstance(room, Mapping)]

    @dlt.transformer(data_from=classroom_list, **table_hints("classroom_slots"))
    def classroom_slots(page: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for room, slots in fan_out(api.classroom_slots, page):
            rows.extend(slot_row(room["_id"], s) for s in slots if isinstance(s, Mapping))
        yield rows

    @dlt.transformer(data_from=classroom_list, **table_hints("classroom_slot_registrations"))
    def classroom_slot_registrations(page: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for room, registrations in fan_out(api.classroom_registrations, page):
            rows.extend(
                registration_row(room["_id"], r) for r in registrations if isinstance(r, Mapping)
            )
        yield rows

    # ---- learner statistics --------------------------------------------------------------

    @dlt.resource(**table_hints("user_path_sessions"))
    def user_path_sessions() -> Iterator[list[Row]]:
        for page in api.path_stats():
            yield [path_stat_row(e) for e in page if isinstance(e, Mapping)]

    @dlt.resource(**table_hints("user_courses"))
    def user_courses() -> Iterator[list[Row]]:
        own = state()
        now = time.time()
        cursor = parse_timestamp(own.get("completed_cursor"))
        last_full = own.get("full_read_at")
        full = (
            hours <= 0
            or cursor is None
            or not isinstance(last_full, int | float)
            or now - last_full >= hours * 3600
        )
        since = None if full else cursor - timedelta(seconds=lag or 0)
        newest = cursor
        # a full read lists every attempt: ids only (~250k short strings on a large company),
        # so that an attempt it no longer returns is flagged deleted after the load
        seen: list[str] = []
        whole = full  # an element without an id (quarantined) could be any stored attempt
        for page in api.course_stats(since):
            rows = [attempt_row(e) for e in page if isinstance(e, Mapping)]
            if whole and len(rows) != len(page):
                whole = False
                seen.clear()
            for row in rows:
                completed = parse_timestamp(row.get("completedAt"))
                if completed is not None and (newest is None or completed > newest):
                    newest = completed
                attempt_id = row.get("_id")
                if whole and isinstance(attempt_id, str):
                    seen.append(attempt_id)
                elif whole:
                    whole = False
                    seen.clear()
            yield rows
        if newest is not None:
            own["completed_cursor"] = newest.isoformat()
        if full:
            own["full_read_at"] = now
        if whole:
            # read whole: never on completedAt[gte] runs, which list completions only
            client.stats.complete_reads["user_courses"] = seen

    resources = [
        user_list,
        group_list,
        classroom_list,
        courses,
        users,
        groups,
        user_groups,
        group_catalog,
        paths,
        path_sessions,
        user_path_sessions,
        user_courses,
        skills,
        user_certificates,
        custom_fields,
        user_custom_fields,
        classrooms,
        classroom_slots,
        classroom_slot_registrations,
    ]
    skipped = skip_tables()
    for resource in resources:
        if resource.name in skipped:
            resource.selected = False
    return resources
