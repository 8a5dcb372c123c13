"""The README's first run, in one folder: `make demo` (its code path, a small company), then
`learning360 sync` with a tenant's credentials. The demo keeps to .demo/; the tenant's whole
history lands in ./learning360.duckdb, nothing of the demo's company in it. And dlt's own
``DESTINATION__DUCKDB__CREDENTIALS`` chooses the file, below ``--duckdb-path``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import Company, EmulatorServer
from pipelines import demo
from pipelines.cli import main
from pipelines.run import make_pipeline
from tests.warehouse import assert_warehouse_equals_truth, read_table

# each test syncs against an emulator or runs the demo
pytestmark = pytest.mark.integration

TENANT_SEED = 8


@pytest.fixture
def tenant() -> Iterator[EmulatorServer]:
    """The tenant: a company other than the demo's (seed 42)."""
    company = Company.generate(seed=TENANT_SEED, size="small")
    with EmulatorServer(company, port=0, rate_limit=500) as server:
        yield server


def _point_at(monkeypatch: pytest.MonkeyPatch, server: EmulatorServer) -> None:
    for key, value in {
        "SOURCES__LEARNING360__BASE_URL": server.base_url,
        "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": server.company_id,
        "SOURCES__LEARNING360__CREDENTIALS__API_KEY": server.api_key,
        "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "400",
    }.items():
        monkeypatch.setenv(key, value)


def test_demo_then_tenant_sync_in_the_same_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tenant: EmulatorServer
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "SIZE", "small")
    for key in ("SOURCES__LEARNING360__BASE_URL", "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID"):
        monkeypatch.setenv(key, "")  # demo.main sets them: restored after the test
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__API_KEY", "")
    assert demo.main() == 0
    assert (tmp_path / ".demo" / "demo.duckdb").exists()
    assert (tmp_path / ".demo" / "learning360-report.html").exists()
    assert not (tmp_path / "learning360.duckdb").exists()

    _point_at(monkeypatch, tenant)
    # the README's `learning360 sync`, with a fresh working dir (as on a new machine)
    code = main(["sync", "--pipelines-dir", str(tmp_path / "home"), "--progress", "none"])
    assert code == 0
    pipeline = make_pipeline(pipelines_dir=str(tmp_path / "home"))
    assert Path(pipeline.destination_client().config.credentials.database).samefile(
        tmp_path / "learning360.duckdb"
    )
    assert_warehouse_equals_truth(pipeline, tenant.company.truth())  # the full history


def test_dlt_duckdb_credentials_choose_the_file_and_duckdb_path_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tenant: EmulatorServer
) -> None:
    monkeypatch.chdir(tmp_path)
    _point_at(monkeypatch, tenant)
    chosen = tmp_path / "by-dlt" / "x.duckdb"
    chosen.parent.mkdir()
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(chosen))
    monkeypatch.setenv("DATASET_NAME", "by_dlt_dataset")
    where = ["--pipelines-dir", str(tmp_path / "p"), "--progress", "none", "--no-models"]
    assert main(["sync", *where, "--resources", "groups"]) == 0
    assert chosen.exists() and not (tmp_path / "learning360.duckdb").exists()
    pipeline = make_pipeline(dataset_name=None, pipelines_dir=str(tmp_path / "p"))
    assert pipeline.dataset_name == "by_dlt_dataset"
    assert len(read_table(pipeline, "groups")) == len(tenant.company.truth()["groups"])

    override = tmp_path / "flag.duckdb"
    where[1] = str(tmp_path / "p2")
    assert main(["sync", *where, "--resources", "groups", "--duckdb-path", str(override)]) == 0
    assert override.exists()


def test_destination_duckdb_credentials_in_config_toml(tmp_path: Path) -> None:
    """``[destination.duckdb] credentials`` in the working folder's .dlt/config.toml."""
    import subprocess

    from tests.reliability.helpers import CLI, ROOT

    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[destination.duckdb]\ncredentials = "from-toml.duckdb"\n'
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "RUNTIME__DLTHUB_TELEMETRY": "false"}
    status = subprocess.run(
        [CLI, "status", "--pipelines-dir", str(tmp_path / "p")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert status.returncode == 2, status.stderr  # never synced
    assert "duckdb file from-toml.duckdb" in status.stdout, status.stdout
