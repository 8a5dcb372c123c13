"""deploy/airflow/learning360_dag.py in a real Apache Airflow 3 (`airflow dags test`, SQLite
metadata DB, no scheduler or webserver): three emulated companies, one with a wrong API key,
into the throwaway PostgreSQL; the others' raw tables, models and the cross-tenant views equal
their ground truth, the bad one's task fails naming it, and a rerun of that tenant completes.

Airflow has its own venv with this project installed into it (scripts/airflow-venv.sh, under
.airflow/); `make test-airflow` runs this file."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from pipelines.run import make_pipeline
from pipelines.tenants import ALL_DATASET
from tests.destinations.servers import _unavailable
from tests.tenants.helpers import (
    assert_cross_tenant_models,
    emulated_tenants,
    tenant_env,
    write_tenants_file,
)

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "learning360_sync"


@pytest.fixture(scope="session")
def airflow_bin() -> Path:
    """The bin directory of .airflow/venv (set up on first use, ~1 min)."""
    script = REPO / "scripts" / "airflow-venv.sh"
    try:
        done = subprocess.run(
            ["bash", str(script), "path"], capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired:
        _unavailable("scripts/airflow-venv.sh did not finish within 15 minutes")
    if done.returncode != 0:
        _unavailable(
            "could not set up Airflow (scripts/airflow-venv.sh setup needs PyPI the first "
            "time):\n" + "\n".join(done.stderr.strip().splitlines()[-15:])
        )
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def airflow_home() -> Path:
    """A fresh AIRFLOW_HOME (SQLite metadata DB) under .airflow/, removed afterwards."""
    (REPO / ".airflow").mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="home-", dir=REPO / ".airflow"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def _airflow(
    bin_dir: Path, env: dict[str, str], *args: str, cwd: Path
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bin_dir / "airflow"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _states(home: Path) -> tuple[dict[str, str], dict[tuple[str, int], str]]:
    """(run_id -> state, (task_id, map_index) -> state of the latest run) from the SQLite DB."""
    with sqlite3.connect(home / "airflow.db") as db:
        runs = dict(db.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ?", (DAG_ID,)))
        [latest] = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
        tasks = {
            (task_id, map_index): state
            for task_id, map_index, state in db.execute(
                "SELECT task_id, map_index, state FROM task_instance WHERE run_id = ?", (latest,)
            )
        }
    return {"latest": runs[latest], **runs}, tasks


def test_dag_in_real_airflow_three_tenants_one_wrong_key(
    airflow_bin: Path, airflow_home: Path, postgres_env: str, tmp_path: Path
) -> None:
    specs = [("acme", "v1", 31), ("globex", "v2", 32), ("initech", "v1", 33)]
    with emulated_tenants(specs, wrong_key="initech") as tenants:
        acme, globex, initech = tenants
        tenants_file = write_tenants_file(tmp_path / "tenants.toml", tenants)
        # globex's credentials come from an Airflow connection instead of variables
        text = tenants_file.read_text().replace(
            'client_id_env = "GLOBEX_CLIENT_ID"\nclient_secret_env = "GLOBEX_CLIENT_SECRET"\n',
            'airflow_conn_id = "learning360_globex"\n',
        )
        tenants_file.write_text(text)
        env = tenant_env(
            [acme, initech],
            AIRFLOW_HOME=str(airflow_home),
            AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "deploy" / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW_CONN_LEARNING360_GLOBEX=json.dumps(
                {
                    "conn_type": "generic",
                    "login": globex.server.client_id,
                    "password": globex.server.client_secret,
                }
            ),
            LEARNING360_TENANTS_FILE=str(tenants_file),
            LEARNING360_DESTINATION="postgres",
            LEARNING360_TASK_RETRIES="0",
            DESTINATION__POSTGRES__CREDENTIALS=postgres_env,
        )
        env.pop("VIRTUAL_ENV", None)
        migrate = _airflow(airflow_bin, env, "db", "migrate", cwd=tmp_path)
        assert migrate.returncode == 0, migrate.stderr[-3000:]

        first = _airflow(airflow_bin, env, "dags", "test", DAG_ID, cwd=tmp_path)
        output = first.stdout + first.stderr
        runs, tasks = _states(airflow_home)
        # the run fails (a tenant failed), yet every other tenant loaded and built its models
        assert runs["latest"] == "failed", output[-5000:]
        by_tenant = {0: "acme", 1: "globex", 2: "initech"}
        for index, name in by_tenant.items():
            want = "failed" if name == "initech" else "success"
            assert tasks[("tenant.load", index)] == want, (name, tasks, output[-5000:])
        assert tasks[("tenant.models", 2)] == "upstream_failed"
        assert tasks[("tenant.models", 0)] == tasks[("tenant.models", 1)] == "success"
        assert tasks[("cross_tenant_views", -1)] == "success"
        assert tasks[("all_tenants_loaded", -1)] == "upstream_failed"
        # the failure names the tenant and the variable holding its key; no secret is logged
        assert "tenant initech:" in output and "INITECH_API_KEY" in output
        for secret in (acme.server.api_key, globex.server.client_secret, "not-the-key"):
            assert secret not in output

        for tenant in (acme, globex):
            tenant.assert_loaded(tenant.pipeline("postgres", tmp_path))
        all_views = make_pipeline(
            destination="postgres",
            pipeline_name=ALL_DATASET,
            dataset_name=ALL_DATASET,
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        assert_cross_tenant_models(all_views, [acme, globex])

        # the key is fixed; a run of that tenant alone completes it
        env["INITECH_API_KEY"] = initech.server.api_key
        conf = json.dumps({"only_tenants": ["initech"]})
        again = _airflow(airflow_bin, env, "dags", "test", DAG_ID, "--conf", conf, cwd=tmp_path)
        runs, tasks = _states(airflow_home)
        assert runs["latest"] == "success", (again.stdout + again.stderr)[-5000:]
        assert {k for k in tasks if k[0] == "tenant.load"} == {("tenant.load", 0)}
        initech.assert_loaded(initech.pipeline("postgres", tmp_path))
        assert_cross_tenant_models(all_views, tenants)
