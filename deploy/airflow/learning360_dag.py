"""Airflow 3 DAG: every 360Learning company of a tenants file, in parallel, then the models
per company and the cross-tenant views.

Install into your Airflow environment (scheduler and workers), with the tested pins:

    pip install -c deploy/airflow/constraints.txt 'apache-airflow==3.3.2' \\
        'learning360[postgres] @ git+https://<your git host>/learning360.git'

(``make test-airflow`` runs this DAG with ``airflow dags test`` in exactly that environment,
``scripts/airflow-venv.sh``.) Put this file in your ``dags/`` folder, with ``tenants.toml``
beside it or ``LEARNING360_TENANTS_FILE`` pointing at it (docs/operations.md)::

    [tenants.acme]
    api_version = "v1"
    base_url = "https://app.360learning.com"
    company_id_env = "ACME_360_COMPANY_ID"    # names of worker environment variables
    api_key_env = "ACME_360_API_KEY"

    [tenants.globex]
    api_version = "v2"
    base_url = "https://app.us.360learning.com"
    airflow_conn_id = "learning360_globex"    # login = client id, password = client secret

The tenants file holds names, never secrets: the credentials live in the workers' environment
or in Airflow connections (any secrets backend). The destination comes from the worker
environment as for the CLI: ``DESTINATION__POSTGRES__CREDENTIALS=postgresql://...`` (or
BigQuery's), ``LEARNING360_DESTINATION`` = ``postgres`` (default) or ``bigquery``.

Shape of a run (``airflow dags test learning360_sync`` shows it):

* ``tenants``: reads and validates the tenants file (a mistake fails here, naming the key);
  the ``only_tenants`` param (``--conf '{"only_tenants": ["acme"]}'``) reruns a subset.
* ``tenant`` task group, mapped once per tenant (dynamic task mapping): ``load`` syncs that
  company into its own pipeline and dataset ``learning360_<tenant>``, then ``models`` rebuilds
  its derived tables. Tenants run in parallel (up to ``LEARNING360_PARALLEL_TENANTS``, default
  4, at a time); one company is never split into parallel tasks: they would share its API
  limit of 50 GET/s (the client's default rate, ``max_requests_per_second``).
  ``load`` runs the sync in a child process whose environment holds that tenant's
  credentials only, so a bad key, unreachable host or crash fails that tenant's tasks alone:
  the failed task's log and message name the tenant and what to fix. A configuration
  problem (exit 2) fails at once; a transient one is retried (``LEARNING360_TASK_RETRIES``).
* ``cross_tenant_views`` (runs even when a tenant failed): ``learning360_all.<model>``, every
  tenant's derived table with a ``tenant`` column, for BI across companies.
* ``all_tenants_loaded``: fails the DAG run when any tenant failed, so the run's state tells.

Workers are ephemeral as far as dlt is concerned: dlt restores each tenant's pipeline state
(incremental cursors, schema) from its dataset at the start of a sync. So use PostgreSQL or
BigQuery, never a DuckDB file on a worker's disk. ``max_active_runs=1``: two runs of the same
tenant would race on its state (its sync lock refuses the second on one machine only).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException
from pendulum import datetime

from pipelines.exit_codes import EXIT_CONFIG  # a leaf module: cheap at DAG parse time

TENANTS_FILE = os.environ.get(
    "LEARNING360_TENANTS_FILE", str(Path(__file__).with_name("tenants.toml"))
)
DESTINATION = os.environ.get("LEARNING360_DESTINATION", "postgres")
PARALLEL_TENANTS = int(os.environ.get("LEARNING360_PARALLEL_TENANTS", "4"))

log = logging.getLogger(__name__)

default_task_args = {
    "owner": "data",
    "depends_on_past": False,
    "email_on_failure": True,  # Airflow's own alert; dlt's Slack hook is separate
    "retries": int(os.environ.get("LEARNING360_TASK_RETRIES", "2")),
    "retry_delay": dt.timedelta(minutes=10),
    "execution_timeout": dt.timedelta(hours=3),
}


def _tenants() -> list[Any]:
    from pipelines.tenants import TenantsFileError, load_tenants

    try:
        return load_tenants(TENANTS_FILE)
    except TenantsFileError as exc:
        raise AirflowFailException(str(exc)) from None


def _tenant(name: str) -> tuple[Any, list[Any]]:
    everyone = _tenants()
    return next(t for t in everyone if t.name == name), everyone


@dag(
    dag_id="learning360_sync",
    schedule="17 2 * * *",  # nightly, 02:17 UTC
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args,
    params={
        "only_tenants": Param([], type="array", description="tenant names; empty = all"),
    },
    tags=["learning360", "dlt"],
)
def learning360_sync() -> None:
    @task(retries=0)
    def tenants() -> list[str]:
        """The tenants to sync (all, or the ``only_tenants`` param), validated."""
        from pipelines.tenants import TenantsFileError, select_tenants

        only = get_current_context()["params"].get("only_tenants") or []
        try:
            return [t.name for t in select_tenants(_tenants(), only)]
        except TenantsFileError as exc:
            raise AirflowFailException(str(exc)) from None

    @task_group(group_id="tenant")
    def one_tenant(name: str) -> None:
        @task(max_active_tis_per_dagrun=PARALLEL_TENANTS)
        def load(name: str) -> int:
            """``learning360 sync --no-models`` for one tenant, in its own process."""
            from pipelines.tenants import run_tenant, sync_arguments, tenant_line

            tenant, everyone = _tenant(name)
            connection = None
            if tenant.airflow_conn_id and not tenant.credential_env:
                from airflow.sdk import Connection

                conn = Connection.get(tenant.airflow_conn_id)
                connection = (conn.login, conn.password)
            result = run_tenant(
                tenant,
                sync_arguments(tenant, destination=DESTINATION, extra=["--no-models"]),
                all_tenants=everyone,
                connection=connection,
                output=log.info,
            )
            if result.ok:
                log.info("tenant %s: %s rows in %.1f s", name, result.rows, result.seconds)
                return result.rows or 0
            line = tenant_line(tenant, result.line, airflow=True)
            if result.code == EXIT_CONFIG:  # retrying cannot help: fix the config first
                raise AirflowFailException(line)
            raise RuntimeError(line)

        @task
        def models(name: str) -> dict[str, int]:
            """The tenant's derived tables, from its completed loads."""
            from pipelines.run import make_pipeline, run_models

            tenant, _ = _tenant(name)
            return run_models(
                make_pipeline(
                    destination=DESTINATION,
                    pipeline_name=tenant.pipeline_name,
                    dataset_name=tenant.dataset_name,
                )
            )

        load(name) >> models(name)

    @task(trigger_rule="all_done", retries=0)
    def cross_tenant_views() -> dict[str, int]:
        """``learning360_all.<model>`` over every tenant whose model exists."""
        from pipelines.tenants import build_cross_tenant_views

        return build_cross_tenant_views(_tenants(), destination=DESTINATION)

    @task(retries=0)
    def all_tenants_loaded() -> None:
        """Runs only when every tenant loaded and built its models: the run's state tells."""

    groups = one_tenant.expand(name=tenants())
    done = all_tenants_loaded()
    groups >> cross_tenant_views() >> done
    groups >> done


learning360_sync()
