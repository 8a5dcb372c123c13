"""dlt source for the 360Learning LMS REST API, v1 or v2 (``api_version``).

Options are the arguments of :func:`learning360` (``[sources.learning360]`` in config.toml or
``SOURCES__LEARNING360__*``); every table is a row of ``tables.py`` (docs/architecture.md).
Decisions, and why:

* Schema contract ``evolve`` (dlt's default, stated on purpose): a new API field becomes a
  column and a changed type a variant column (``score__v_text``) instead of a failed nightly
  run; the contract columns are declared with types, so they exist even when all null.
* Loader file format is the pipeline's choice (``pipelines/run.py``), not a resource hint: a
  parquet hint would break destinations without parquet support.
* Bad records never fail a run nor vanish silently: they are dropped with a WARNING, counted
  and quarantined (``row_guard.py``, ``quarantine.py``, docs/reliability.md).
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
from .stats import RequestStats
from .tables import MAX_TABLE_NESTING
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
        credentials: v1: company id + API key and how to send them (``oauth``, ``header``,
            ``query``); v2: client id + secret.
        user_courses_strategy: ``bulk`` (one getCoursesStats call filtered by last activity)
            or ``per_user`` (getUserCourses per user; for tenants where bulk stats are capped).
            Same ``user_courses`` table and cursor.
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
