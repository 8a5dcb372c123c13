"""End to end on BigQuery (the bqemulator package on loopback): full sync, incremental sync
after the company advances, and the derived models in BigQuery's dialect, each compared with
the emulator's ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import Company
from pipelines.run import make_pipeline, run_sync
from tests.warehouse import assert_models_equal_expected, assert_warehouse_equals_truth

pytestmark = pytest.mark.bigquery


def test_bigquery_full_then_incremental_equals_ground_truth(
    configure, bigquery_destination: Any, tmp_path: Path, company: Company
) -> None:
    pipeline = make_pipeline(
        destination=bigquery_destination,
        pipeline_name="learning360_bq",
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name=f"e2e_{tmp_path.name[-8:].lower().replace('-', '_')}",
    )
    result = run_sync(pipeline)
    assert all(rows >= 0 for rows in result.models.values()), result.models
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)
    # partitioning/clustering reach dlt's CREATE TABLE (the emulator does not report them back)
    columns = pipeline.default_schema.tables["user_courses"]["columns"]
    assert columns["last_activity"].get("x-bigquery-partition")
    assert columns["course_id"].get("x-bigquery-cluster") and columns["user_id"].get(
        "x-bigquery-cluster"
    )

    company.advance(days=2)
    run_sync(pipeline)
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)
