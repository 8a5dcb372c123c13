"""Soak: 30 consecutive incremental syncs of the small company, the company advancing a
simulated day between syncs. The warehouse equals the truth after every sync; the growth of
the DuckDB file and of the pipeline working dir is recorded (printed with `-s`, and written
to `soak_growth.json` in the test's tmp dir; docs/reliability.md quotes a run)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dlt
import pytest

from emulator import Company
from pipelines.run import run_sync
from tests.reliability.helpers import assert_no_duplicate_keys, assert_state_consistent
from tests.warehouse import assert_models_equal_expected, assert_warehouse_equals_truth

SYNCS = 30


def _tree(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


@pytest.mark.slow
def test_thirty_incremental_syncs(
    configure, pipeline: dlt.Pipeline, company: Company, tmp_path: Path
) -> None:
    duckdb_file = tmp_path / "warehouse.duckdb"
    growth = []
    for n in range(1, SYNCS + 1):
        if n > 1:
            company.advance(days=1)
        result = run_sync(pipeline)
        truth = company.truth()
        assert_warehouse_equals_truth(pipeline, truth)
        if n % 10 == 0 or n == 1:
            assert_models_equal_expected(pipeline, truth)
            assert_no_duplicate_keys(pipeline)
            assert_state_consistent(pipeline)
        wal = duckdb_file.with_name(duckdb_file.name + ".wal")
        dir_bytes, dir_files = _tree(Path(pipeline.working_dir))
        growth.append(
            {
                "sync": n,
                "seconds": round(result.seconds, 2),
                "requests": result.requests["total"],
                "attempts": len(truth["user_courses"]),
                "duckdb_bytes": duckdb_file.stat().st_size
                + (wal.stat().st_size if wal.exists() else 0),
                "pipeline_dir_bytes": dir_bytes,
                "pipeline_dir_files": dir_files,
                "loaded_packages": len(pipeline.list_completed_load_packages()),
            }
        )
    report = tmp_path / "soak_growth.json"
    report.write_text(json.dumps(growth, indent=1))
    if os.environ.get("LEARNING360_SOAK_REPORT"):
        Path(os.environ["LEARNING360_SOAK_REPORT"]).write_text(json.dumps(growth, indent=1))
    print("\nsync  seconds  requests  attempts  duckdb_KiB  dir_KiB  dir_files  packages")
    for g in growth:
        print(
            f"{g['sync']:>4}  {g['seconds']:>7}  {g['requests']:>8}  {g['attempts']:>8}  "
            f"{g['duckdb_bytes'] // 1024:>10}  {g['pipeline_dir_bytes'] // 1024:>7}  "
            f"{g['pipeline_dir_files']:>9}  {g['loaded_packages']:>8}"
        )
    # growth stays bounded: the last ten syncs add less than the first sync's whole footprint
    first, tenth, last = growth[0], growth[9], growth[-1]
    assert last["duckdb_bytes"] - tenth["duckdb_bytes"] < 3 * first["duckdb_bytes"], growth
