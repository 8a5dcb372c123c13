"""Where a pipeline's data goes, by dlt's own configuration keys, so a dlt user's
``DESTINATION__DUCKDB__CREDENTIALS`` or ``[pipelines] dataset_name`` work as they expect.

Precedence, most specific first (README, "Where the data goes"):

* DuckDB file: ``--duckdb-path``; then dlt's ``destination.duckdb.credentials`` (env
  ``DESTINATION__DUCKDB__CREDENTIALS``, a path or ``duckdb:///path``, or
  ``[destination.duckdb.credentials] database``); then ``<pipeline-name>.duckdb`` in the
  current directory (dlt's own default).
* dataset: ``--dataset-name``; then dlt's ``pipelines.<name>.dataset_name``,
  ``pipelines.dataset_name`` or ``dataset_name`` (env ``DATASET_NAME``); then
  ``learning360_data``.
* pipelines dir and the PostgreSQL/BigQuery credentials are dlt's to resolve: the CLI passes
  only what its options set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

DUCKDB_CREDENTIALS_KEY = "destination.duckdb.credentials"


def _lookup(key: str) -> Any:
    """A value from dlt's providers: secrets (env, secrets.toml), then config (config.toml)."""
    for accessor in (dlt.secrets, dlt.config):
        value = accessor.get(key)
        if value not in (None, ""):
            return value
    return None


def configured_duckdb_path() -> str | None:
    """The DuckDB file dlt's configuration names, or None (a path, never a secret)."""
    value = _lookup(DUCKDB_CREDENTIALS_KEY)
    if isinstance(value, Mapping):
        value = value.get("database")
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if "://" in value:  # duckdb:///relative.duckdb, duckdb:////absolute.duckdb
        return str(DuckDbCredentials(value).database)
    return value


def duckdb_path(explicit: str | None, pipeline_name: str) -> str:
    """``--duckdb-path``, else dlt's ``destination.duckdb.credentials``, else the default."""
    return explicit or configured_duckdb_path() or f"{pipeline_name}.duckdb"


def dataset_name(explicit: str | None, pipeline_name: str, default: str) -> str:
    """``--dataset-name``, else dlt's ``dataset_name`` keys, else ``default``."""
    if explicit:
        return explicit
    for key in (f"pipelines.{pipeline_name}.dataset_name", "pipelines.dataset_name"):
        value = dlt.config.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    value = dlt.config.get("dataset_name")
    return value.strip() if isinstance(value, str) and value.strip() else default
