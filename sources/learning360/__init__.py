"""dlt source for the 360Learning LMS REST API, v1 or v2: options are the arguments of
:func:`learning360`, every table a row of ``tables.py``. Schema contract ``evolve``: a new field is
a column, a changed type a variant one. No file format hint: not every destination loads parquet."""

from __future__ import annotations

import os
from dataclasses import fields
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from . import defaults as d
from .bounds import Bounds
from .client import build_client
from .company import company_resource
from .credentials import Learning360Credentials
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
from .v1.resources import build_resources as v1_resources
from .v2.resources import build_resources as v2_resources
from .validation import V2Options, settings_problems


@dlt.source(
    name="learning360",
    section="learning360",
    max_table_nesting=MAX_TABLE_NESTING,
    schema_contract="evolve",
)
def learning360(
    base_url: str = d.DEFAULT_BASE_URL,
    api_version: str = "v1",
    credentials: Learning360Credentials = dlt.secrets.value,
    user_courses_strategy: str = "bulk",
    user_programs_strategy: str = "bulk",
    user_details_refresh_days: float = d.DEFAULT_USER_DETAILS_REFRESH_DAYS,
    modified_lag_seconds: int = 3600,
    max_requests_per_second: float = d.DEFAULT_MAX_REQUESTS_PER_SECOND,
    workers: int = d.DEFAULT_WORKERS,
    response_deadline: float = d.DEFAULT_RESPONSE_DEADLINE,
    max_listing_elements: int = d.DEFAULT_MAX_LISTING_ELEMENTS,
    max_listing_pages: int = d.DEFAULT_MAX_LISTING_PAGES,
    # API v2 only (docs/migration-v2.md)
    user_courses_full_read_hours: float = d.DEFAULT_USER_COURSES_FULL_READ_HOURS,
    v2_user_refresh_days: float = d.DEFAULT_V2_USER_REFRESH_DAYS,
    v2_group_refresh_days: float = d.DEFAULT_V2_GROUP_REFRESH_DAYS,
    v2_skip_tables: Any = None,
    change_feed: str | None = None,
    change_feed_reconcile_hours: float = d.DEFAULT_CHANGE_FEED_RECONCILE_HOURS,
    change_feed_retention_hours: float = d.DEFAULT_CHANGE_FEED_RETENTION_HOURS,
    stats: RequestStats | None = None,
) -> list[DltResource]:
    """All 360Learning tables of one company (settings: README.md, docs/reliability.md, and
    docs/migration-v2.md for v2's); pass ``stats`` to read the request counters after the run."""
    base_url = base_url or d.DEFAULT_BASE_URL
    settings = dict(locals())  # every argument, by name
    if problems := settings_problems(settings):
        raise ConfigurationError(problems[0])
    v2_options = V2Options.checked(settings)
    version = api_version.strip().lower()
    # arrow rows get _dlt_load_id and _dlt_id like dict rows (the models read them); env wins
    for key in ("ADD_DLT_LOAD_ID", "ADD_DLT_ID"):
        os.environ.setdefault(f"NORMALIZE__PARQUET_NORMALIZER__{key}", "true")
    bounds = Bounds.from_settings(**{f.name: settings[f.name] for f in fields(Bounds)})
    options = {key: settings[key] for key in ("max_requests_per_second", "workers", "stats")}
    client = build_client(base_url, credentials, version, bounds=bounds, **options)
    names = ("user_courses_strategy", "user_programs_strategy", "user_details_refresh_days")
    chosen = {name: settings[name] for name in (*names, "modified_lag_seconds")}
    if version == "v2":
        resources = v2_resources(client, options=v2_options, **chosen)
    else:
        resources = v1_resources(client, **chosen)
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
