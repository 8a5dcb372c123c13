"""v2 dlt resources: the v1 raw tables (same names, keys, contract columns) plus the v2-only
tables, from the v2 routes.

Shape of the graph (feeds are unselected internal resources, one page per item)::

    courses               /courses?modifiedAt[gte]   (+ getUser once per distinct author: mail)
    paths                 /paths?modifiedAt[gte]
    path_sessions         /paths/sessions                    (full read, replace)
    user_path_sessions    /paths/stats                       (full read, replace)
    user_courses          /courses/stats                     (full read, merge; see below)
    skills, custom_fields /skills, /custom-fields            (full read, replace)
    user_list (feed)      /users ──> users / user_certificates (/users/{id}/certificates) /
                                     user_custom_fields (/users/{id}/custom-fields/values)
    group_list (feed)     /groups ──> groups / user_groups (/groups/{id}/roles) /
                                      group_catalog (/groups/{id}/catalog/{course,path-session}-ids)
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
  for the next full read.
* users, groups, memberships, catalogs, path statistics and the v2-only tables: no change filter
  worth trusting (or none at all): full read, replace. ``path_sessions`` too, although v2 can
  filter them by ``modifiedAt``: they are few, a full read drops deleted ones, and v1's
  ``replace`` is kept so that a pipeline can switch versions in place (settings.py).
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
from ..settings import dlt_hints
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
from .settings import V2_RESOURCES

if TYPE_CHECKING:
    from ..client import Learning360Client

Row = dict[str, Any]

FULL_READ_HOURS_KEY = "sources.learning360.user_courses_full_read_hours"
SKIP_TABLES_KEY = "sources.learning360.v2_skip_tables"
STATE_KEY = "v2"  # this adapter's part of each resource's dlt state (v1 keeps its own)


def table_hints(name: str) -> dict[str, Any]:
    """dlt hints of one v2 table, from the v2 settings table."""
    return dlt_hints(V2_RESOURCES[name])


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
    unknown = chosen - set(V2_RESOURCES)
    if unknown:
        raise ConfigurationError(
            f"v2_skip_tables names unknown table(s) {', '.join(sorted(unknown))}: set "
            f"{config_key('v2_skip_tables')} to some of {', '.join(V2_RESOURCES)}"
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
    workers = client.workers
    lag = float(modified_lag_seconds) if modified_lag_seconds else None
    hours = full_read_hours()
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
        return LagWindow(state(), V2_RESOURCES[name].cursor or "", lag)

    def only_changed(rows: list[Row], window: LagWindow) -> list[Row]:
        fresh = [row for row in rows if isinstance(row, Mapping) and not window.is_unchanged(row)]
        for row in fresh:
            window.remember(row)
        return fresh

    def incremental(name: str) -> dlt.sources.incremental[Any]:
        cursor = V2_RESOURCES[name].cursor
        return dlt.sources.incremental(cursor, lag=lag, on_cursor_value_missing="include")

    # the webhook change feed (change_feed.py): which users' fan-outs to re-read; None = off.
    # Its tables merge per user (delete-insert on user_id): a user re-read replaces its rows.
    feed = ChangeFeed.from_config(api, lag or 0.0)

    def changed_users(table: str, page: list[Row]) -> list[Row]:
        if feed is None or feed.falls_back(table):
            return page  # the default v2 policy: every user of the page
        return feed.select(table, page)

    courses_cursor = incremental("courses")
    paths_cursor = incremental("paths")

    # ---- feeds ---------------------------------------------------------------------------

    @dlt.resource(name="user_list", selected=False)
    def user_list() -> Iterator[list[Row]]:
        yield from api.users()

    @dlt.resource(name="group_list", selected=False)
    def group_list() -> Iterator[list[Row]]:
        yield from api.groups()

    @dlt.resource(name="classroom_list", selected=False)
    def classroom_list() -> Iterator[list[Row]]:
        yield from api.classrooms()

    # ---- catalog -------------------------------------------------------------------------

    @dlt.resource(**table_hints("courses"))
    def courses(modified: dlt.sources.incremental[Any] = courses_cursor) -> Iterator[list[Row]]:
        window = lag_window("courses")
        for page in api.courses(modified.start_value):
            page = only_changed(page, window)
            authors = sorted({a for c in page if isinstance(a := c.get("authorId"), str)})
            mails = {author: mail for author, mail in bounded_map(api.user_mail, authors, workers)}
            yield [course_row(c, mails.get(c.get("authorId"))) for c in page]
        window.prune()

    @dlt.resource(**table_hints("paths"))
    def paths(modified: dlt.sources.incremental[Any] = paths_cursor) -> Iterator[list[Row]]:
        window = lag_window("paths")
        for page in api.paths(modified.start_value):
            yield only_changed(page, window)
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
        api.remember_mails(page)
        yield [user_row(u) for u in page if isinstance(u, Mapping)]

    @dlt.transformer(data_from=user_list, **table_hints("user_certificates"))
    def user_certificates(page: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for user, certificates in fan_out(
            api.user_certificates, changed_users("user_certificates", page)
        ):
            rows.extend(
                certificate_row(user["_id"], c) for c in certificates if isinstance(c, Mapping)
            )
        yield rows

    @dlt.transformer(data_from=user_list, **table_hints("user_custom_fields"))
    def user_custom_fields(page: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for user, values in fan_out(
            api.user_custom_field_values, changed_users("user_custom_fields", page)
        ):
            rows.extend(custom_value_rows(user["_id"], values))
        yield rows

    @dlt.transformer(data_from=group_list, **table_hints("groups"))
    def groups(page: list[Row]) -> Iterator[list[Row]]:
        yield [group_row(g) for g in page if isinstance(g, Mapping)]

    @dlt.transformer(data_from=group_list, **table_hints("user_groups"))
    def user_groups(page: list[Row]) -> Iterator[list[Row]]:
        rows: list[Row] = []
        for group, roles in fan_out(api.group_roles, page):
            rows.extend(membership_rows(group["_id"], roles))
        yield rows

    @dlt.transformer(data_from=group_list, **table_hints("group_catalog"))
    def group_catalog(page: list[Row]) -> Iterator[list[Row]]:
        def both(group_id: str) -> tuple[list[Any], list[Any]]:
            return api.catalog_course_ids(group_id), api.catalog_path_session_ids(group_id)

        rows: list[Row] = []
        for group, (course_ids, session_ids) in fan_out(both, page):
            rows.extend(catalog_rows(group["_id"], course_ids, session_ids))
        yield rows

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
        for page in api.course_stats(since):
            rows = [attempt_row(e) for e in page if isinstance(e, Mapping)]
            for row in rows:
                completed = parse_timestamp(row.get("completedAt"))
                if completed is not None and (newest is None or completed > newest):
                    newest = completed
            yield rows
        if newest is not None:
            own["completed_cursor"] = newest.isoformat()
        if full:
            own["full_read_at"] = now

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
    if feed is not None:
        for resource in (user_certificates, user_custom_fields):
            resource.apply_hints(
                write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                merge_key="user_id",
            )
    skipped = skip_tables()
    for resource in resources:
        if resource.name in skipped:
            resource.selected = False
    return resources
