"""A dataset belongs to one company: a sync whose credentials belong to another company is
refused (exit 2, one line naming the dataset and the ways out) and changes nothing, also on a
runner without the working dir (the record comes back from the destination with dlt's state);
``--full-refresh`` replaces the data. DuckDB through the CLI, PostgreSQL in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import Company, EmulatorServer
from pipelines.cli import explain
from pipelines.run import make_pipeline, run_sync
from sources.learning360.company import CompanyRecord, token_company_id
from tests.reliability.helpers import (
    CLI,
    TEST_RATE,
    Workspace,
    assert_one_line_failure,
    cli_env,
    run_cli,
    sync_command,
)
from tests.warehouse import assert_warehouse_equals_truth, read_table

OTHER_SEED = 8


@pytest.fixture
def other_emulator() -> Iterator[EmulatorServer]:
    """A second company (another seed): "the tenant" next to the fixture's company."""
    other = Company.generate(seed=OTHER_SEED, size="small")
    with EmulatorServer(other, port=0, rate_limit=TEST_RATE * 1.25) as server:
        yield server


def _user_ids(pipeline) -> list[str]:
    return sorted(row["_id"] for row in read_table(pipeline, "users"))


def test_duckdb_dataset_of_another_company_is_refused_then_full_refresh_replaces_it(
    tmp_path: Path, company: Company, emulator: EmulatorServer, other_emulator: EmulatorServer
) -> None:
    ws = Workspace(tmp_path)
    first = run_cli(sync_command(ws, "--progress", "none", "--no-models"), cli_env(emulator))
    assert first.returncode == 0, first.stderr
    assert_warehouse_equals_truth(ws.pipeline(), company.truth())
    before = _user_ids(ws.pipeline())

    # the same DuckDB file from another folder (no working dir: state restored from the file)
    elsewhere = Workspace(tmp_path / "runner")
    elsewhere_args = ["--duckdb-path", str(ws.duckdb_path)]
    for label, command in (
        ("fresh runner", [*sync_command(elsewhere), *elsewhere_args, "--progress", "none"]),
        ("same working dir", sync_command(ws, "--progress", "none")),
    ):
        refused = run_cli(command, cli_env(other_emulator))
        line = assert_one_line_failure(
            refused, "learning360_data", company.company_id, "--full-refresh", code=2
        )
        assert other_emulator.company_id in line and "--dataset-name" in line, (label, line)
    assert _user_ids(ws.pipeline()) == before  # nothing of the other company loaded
    # refused before any request: the v1 check needs none (the OAuth token included)
    assert other_emulator.metrics()["requests"] == {}, other_emulator.metrics()
    # doctor says it before a sync would
    doctor = run_cli([CLI, "doctor", *ws.cli_args()], cli_env(other_emulator))
    assert doctor.returncode == 2, doctor.stdout
    company_line = next(x for x in doctor.stdout.splitlines() if " company " in x[:12])
    assert line.split("failed: ", 1)[1].split(" holds")[1] in company_line, company_line

    replaced = run_cli(
        sync_command(ws, "--progress", "none", "--no-models", "--full-refresh"),
        cli_env(other_emulator),
    )
    assert replaced.returncode == 0, replaced.stderr
    assert_warehouse_equals_truth(ws.pipeline(), other_emulator.company.truth())
    again = run_cli(sync_command(ws, "--progress", "none", "--no-models"), cli_env(other_emulator))
    assert again.returncode == 0, again.stderr


@pytest.mark.postgres
def test_postgres_dataset_of_another_company_is_refused_on_a_fresh_runner(
    configure,
    monkeypatch: pytest.MonkeyPatch,
    postgres_env: str,
    tmp_path: Path,
    company: Company,
    other_emulator: EmulatorServer,
) -> None:
    dataset = f"company_{tmp_path.name[-8:].lower().replace('-', '_')}"

    def pipeline(runner: str):
        return make_pipeline(
            destination="postgres",
            pipeline_name="learning360_company",
            pipelines_dir=str(tmp_path / runner),
            dataset_name=dataset,
        )

    loaded = pipeline("first")
    run_sync(loaded, build_models=False)
    truth = company.truth()
    assert_warehouse_equals_truth(loaded, truth)
    state = loaded.state["sources"]["learning360"]["company"]
    assert state == {"api_version": "v1", "company_id": company.company_id}

    for key, value in {
        "SOURCES__LEARNING360__BASE_URL": other_emulator.base_url,
        "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": other_emulator.company_id,
        "SOURCES__LEARNING360__CREDENTIALS__API_KEY": other_emulator.api_key,
    }.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(Exception) as refused:
        run_sync(pipeline("second"), build_models=False)  # an ephemeral runner: no working dir
    code, line = explain(refused.value)
    assert code == 2, line
    assert f"dataset {dataset} on postgres" in line and "--full-refresh" in line, line
    assert company.company_id in line and other_emulator.company_id in line, line
    assert_warehouse_equals_truth(loaded, truth)  # unchanged

    replaced = pipeline("third")
    run_sync(replaced, full_refresh=True, build_models=False)
    assert_warehouse_equals_truth(replaced, other_emulator.company.truth())


def test_v2_token_names_the_company(emulator: EmulatorServer) -> None:
    """v2 records the company the API issued the token for (the emulator's JWT claims it)."""
    token = emulator.issue_v2_token()
    assert token_company_id(token) == emulator.company_id
    assert token_company_id("not-a-jwt") is None
    v1 = CompanyRecord("v1", company_id=emulator.company_id)
    hashed = CompanyRecord("v2", client_sha256="0123")
    assert v1.same_company(CompanyRecord("v2", company_id=emulator.company_id)) is True
    assert v1.same_company(CompanyRecord("v1", company_id="other")) is False
    assert v1.same_company(hashed) is None  # cannot be compared: accepted


def test_dataset_synced_before_the_record_is_adopted_with_a_warning(
    configure, pipeline, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sources.learning360 import company as company_module

    warnings: list[str] = []
    monkeypatch.setattr(company_module.logger, "warning", warnings.append)  # dlt's: no propagate
    run_sync(pipeline, resources=["courses"], build_models=False)
    assert warnings == []
    with pipeline.managed_state() as state:  # as an earlier version left it
        del state["sources"]["learning360"]["company"]
    run_sync(pipeline, resources=["courses"], build_models=False)
    assert any("was synced before datasets recorded their company" in w for w in warnings)
    assert pipeline.state["sources"]["learning360"]["company"]["company_id"] == company.company_id
