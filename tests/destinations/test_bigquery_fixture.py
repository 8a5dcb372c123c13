"""Smoke tests of the BigQuery emulator (bqemulator 1.4.0) as a dlt destination and SQL engine.

They pin down what the derived models can rely on there:

* dlt loads (default ``jsonl`` and ``parquet``) and merges nested tables;
* ``CREATE OR REPLACE TABLE ... AS SELECT`` and DuckDB-dialect SQL transpiled by sqlglot run and
  give DuckDB's answers;
* dlt's ``sql_client()`` reaches the emulator through jobs.query, which ignores the default
  dataset and reports SQL errors as an empty result (``execute_sql`` returns None): qualify
  every table name and read back with the google client's ``query()`` (:func:`query_rows`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
import sqlglot

from tests.destinations.servers import BigQueryEmulator, query_rows

pytestmark = [
    pytest.mark.bigquery,
    # dlt[bigquery] does not pull google-cloud-bigquery-storage; plain REST reads are fine here
    pytest.mark.filterwarnings("ignore:Cannot create BigQuery Storage client"),
]

FIRST_SYNC = [
    {
        "id": "u1",
        "name": "Ada",
        "score": 91.5,
        "updated_at": "2024-05-01T10:00:00Z",
        "groups": [{"group_id": "g1", "role": "learner"}, {"group_id": "g2", "role": "coach"}],
    },
    {
        "id": "u2",
        "name": "Brian",
        "score": None,
        "updated_at": "2024-05-02T10:00:00Z",
        "groups": [{"group_id": "g1", "role": "learner"}],
    },
]
SECOND_SYNC = [
    {
        "id": "u1",
        "name": "Ada L.",
        "score": 95.0,
        "updated_at": "2024-06-01T10:00:00Z",
        "groups": [{"group_id": "g2", "role": "coach"}],
    },
    {"id": "u3", "name": "Cleo", "score": 70.0, "updated_at": "2024-06-02T10:00:00Z", "groups": []},
]


@dlt.resource(name="users", write_disposition="merge", primary_key="id")
def users(rows: list[dict[str, Any]]) -> Any:
    yield rows


def _pipeline(destination: Any, tmp_path: Path, label: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"bq_smoke_{label}",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=destination,
        dataset_name=f"smoke_{label}_{uuid.uuid4().hex[:8]}",
    )


def _fq(emulator: BigQueryEmulator, dataset: str, table: str) -> str:
    return f"`{emulator.project}`.`{dataset}`.`{table}`"


@pytest.mark.parametrize("loader_file_format", [None, "parquet"])
def test_nested_merge_round_trip(
    bigquery_env: BigQueryEmulator,
    bigquery_destination: Any,
    tmp_path: Path,
    loader_file_format: str | None,
) -> None:
    pipeline = _pipeline(bigquery_destination, tmp_path, loader_file_format or "default")
    kwargs = {"loader_file_format": loader_file_format} if loader_file_format else {}

    pipeline.run(users(FIRST_SYNC), **kwargs).raise_on_failed_jobs()
    pipeline.run(users(SECOND_SYNC), **kwargs).raise_on_failed_jobs()

    client = bigquery_env.client()
    dataset = pipeline.dataset_name
    parents = query_rows(
        client, f"SELECT id, name, score FROM {_fq(bigquery_env, dataset, 'users')} ORDER BY id"
    )
    assert parents == [
        {"id": "u1", "name": "Ada L.", "score": 95.0},
        {"id": "u2", "name": "Brian", "score": None},
        {"id": "u3", "name": "Cleo", "score": 70.0},
    ]
    children = query_rows(
        client,
        f"SELECT u.id, g.group_id, g.role FROM {_fq(bigquery_env, dataset, 'users')} AS u"
        f" JOIN {_fq(bigquery_env, dataset, 'users__groups')} AS g"
        " ON g._dlt_parent_id = u._dlt_id ORDER BY u.id, g.group_id",
    )
    assert children == [
        {"id": "u1", "group_id": "g2", "role": "coach"},
        {"id": "u2", "group_id": "g1", "role": "learner"},
    ]
    updated = query_rows(
        client,
        f"SELECT updated_at FROM {_fq(bigquery_env, dataset, 'users')} WHERE id = 'u1'",
    )
    assert updated == [{"updated_at": dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)}]


def test_sql_client_on_the_emulator(bigquery_destination: Any, tmp_path: Path) -> None:
    """What dlt's sql_client does against bqemulator 1.4.0 (not what real BigQuery does)."""
    pipeline = _pipeline(bigquery_destination, tmp_path, "sqlclient")
    pipeline.run(users(FIRST_SYNC)).raise_on_failed_jobs()
    with pipeline.sql_client() as client:
        users_table = client.make_qualified_table_name("users")
        # fully qualified: works, rows come back
        rows = client.execute_sql(f"SELECT COUNT(*) FROM {users_table}")
        assert rows is not None and rows[0][0] == 2
        # a bare name relies on the default dataset, which jobs.query on the emulator ignores
        assert client.execute_sql("SELECT COUNT(*) FROM users") is None
        # and SQL errors do not raise: they come back as None
        assert client.execute_sql(f"SELECT no_such_column FROM {users_table}") is None
    # pipeline.dataset() qualifies names itself and works
    assert pipeline.dataset()("SELECT COUNT(*) AS n FROM users").fetchall()[0][0] == 2


# DuckDB-dialect SQL in the style of pipelines/models/*.sql, over two small tables
SETUP_DUCKDB = [
    """CREATE TABLE {ds}.learners AS
    SELECT * FROM (VALUES
        ('u1', 'g1', FALSE, TIMESTAMPTZ '2024-01-02 10:00:00+00'),
        ('u2', 'g1', NULL, TIMESTAMPTZ '2024-02-03 11:00:00+00'),
        ('u3', NULL, TRUE, NULL),
        ('u4', 'g2', FALSE, TIMESTAMPTZ '2024-03-01 00:00:00+00')
    ) AS t(id, group_id, deleted, created_at)""",
    """CREATE TABLE {ds}.attempts AS
    SELECT * FROM (VALUES
        ('u1', 'c1', 50.0, TIMESTAMPTZ '2024-01-05 00:00:00+00'),
        ('u1', 'c1', 100.0, TIMESTAMPTZ '2024-01-06 00:00:00+00'),
        ('u1', 'c2', NULL, NULL),
        ('u2', 'c1', 20.0, TIMESTAMPTZ '2024-03-01 00:00:00+00'),
        ('u9', 'c3', 10.0, TIMESTAMPTZ '2024-03-02 00:00:00+00')
    ) AS t(user_id, course_id, progress, last_activity)""",
]

MODEL_DUCKDB = """
WITH latest AS (
    SELECT
        a.user_id,
        a.course_id,
        a.progress,
        ROW_NUMBER() OVER (
            PARTITION BY a.user_id, a.course_id ORDER BY a.last_activity DESC NULLS LAST
        ) AS recency
    FROM {ds}.attempts AS a
),
people AS (
    SELECT l.id AS user_id FROM {ds}.learners AS l WHERE COALESCE(l.deleted, FALSE) = FALSE
    UNION ALL
    SELECT a.user_id FROM {ds}.attempts AS a WHERE a.user_id NOT IN (SELECT id FROM {ds}.learners)
)
SELECT
    p.user_id,
    COALESCE(l.group_id, 'none') AS group_id,
    COUNT(DISTINCT lt.course_id) AS courses,
    CAST(SUM(CASE WHEN lt.progress >= 100 THEN 1 ELSE 0 END) AS BIGINT) AS completed,
    MAX(CASE WHEN lt.recency = 1 THEN lt.progress END) AS last_progress,
    CAST(SUM(CASE WHEN lt.progress >= 100 THEN 1 ELSE 0 END) AS DOUBLE)
        / NULLIF(COUNT(lt.course_id), 0) AS completion_rate,
    COUNT(*) FILTER (WHERE lt.progress IS NOT NULL) AS attempts_with_progress,
    DATE_TRUNC('month', MIN(l.created_at)) AS cohort_month,
    MIN(l.created_at) IS NOT NULL AS known_learner
FROM people AS p
LEFT JOIN {ds}.learners AS l ON l.id = p.user_id
LEFT JOIN latest AS lt ON lt.user_id = p.user_id
GROUP BY p.user_id, l.group_id
"""


def _normalised(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    def value(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.UTC)
        return v

    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def test_transpiled_duckdb_sql_matches_duckdb(bigquery_env: BigQueryEmulator) -> None:
    """CREATE OR REPLACE TABLE ... AS <DuckDB SQL transpiled by sqlglot> gives DuckDB's rows."""
    client = bigquery_env.client()
    dataset = f"sqlcheck_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    qualified = f"`{bigquery_env.project}`.`{dataset}`"

    local = duckdb.connect()
    local.execute(f"CREATE SCHEMA {dataset}")
    for statement in SETUP_DUCKDB:
        local.execute(statement.format(ds=dataset))
        transpiled = sqlglot.transpile(statement.format(ds="ds"), read="duckdb", write="bigquery")
        client.query(transpiled[0].replace("ds.", f"{qualified}.")).result()

    model = MODEL_DUCKDB.format(ds="ds")
    select = sqlglot.transpile(model, read="duckdb", write="bigquery", identify=True)[0]
    select = select.replace("`ds`.", f"{qualified}.")
    client.query(f"CREATE OR REPLACE TABLE {qualified}.`model` AS\n{select}").result()

    got = [tuple(row.values()) for row in query_rows(client, f"SELECT * FROM {qualified}.`model`")]
    want = local.execute(MODEL_DUCKDB.format(ds=dataset)).fetchall()
    assert len(got) == 4  # u1, u2, u4 (u3 is deleted) and u9 (attempts only)
    assert _normalised(got) == _normalised(want)
