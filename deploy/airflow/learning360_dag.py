"""Airflow DAG: the learning360 sync with dlt's Airflow helper, then the derived tables.

Install into your Airflow environment (workers and scheduler):

    pip install 'learning360[postgres] @ git+https://<your git host>/learning360.git'

and put this file in your `dags/` folder. Configuration comes from the worker environment, as for
the CLI (Airflow Variables or a secrets backend can export them):

    SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID, SOURCES__LEARNING360__CREDENTIALS__API_KEY
    DESTINATION__POSTGRES__CREDENTIALS=postgresql://user:password@host:5432/database
    RUNTIME__SLACK_INCOMING_HOOK=https://hooks.slack.com/...   (optional: dlt's failure message)

or from `dags/.dlt/config.toml` and `dags/.dlt/secrets.toml`, where PipelineTasksGroup looks for
the dlt project folder.

Workers are ephemeral as far as dlt is concerned: PipelineTasksGroup gives each run a fresh
pipelines directory, and dlt restores the pipeline state (incremental cursors, schema) from the
destination. So use PostgreSQL or BigQuery, never a DuckDB file on a worker's disk.

How the work is split (``decompose``):

* ``"serialize"``: the source is cut into its connected components (``source.decompose("scc")``:
  resources that share a parent stay together) and they run one after another, each as its own
  Airflow task. Safe, and a failed component can be retried alone.
* ``"parallel-isolated"`` (used below): the same components run in parallel, each task with its
  own pipeline copy, and the load is finalised after all of them. For this source the components
  are, roughly: the per-user fan-out (``user_list`` -> ``users``, ``user_programs``, one
  getUserPrograms call per user: the long one), the per-group fan-out (``group_list`` -> ``groups``,
  ``user_groups``, ``group_catalog``, ``group_programs``), the path sessions and their stats, and
  the independent ``courses``, ``paths``, ``program_sessions``, ``user_courses``.
  All tasks share one API key and the API's 50 GET/s per company: the client-side limiter
  (``max_requests_per_second``, default 40) is per process, so with N parallel tasks set it to
  about 40 / N (e.g. SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=10 for 4 workers).

To pin a heavy resource to its own task explicitly instead, add two runs with
``source.with_resources(...)``, e.g. ``with_resources("user_list", "users", "user_programs")`` and
the rest, with ``decompose="none"`` each.

The derived tables must be rebuilt once, after every resource is loaded: that is the
``build_models`` task below (``learning360 models`` does the same from a shell).

Never run two of these DAG runs at once (``max_active_runs=1``): two syncs of the same pipeline
would race on its state and on the replace-loaded tables.
"""

from __future__ import annotations

import datetime as dt

import dlt
from airflow.decorators import dag, task
from dlt.common import pendulum
from dlt.helpers.airflow_helper import PipelineTasksGroup

PIPELINE_NAME = "learning360"
DATASET_NAME = "learning360_data"  # the CLI's default dataset; keep the report pointed at it
DESTINATION = "postgres"  # or "bigquery"

default_task_args = {
    "owner": "data",
    "depends_on_past": False,
    "email_on_failure": True,  # Airflow's own alert; dlt's Slack hook is separate
    "retries": 0,  # PipelineTasksGroup retries the load step itself (see retry_policy)
    "execution_timeout": dt.timedelta(hours=3),
}


@dag(
    dag_id="learning360_sync",
    schedule="17 2 * * *",  # nightly, 02:17 UTC
    start_date=pendulum.datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args,
    tags=["learning360", "dlt"],
)
def learning360_sync() -> None:
    tasks = PipelineTasksGroup(
        PIPELINE_NAME,
        use_data_folder=False,
        wipe_local_data=True,  # the state lives in the destination; nothing to keep locally
        abort_task_if_any_job_failed=True,  # a failed load job fails the task (and the DAG run)
        save_load_info=True,  # keeps each run's load info in the dataset, for auditing
    )

    # imported inside the DAG function so the scheduler's parse stays cheap
    from sources.learning360 import learning360

    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        dataset_name=DATASET_NAME,
        destination=DESTINATION,
    )
    load_tasks = tasks.add_run(
        pipeline,
        learning360(),
        decompose="parallel-isolated",
        retries=0,  # passed on to each PythonOperator
    )

    @task
    def build_models() -> dict[str, int]:
        """Rebuilds the derived tables from completed loads (as `learning360 models`)."""
        from pipelines.run import make_pipeline, run_models

        return run_models(
            make_pipeline(
                destination=DESTINATION,
                pipeline_name=PIPELINE_NAME,
                dataset_name=DATASET_NAME,
            )
        )

    load_tasks[-1] >> build_models()


learning360_sync()
