"""Fixtures for the model tests: raw tables loaded from a truth dict by a real dlt pipeline into a
temporary DuckDB, the way the source lays them out (docs/architecture.md, raw tables)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import dlt
import pytest

from tests.models.hand_truth import hand_made_truth

REPO_ROOT = Path(__file__).resolve().parents[2]

DATASET = "learning360_raw"

# table -> (primary key, write disposition), as the source declares them
RAW_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "courses": (("_id",), "merge"),
    "users": (("_id",), "replace"),
    "groups": (("_id",), "replace"),
    "user_groups": (("user_id", "group_id"), "replace"),
    "group_catalog": (("group_id", "item_type", "item_id"), "replace"),
    "group_programs": (("group_id", "program_session_id"), "replace"),
    "program_sessions": (("_id",), "replace"),
    "paths": (("_id",), "merge"),
    "path_sessions": (("_id",), "replace"),
    "user_path_sessions": (("user_id", "path_session_id"), "replace"),
    "user_courses": (("_id",), "merge"),
    "user_programs": (("user_id", "program_session_id"), "replace"),
}

# type names; expanded into fresh hint dicts per resource (dlt writes into the dicts it gets)
_TS, _TEXT, _INT, _DOUBLE = "timestamp", "text", "bigint", "double"
# hints for columns whose type is ambiguous or that may be entirely null in a small truth
COLUMN_HINTS: dict[str, dict[str, str]] = {
    "courses": {"creation_date": _TS, "modification_date": _TS, "group": _TEXT},
    "users": {"deleted": "bool", "primary_group_id": _TEXT},
    "groups": {"parent": _TEXT},
    "program_sessions": {"start_date": _TS, "end_date": _TS, "modified_at": _TS},
    "paths": {"created_at": _TS, "modified_at": _TS},
    "path_sessions": {"start_date": _TS, "end_date": _TS, "created_at": _TS, "modified_at": _TS},
    "user_path_sessions": {
        "score": _INT,
        "completed_at": _TS,
        "total_time_spent_in_seconds": _DOUBLE,
    },
    "user_courses": {
        "score": _INT,
        "global_time": _DOUBLE,  # a spec `number` (timeSpent): fractions happen
        "completed_at": _TS,
        "first_activity": _TS,
        "last_activity": _TS,
        "path": _TEXT,
        "path_session": _TEXT,
    },
    "user_programs": {"score": _INT, "completed_at": _TS, "total_time_spent_in_seconds": _DOUBLE},
}


def _hints(table: str) -> dict[str, dict[str, Any]]:
    return {
        column: {"data_type": data_type, "nullable": True}
        for column, data_type in COLUMN_HINTS.get(table, {}).items()
    }


def load_truth(
    pipeline: dlt.Pipeline,
    truth: dict[str, Any],
    tables: Iterable[str] | None = None,
    *,
    hints: bool = True,
) -> None:
    """Loads truth tables as raw tables: one resource per table, keys and dispositions as the
    source declares them. ``hints=False`` lets dlt drop all-null columns, as a young tenant's
    first sync would."""
    resources = []
    for table in tables or RAW_TABLES:
        primary_key, disposition = RAW_TABLES[table]
        resources.append(
            dlt.resource(
                list(truth.get(table) or []),
                name=table,
                primary_key=list(primary_key),
                write_disposition=disposition,
                columns=_hints(table) if hints else None,
            )
        )
    pipeline.run(resources).raise_on_failed_jobs()


def read_rows(pipeline: dlt.Pipeline, table: str) -> list[dict[str, Any]]:
    """All rows of a table in the pipeline's dataset, as dicts."""
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        with client.execute_query(f"SELECT * FROM {name}") as cursor:
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def execute(pipeline: dlt.Pipeline, sql: str) -> Any:
    with pipeline.sql_client() as client:
        return client.execute_sql(sql)


@pytest.fixture
def make_warehouse(tmp_path: Path) -> Callable[[str], dlt.Pipeline]:
    """A factory of DuckDB pipelines in the test's temp dir (one file per name)."""

    def _make(name: str = "models") -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=f"learning360_{name}",
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
            dataset_name=DATASET,
        )

    return _make


@pytest.fixture
def hand_truth() -> dict[str, Any]:
    return hand_made_truth()
