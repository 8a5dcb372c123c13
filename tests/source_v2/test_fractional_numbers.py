"""Spec `number` fields with fractions (the emulator's fractional mode, emulator/fractional.py):
v1 and v2 load them into their contract columns, raw tables and models equal ground truth, and
no variant column appears. A value that fits no type (a string in a number field) still lands
in a variant column: the sync warns, ``status`` and ``doctor`` flag it (pipelines/variants.py).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.column_types import widen_integer_columns
from pipelines.doctor import PASS, WARN, check_variants
from pipelines.run import make_pipeline, run_sync
from pipelines.status import EXIT_ATTENTION, collect_status, format_status
from pipelines.variants import pipeline_variants
from sources.learning360.tables import V2_TABLES
from tests.conftest import SEED
from tests.source_v2.truth import assert_v2_warehouse_equals_truth, v2_view
from tests.warehouse import assert_models_equal_expected, assert_warehouse_equals_truth, read_table


@pytest.fixture
def company() -> Company:
    return Company.generate(seed=SEED, size="small", fractional_numbers=True)


def _fractional(values: list[Any]) -> int:
    return sum(1 for v in values if isinstance(v, float) and not v.is_integer())


def test_the_fractional_company_has_fractions_where_the_spec_says_number(company: Company) -> None:
    truth = company.truth()
    whole = Company.generate(seed=SEED, size="small").truth()
    for table, column in (
        ("courses", "course_duration"),
        ("user_courses", "global_time"),
        ("user_programs", "total_time_spent_in_seconds"),
        ("user_certificates", "validity_period"),
    ):
        values = [row[column] for row in truth[table]]
        assert _fractional(values), f"{table}.{column} has no fraction"
        if table != "user_certificates":  # few: every one has a fraction
            assert _fractional(values) < len(values), f"{table}.{column}: all have one"
        assert not _fractional([row[column] for row in whole[table]]), "default mode changed"
    # the spec's integers stay whole
    assert not _fractional([row["progress"] for row in truth["user_courses"]])


def _no_variants(pipeline: dlt.Pipeline) -> None:
    assert pipeline_variants(pipeline) == []


def _total_time(pipeline: dlt.Pipeline) -> list[Any]:
    return [row["total_time_spent_ms"] for row in read_table(pipeline, "learner_course_stats")]


def test_v2_loads_fractions_into_the_contract_columns(
    configure_v2, new_pipeline, company: Company
) -> None:
    configure_v2()
    pipeline = new_pipeline()
    run_sync(pipeline)
    truth = company.truth()
    assert_v2_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, v2_view(truth))
    _no_variants(pipeline)
    # the per-learner totals keep their fractions (they were cast to an integer before)
    assert _fractional(_total_time(pipeline))


def test_v1_loads_fractions_into_the_contract_columns(
    configure_v1, new_pipeline, company: Company
) -> None:
    configure_v1()
    pipeline = new_pipeline("learning360_v1")
    run_sync(pipeline)
    truth = company.truth()
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)
    _no_variants(pipeline)
    assert _fractional(_total_time(pipeline))


def test_a_value_of_no_type_warns_and_is_flagged(
    configure_v2,
    new_pipeline,
    company: Company,
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempt = company.truth()["user_courses"][0]["_id"]
    emulator.set_data_faults(
        {
            "route": "GET /api/v2/courses/stats",
            "action": "set",
            "match": {"_id": attempt},
            "fields": {"timeSpent": "n/a"},
        }
    )
    configure_v2()
    pipeline = new_pipeline()
    dlt_logger = logging.getLogger("dlt")  # dlt's logger does not propagate to the root
    dlt_logger.addHandler(caplog.handler)
    try:
        run_sync(pipeline)
        found = {(v.table, v.column, v.variant) for v in pipeline_variants(pipeline)}
        # the v2 field (time_spent) and the v1 contract column filled from it (global_time)
        assert found == {
            ("user_courses", "global_time", "global_time__v_text"),
            ("user_courses", "time_spent", "time_spent__v_text"),
        }
        _check_warned_and_flagged(pipeline, caplog)
    finally:
        dlt_logger.removeHandler(caplog.handler)


def _check_warned_and_flagged(pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    line = next((w for w in warnings if "global_time__v_text" in w), None)
    assert line is not None, warnings
    assert "user_courses.global_time (double)" in line and "type text" in line
    assert "the models read NULL" in line
    # the next sync creates nothing new: no second warning
    caplog.clear()
    run_sync(pipeline, build_models=False)
    assert not [r for r in caplog.records if "__v_" in r.getMessage()]

    status = collect_status(pipeline, where="test", state_from="working dir")
    assert status.exit_code == EXIT_ATTENTION
    text = format_status(status)
    assert "variant columns" in text and "user_courses.global_time" in text

    check = check_variants(str(pipeline.pipelines_dir), pipeline.pipeline_name)
    assert check.outcome == WARN and "global_time__v_text" in check.detail


def test_doctor_passes_without_variant_columns(configure_v2, new_pipeline) -> None:
    configure_v2()
    pipeline = new_pipeline()
    run_sync(pipeline, resources=["courses"], build_models=False)
    check = check_variants(str(pipeline.pipelines_dir), pipeline.pipeline_name)
    assert check.outcome == PASS, check


def _older_warehouse_is_widened(pipeline: dlt.Pipeline, company: Company, double: str) -> None:
    run_sync(pipeline, resources=["user_certificates"], build_models=False)
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("user_certificates")
        client.execute_sql(f"ALTER TABLE {table} ALTER COLUMN validity_period TYPE BIGINT")
    # an older warehouse had no certificates cursor (they were re-read every run): forget it
    with pipeline.managed_state() as state:
        state["sources"]["learning360"]["resources"].pop("user_certificates", None)
    run_sync(pipeline, resources=["user_certificates"], build_models=False)
    with pipeline.sql_client() as client:
        kind = client.execute_sql(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'user_certificates' AND column_name = 'validity_period'",
            client.dataset_name,
        )
    assert kind[0][0] == double
    loaded = {r["_id"]: r["validity_period"] for r in read_table(pipeline, "user_certificates")}
    truth = {r["_id"]: r["validity_period"] for r in company.truth()["user_certificates"]}
    assert loaded == truth and _fractional(list(loaded.values()))


def test_an_older_warehouse_integer_column_is_widened(
    configure_v2, new_pipeline, company: Company
) -> None:
    """A warehouse whose validity_period is still BIGINT (the hint before) gets it widened to
    double before the next sync: DuckDB would otherwise round 12.5 to 13, silently."""
    configure_v2()
    _older_warehouse_is_widened(new_pipeline(), company, "DOUBLE")


@pytest.mark.postgres
def test_an_older_postgres_integer_column_is_widened(
    configure_v2, postgres_env: str, tmp_path: Path, company: Company
) -> None:
    configure_v2()
    pipeline = make_pipeline(
        destination="postgres",
        pipeline_name="learning360_pg_widen",
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name=f"widen_{tmp_path.name[-8:].lower().replace('-', '_')}",
    )
    _older_warehouse_is_widened(pipeline, company, "double precision")


def test_the_issue_16_symptom_is_repaired_in_place(
    configure_v2, new_pipeline, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warehouse synced with the old bigint hints holds 12.5 in ``global_time__v_double`` and
    NULL in ``global_time`` (the models counted 0). The next sync widens the column and copies
    the values back; the models equal ground truth and nothing is flagged any more."""
    configure_v2()
    pipeline = new_pipeline()
    spec = V2_TABLES["user_courses"]
    old_hints = {**spec.columns, "global_time": "bigint", "time_spent": "bigint"}
    with monkeypatch.context() as old:
        old.setitem(V2_TABLES, "user_courses", dataclasses.replace(spec, columns=old_hints))
        run_sync(pipeline, build_models=False)
    symptom = {(v.table, v.variant) for v in pipeline_variants(pipeline)}
    assert ("user_courses", "global_time__v_double") in symptom
    truth = company.truth()
    expected = {r["_id"]: r["global_time"] for r in truth["user_courses"]}
    loaded = {r["_id"]: r["global_time"] for r in read_table(pipeline, "user_courses")}
    assert loaded != expected  # the fractional attempts read NULL

    assert "user_courses.global_time" in widen_integer_columns(pipeline)
    loaded = {r["_id"]: r["global_time"] for r in read_table(pipeline, "user_courses")}
    assert loaded == expected  # copied back before any re-read

    run_sync(pipeline)
    assert_v2_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, v2_view(truth))
    assert pipeline_variants(pipeline) == []
    assert check_variants(str(pipeline.pipelines_dir), pipeline.pipeline_name).outcome == PASS
