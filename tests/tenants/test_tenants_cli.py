"""`learning360 sync --tenants`: several companies (own emulator, seed, rate limit) in parallel
processes into DuckDB and PostgreSQL, each equal to its ground truth; a tenant with a wrong key
or an unreachable host fails alone, named, with a non-zero exit; `--only-tenant` reruns it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines.run import make_pipeline
from pipelines.tenants import ALL_DATASET, ALL_DUCKDB_FILE
from tests.tenants.helpers import (
    CLI,
    assert_cross_tenant_models,
    emulated_tenants,
    tenant_env,
    write_tenants_file,
)

# runs the CLI and its tenant processes
pytestmark = pytest.mark.integration


def _sync(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "sync", "--tenants", "tenants.toml", "--pipelines-dir", "pipelines", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _result_lines(stdout: str) -> dict[str, str]:
    lines = {}
    for line in stdout.splitlines():
        name, _, rest = line.partition(" ")
        lines[name] = rest.strip()
    return lines


def test_three_tenants_into_duckdb_one_wrong_key_then_rerun(tmp_path: Path) -> None:
    specs = [("acme", "v1", 11), ("globex", "v2", 12), ("initech", "v1", 13)]
    with emulated_tenants(specs, wrong_key="initech") as tenants:
        write_tenants_file(tmp_path / "tenants.toml", tenants)
        env = tenant_env(tenants)
        first = _sync(tmp_path, env, "--parallel", "3")
        assert first.returncode == 2, first.stderr[-3000:]
        lines = _result_lines(first.stdout)
        assert lines["acme"].startswith("ok") and lines["globex"].startswith("ok"), first.stdout
        assert lines["initech"].startswith("failed (exit 2)"), first.stdout
        # the failure line names the tenant and where its key comes from
        assert "tenant initech:" in lines["initech"] and "INITECH_API_KEY" in lines["initech"]
        assert "rerun them with --only-tenant" in first.stderr
        assert "not-the-key" not in first.stdout + first.stderr  # secrets never printed
        # every output line of a tenant's process is prefixed with its name
        assert "[acme] " in first.stderr and "[globex] " in first.stderr

        acme, globex, initech = tenants
        for tenant in (acme, globex):
            tenant.assert_loaded(tenant.pipeline("duckdb", tmp_path))
        assert not (tmp_path / "learning360-initech.duckdb").exists() or not _has_loads(
            initech.pipeline("duckdb", tmp_path)
        )
        all_tables = make_pipeline(
            pipeline_name=ALL_DATASET,
            dataset_name=ALL_DATASET,
            pipelines_dir=str(tmp_path / "pipelines"),
            duckdb_path=str(tmp_path / ALL_DUCKDB_FILE),
        )
        assert_cross_tenant_models(all_tables, [acme, globex])

        # the key is fixed: a rerun of that tenant alone completes it
        env["INITECH_API_KEY"] = initech.server.api_key
        again = _sync(tmp_path, env, "--only-tenant", "initech")
        assert again.returncode == 0, again.stderr[-3000:]
        assert list(_result_lines(again.stdout))[:1] == ["initech"]
        initech.assert_loaded(initech.pipeline("duckdb", tmp_path))
        # the cross-tenant tables now hold the three tenants
        assert "over 3 tenants" in again.stdout
        assert_cross_tenant_models(all_tables, tenants)


def _has_loads(pipeline) -> bool:
    try:
        with pipeline.sql_client() as client:
            return bool(client.execute_sql("SELECT COUNT(*) FROM _dlt_loads")[0][0])
    except Exception:
        return False


@pytest.mark.postgres
def test_tenants_into_postgres_with_an_unreachable_host(tmp_path: Path, postgres_env: str) -> None:
    specs = [("north", "v1", 21), ("south", "v1", 22)]
    with emulated_tenants(specs) as tenants:
        unreachable = (
            "\n[tenants.offline]\n"
            'base_url = "http://127.0.0.1:9"\n'
            'company_id_env = "NORTH_COMPANY_ID"\n'
            'api_key_env = "NORTH_API_KEY"\n'
        )
        write_tenants_file(tmp_path / "tenants.toml", tenants, extra=unreachable)
        env = tenant_env(
            tenants,
            DESTINATION__POSTGRES__CREDENTIALS=postgres_env,
            RUNTIME__REQUEST_MAX_ATTEMPTS="2",
        )
        result = _sync(tmp_path, env, "--destination", "postgres", "--parallel", "3")
        # a host that never answered is a configuration problem (exit 2), as doctor says
        assert result.returncode == 2, result.stderr[-3000:]
        lines = _result_lines(result.stdout)
        assert lines["north"].startswith("ok") and lines["south"].startswith("ok"), result.stdout
        assert lines["offline"].startswith("failed (exit 2)")
        assert "tenant offline:" in lines["offline"] and "127.0.0.1:9" in lines["offline"]
        assert "tenants.toml: tenants.offline.base_url" in lines["offline"]
        for tenant in tenants:
            tenant.assert_loaded(tenant.pipeline("postgres", tmp_path))
        # learning360_all.<model> are views over the two loaded tenants' datasets
        all_views = make_pipeline(
            destination="postgres",
            pipeline_name=ALL_DATASET,
            dataset_name=ALL_DATASET,
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        assert_cross_tenant_models(all_views, tenants)
        with all_views.sql_client() as client:
            kinds = client.execute_sql(
                "SELECT DISTINCT table_type FROM information_schema.tables WHERE table_schema = %s",
                ALL_DATASET,
            )
        assert [k[0] for k in kinds] == ["VIEW"]


def test_killing_the_cli_ends_the_tenant_processes(tmp_path: Path) -> None:
    """A scheduler's timeout kills the CLI: no tenant sync goes on as an orphan."""
    import os
    import signal
    import time

    import psutil

    with emulated_tenants([("slow", "v1", 41)], faults={"latency_ms": 2000}) as tenants:
        write_tenants_file(tmp_path / "tenants.toml", tenants)
        cli = subprocess.Popen(
            [*CLI, "sync", "--tenants", "tenants.toml", "--pipelines-dir", "pipelines"]
            + ["--progress", "none"],  # silent: a write to the dead CLI's pipe would end it too
            cwd=tmp_path,
            env=tenant_env(tenants),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            children: list[psutil.Process] = []
            while time.monotonic() < deadline and not children:
                children = [
                    p
                    for p in psutil.Process(cli.pid).children(recursive=True)
                    if "pipelines.tenants" in " ".join(p.cmdline())
                ]
                time.sleep(0.1)
            assert children, "no tenant process started"
            os.kill(cli.pid, signal.SIGKILL)
            cli.wait(10)
            gone, alive = psutil.wait_procs(children, timeout=5)  # the sync needs > 30 s
            assert not alive, f"tenant processes outlived the CLI: {alive}"
        finally:
            if cli.poll() is None:
                cli.kill()
