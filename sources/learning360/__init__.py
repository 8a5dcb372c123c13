"""dlt source for the 360Learning LMS REST API (v1).

Config lives under ``[sources.learning360]`` (``base_url``, ``api_version``,
``user_courses_strategy``, ``user_programs_strategy``, ``user_details_refresh_days``,
``modified_lag_seconds``, ``max_requests_per_second``, ``workers``, ``response_deadline``,
``max_listing_elements``, ``max_listing_pages``)
and ``[sources.learning360.credentials]`` (``company_id``, ``api_key``, ``auth_method``), or
the matching env vars (``SOURCES__LEARNING360__CREDENTIALS__API_KEY`` ...). The tables, keys
and dispositions are in ``settings.py`` and ``docs/architecture.md``.

Decisions, and why:

* ``max_table_nesting=1``: top-level lists (``paths.steps``, ``program_sessions.modules``,
  ``users.groups`` ...) become child tables a BI engineer can join on ``_dlt_parent_id``;
  deeper structures (translations' translator lists, achievement lists) stay JSON columns
  instead of exploding into dozens of sparse tables. Link tables use nesting 0.
* Schema contract ``evolve`` for tables, columns and data types (dlt's default, stated on
  purpose): a new API field becomes a new column, and a field whose type changes lands in a
  variant column (``score__v_text``) instead of failing the load. ``freeze`` would turn a
  harmless API change into a failed nightly run; ``discard_*`` would drop data silently. The
  contract columns are declared with types (``settings.RESOURCES``), so they exist even when
  every value is null (``score``, ``completed_at``) and keep stable types.
* Loader file format is the pipeline's choice, not a resource hint: ``pipelines/run.py``
  passes ``loader_file_format="parquet"`` where the destination supports it (DuckDB,
  BigQuery); a parquet hint here would break destinations without parquet support.
* Incremental tables (courses, paths, user_courses) send their cursor minus
  ``modified_lag_seconds`` to the API (dlt ``incremental(lag=...)``) and merge on ``_id``;
  ``lag_window.py`` drops re-read rows whose cursor did not move, so a run with no change
  loads nothing and calls getCourse for nothing.
* Parallelism and streaming-retry semantics: see ``parallel.py`` and ``client.py``.
* Bad records never fail a run nor vanish silently: a listing element without ``_id`` and a
  row without (or repeating) its primary key are dropped with a WARNING and counted in the
  sync summary (``client.py``, ``row_guard.py``, docs/reliability.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from .bounds import Bounds
from .client import build_client
from .company import company_resource
from .credentials import Learning360Credentials
from .defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_CHANGE_FEED_RECONCILE_HOURS,
    DEFAULT_CHANGE_FEED_RETENTION_HOURS,
    DEFAULT_MAX_LISTING_ELEMENTS,
    DEFAULT_MAX_LISTING_PAGES,
    DEFAULT_MAX_REQUESTS_PER_SECOND,
    DEFAULT_RESPONSE_DEADLINE,
    DEFAULT_USER_COURSES_FULL_READ_HOURS,
    DEFAULT_USER_DETAILS_REFRESH_DAYS,
    DEFAULT_V2_GROUP_REFRESH_DAYS,
    DEFAULT_V2_USER_REFRESH_DAYS,
    DEFAULT_WORKERS,
)
from .errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    Learning360Error,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
)
from .row_guard import guard_rows
from .settings import MAX_TABLE_NESTING
from .stats import RequestStats
from .v1.resources import build_resources as build_v1_resources
from .v2.refresh import V2Options
from .v2.resources import build_resources as build_v2_resources
from .validation import check_settings

ARROW_LINEAGE_ENV = (
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID",
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID",
)

# The one place that picks an API adapter.
ADAPTERS: dict[str, Callable[..., list[DltResource]]] = {
    "v1": build_v1_resources,
    "v2": build_v2_resources,  # client_id/client_secret credentials; docs/migration-v2.md
}


@dlt.source(
    name="learning360",
    section="learning360",
    max_table_nesting=MAX_TABLE_NESTING,
    schema_contract="evolve",
)
def learning360(
    base_url: str = DEFAULT_BASE_URL,
    api_version: str = "v1",
    credentials: Learning360Credentials = dlt.secrets.value,
    user_courses_strategy: str = "bulk",
    user_programs_strategy: str = "bulk",
    user_details_refresh_days: float = DEFAULT_USER_DETAILS_REFRESH_DAYS,
    modified_lag_seconds: int = 3600,
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND,
    workers: int = DEFAULT_WORKERS,
    response_deadline: float = DEFAULT_RESPONSE_DEADLINE,
    max_listing_elements: int = DEFAULT_MAX_LISTING_ELEMENTS,
    max_listing_pages: int = DEFAULT_MAX_LISTING_PAGES,
    # API v2 only (docs/migration-v2.md): refresh periods, full attempt reads, tables to skip,
    # the webhook change feed
    user_courses_full_read_hours: float = DEFAULT_USER_COURSES_FULL_READ_HOURS,
    v2_user_refresh_days: float = DEFAULT_V2_USER_REFRESH_DAYS,
    v2_group_refresh_days: float = DEFAULT_V2_GROUP_REFRESH_DAYS,
    v2_skip_tables: Any = None,
    change_feed: str | None = None,
    change_feed_reconcile_hours: float = DEFAULT_CHANGE_FEED_RECONCILE_HOURS,
    change_feed_retention_hours: float = DEFAULT_CHANGE_FEED_RETENTION_HOURS,
    stats: RequestStats | None = None,
) -> list[DltResource]:
    """All 360Learning tables of one company.

    Args:
        base_url: tenant host, e.g. ``https://app.us.360learning.com`` for the US platform.
        api_version: ``v1`` (company id + API key) or ``v2`` (client id + secret; see
            docs/migration-v2.md).
        credentials: company id + API key and how to send them (``oauth``, ``header``, ``query``).
        user_courses_strategy: ``bulk`` (one getCoursesStats call filtered by last activity)
            or ``per_user`` (getUserCourses per user; for tenants where bulk stats are capped).
            Both produce the same ``user_courses`` table and share its cursor.
        user_programs_strategy: ``bulk`` (getProgramSessionStats per program session: every
            assigned learner with progress) or ``per_user`` (getUserPrograms per user). Same
            ``user_programs`` table.
        user_details_refresh_days: every user's getUser details are re-read at least this
            often (new users and users whose listing fields changed: every run); 0 = every
            user every run.
        modified_lag_seconds: the incremental cursors are sent to the API this many seconds
            early, so late-committed changes are not missed; merge keys absorb the overlap.
        max_requests_per_second: client-side limit shared by all threads (API allows 50/s;
            the limiter never exceeds it in any one-second window).
        workers: concurrent per-item requests, shared by every fan-out of the run.
        response_deadline, max_listing_elements, max_listing_pages: bounds on one answer
            (seconds to its last byte) and one listing, so a server that trickles, never ends
            or loops cannot hang the sync (``bounds.py``).
        user_courses_full_read_hours, v2_user_refresh_days, v2_group_refresh_days,
            v2_skip_tables, change_feed, change_feed_reconcile_hours,
            change_feed_retention_hours: API v2's options (``v2/refresh.py V2Options``).
        stats: pass a ``RequestStats`` to read the request counters after the run.
    """
    check_settings(
        base_url or DEFAULT_BASE_URL,
        api_version,
        max_requests_per_second,
        workers,
        user_courses_strategy,
        user_programs_strategy,
        user_details_refresh_days,
    )
    version = api_version.strip().lower()
    refresh_days = float(user_details_refresh_days)
    v2_options = V2Options.checked(
        user_courses_full_read_hours=user_courses_full_read_hours,
        v2_user_refresh_days=v2_user_refresh_days,
        v2_group_refresh_days=v2_group_refresh_days,
        v2_skip_tables=v2_skip_tables,
        change_feed=change_feed,
        change_feed_reconcile_hours=change_feed_reconcile_hours,
        change_feed_retention_hours=change_feed_retention_hours,
    )
    # user_courses is yielded as pyarrow tables: give them dlt's _dlt_load_id and _dlt_id like
    # dict rows get (the models read completed loads by _dlt_load_id). Also in .dlt/config.toml;
    # set here too so a pipeline run from another directory gets them. An explicit env wins.
    for key in ARROW_LINEAGE_ENV:
        os.environ.setdefault(key, "true")
    bounds = Bounds.from_settings(
        response_deadline=response_deadline,
        max_listing_elements=max_listing_elements,
        max_listing_pages=max_listing_pages,
    )
    client = build_client(
        base_url or DEFAULT_BASE_URL,
        credentials,
        version,
        max_requests_per_second=max_requests_per_second,
        workers=workers,
        stats=stats,
        bounds=bounds,
    )
    resources = ADAPTERS[version](
        client,
        user_courses_strategy=user_courses_strategy,
        user_programs_strategy=user_programs_strategy,
        user_details_refresh_days=refresh_days,
        modified_lag_seconds=modified_lag_seconds,
        **({"options": v2_options} if version == "v2" else {}),
    )
    guard_rows(resources, client.stats)  # no NULL or repeated primary key reaches dlt
    # first, so a dataset holding another company's data is refused before any request
    return [company_resource(client, credentials, version), *resources]


__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailedError",
    "Learning360Credentials",
    "Learning360Error",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestStats",
    "learning360",
]
