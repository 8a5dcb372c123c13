"""End to end on a real PostgreSQL server: full sync, incremental sync after the company
advances, and the derived models, each compared with the emulator's ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator import Company
from pipelines.run import make_pipeline, run_sync
from tests.warehouse import assert_models_equal_expected, assert_warehouse_equals_truth

pytestmark = pytest.mark.postgres


def test_postgres_full_then_incremental_equals_ground_truth(
    configure, postgres_env: str, tmp_path: Path, company: Company
) -> None:
    pipeline = make_pipeline(
        destination="postgres",
        pipeline_name="learning360_pg",
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name=f"e2e_{tmp_path.name[-8:].lower().replace('-', '_')}",
    )
    run_sync(pipeline)
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)

    company.advance(days=2)
    again = run_sync(pipeline)
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)
    assert again.rows_per_table.get("courses", 0) < len(truth["courses"])  # incremental
