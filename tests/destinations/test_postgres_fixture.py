"""Smoke tests of the throwaway PostgreSQL: dlt loads into it, merges nested tables, reads back.

They also pin down which loader file formats dlt 1.31's postgres destination takes:
``insert_values`` (default), ``csv`` (COPY; turns empty strings into NULL) and ``parquet``
(ADBC ingest, only with the ``adbc-driver-postgresql`` package; without it dlt logs a warning
and falls back to ``insert_values``). ``jsonl`` is rejected.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import dlt
import psycopg
import pytest
from dlt.common.destination.exceptions import DestinationIncompatibleLoaderFileFormatException

from tests.destinations.servers import PostgresServer

pytestmark = pytest.mark.postgres

HAS_ADBC = importlib.util.find_spec("adbc_driver_postgresql") is not None

FIRST_SYNC = [
    {
        "id": "u1",
        "name": "Ada",
        "nickname": "",
        "score": 91.5,
        "updated_at": "2024-05-01T10:00:00Z",
        "groups": [{"group_id": "g1", "role": "learner"}, {"group_id": "g2", "role": "coach"}],
    },
    {
        "id": "u2",
        "name": "Brian",
        "nickname": "bk",
        "score": None,
        "updated_at": "2024-05-02T10:00:00Z",
        "groups": [{"group_id": "g1", "role": "learner"}],
    },
]
# u1 changes and loses a group, u3 is new
SECOND_SYNC = [
    {
        "id": "u1",
        "name": "Ada L.",
        "nickname": "",
        "score": 95.0,
        "updated_at": "2024-06-01T10:00:00Z",
        "groups": [{"group_id": "g2", "role": "coach"}],
    },
    {
        "id": "u3",
        "name": "Cleo",
        "nickname": "c",
        "score": 70.0,
        "updated_at": "2024-06-02T10:00:00Z",
        "groups": [],
    },
]


@dlt.resource(name="users", write_disposition="merge", primary_key="id")
def users(rows: list[dict[str, Any]]) -> Any:
    yield rows


def _pipeline(destination: Any, tmp_path: Path, label: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"pg_smoke_{label}",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=destination,
        # one dataset (schema) per test: the server is shared by the whole session
        dataset_name=f"smoke_{label}_{uuid.uuid4().hex[:8]}",
    )


def _select(pipeline: dlt.Pipeline, sql_template: str, *tables: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        names = [client.make_qualified_table_name(t) for t in tables]
        return [tuple(row) for row in client.execute_sql(sql_template.format(*names))]


def _file_formats(load_info: Any) -> set[str]:
    return {
        job.job_file_info.file_format
        for package in load_info.load_packages
        for job in package.jobs["completed_jobs"]
        # "sql" is the merge follow-up job that dlt runs after the load files
        if job.job_file_info.table_name == "users" and job.job_file_info.file_format != "sql"
    }


@pytest.mark.parametrize("loader_file_format", [None, "csv", "parquet"])
def test_nested_merge_round_trip(
    postgres_dsn: str, tmp_path: Path, loader_file_format: str | None
) -> None:
    label = loader_file_format or "default"
    pipeline = _pipeline(dlt.destinations.postgres(postgres_dsn), tmp_path, label)
    kwargs = {"loader_file_format": loader_file_format} if loader_file_format else {}

    pipeline.run(users(FIRST_SYNC), **kwargs).raise_on_failed_jobs()
    info = pipeline.run(users(SECOND_SYNC), **kwargs)
    info.raise_on_failed_jobs()

    expected_format = {None: "insert_values", "csv": "csv"}.get(
        loader_file_format, "parquet" if HAS_ADBC else "insert_values"
    )
    assert _file_formats(info) == {expected_format}

    parents = _select(pipeline, "SELECT id, name, nickname, score FROM {} ORDER BY id", "users")
    # COPY ... CSV with NULL '' cannot tell an empty string from NULL
    empty = None if expected_format == "csv" else ""
    assert parents == [
        ("u1", "Ada L.", empty, 95.0),
        ("u2", "Brian", "bk", None),
        ("u3", "Cleo", "c", 70.0),
    ]

    children = _select(
        pipeline,
        "SELECT u.id, g.group_id, g.role FROM {} AS u JOIN {} AS g ON g._dlt_parent_id = u._dlt_id"
        " ORDER BY u.id, g.group_id",
        "users",
        "users__groups",
    )
    # merge replaced u1's child rows instead of appending to them
    assert children == [("u1", "g2", "coach"), ("u2", "g1", "learner")]


def test_jsonl_is_not_a_postgres_format(postgres_dsn: str, tmp_path: Path) -> None:
    pipeline = _pipeline(dlt.destinations.postgres(postgres_dsn), tmp_path, "jsonl")
    with pytest.raises(DestinationIncompatibleLoaderFileFormatException):
        pipeline.run(users(FIRST_SYNC), loader_file_format="jsonl")


def test_destination_from_environment(postgres_env: str, tmp_path: Path) -> None:
    """``destination="postgres"`` + DESTINATION__POSTGRES__CREDENTIALS: the CLI's path."""
    pipeline = _pipeline("postgres", tmp_path, "env")
    pipeline.run(users(FIRST_SYNC)).raise_on_failed_jobs()
    assert _select(pipeline, "SELECT COUNT(*) FROM {}", "users") == [(2,)]


def test_password_is_required_over_tcp(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (postgres_server.user,)
    wrong = postgres_server.dsn.replace(postgres_server.password, "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)
