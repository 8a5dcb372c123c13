"""The scheduling examples in deploy/: they parse, say what docs/operations.md says, and the cron
wrapper really locks, logs, alerts and passes the exit code on (with a stand-in command)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

# most tests run the deploy wrapper in bash
pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
WORKFLOW = DEPLOY / "github-actions" / "learning360-sync.yml"
DAG = DEPLOY / "airflow" / "learning360_dag.py"
CRONTAB = DEPLOY / "cron" / "learning360.cron"
WRAPPER = DEPLOY / "cron" / "run-sync.sh"


# --------------------------------------------------------------------------------------------
# GitHub Actions
# --------------------------------------------------------------------------------------------


def test_workflow_parses_and_runs_the_sync_on_a_schedule() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    [schedule] = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert "workflow_dispatch" in triggers
    assert workflow["concurrency"]["cancel-in-progress"] is False

    [job] = workflow["jobs"].values()
    env = job["env"]
    assert env["SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID"].startswith("${{ secrets.")
    assert env["SOURCES__LEARNING360__CREDENTIALS__API_KEY"].startswith("${{ secrets.")
    assert env["DESTINATION__POSTGRES__CREDENTIALS"].startswith("${{ secrets.")
    assert env["RUNTIME__SLACK_INCOMING_HOOK"].startswith("${{ secrets.")

    steps = job["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"
    runs = [s["run"] for s in steps if "run" in s]
    assert any("pip install '.[postgres]'" in r for r in runs)
    assert any(r.strip() == "learning360 sync --destination postgres" for r in runs)
    assert any("learning360 report --destination postgres" in r for r in runs)
    # no `|| true` or continue-on-error: a failed sync must fail the job
    assert not any("|| true" in r for r in runs)
    assert not any(s.get("continue-on-error") for s in steps)
    # the ephemeral-runner caveat is spelled out
    text = WORKFLOW.read_text()
    assert "ephemeral" in text and "DuckDB" in text and "_dlt_pipeline_state" in text


# --------------------------------------------------------------------------------------------
# Airflow (runs for real in tests/airflow, `make test-airflow`; here: the names it imports exist)
# --------------------------------------------------------------------------------------------


def test_dag_parses_and_imports_real_project_names() -> None:
    import importlib

    tree = ast.parse(DAG.read_text())
    imports = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert ("airflow.sdk", "task_group") in imports  # one mapped task group per tenant
    for module, name in imports:
        if module and module.split(".")[0] in ("pipelines", "sources"):
            assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
    dag_text = DAG.read_text()
    assert "max_active_runs=1" in dag_text
    assert ".expand(" in dag_text
    # one company is never split into parallel tasks sharing its rate limit
    assert "parallel-isolated" not in dag_text
    assert "50 GET/s" in dag_text and "default 40" not in dag_text


# --------------------------------------------------------------------------------------------
# cron
# --------------------------------------------------------------------------------------------


def test_crontab_lines_are_well_formed() -> None:
    jobs = [
        line
        for line in CRONTAB.read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert jobs
    for line in jobs:
        fields = line.split()
        assert len(fields) >= 6, line
    assert any("run-sync.sh" in line for line in jobs)


def test_wrapper_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(WRAPPER)], check=True)
    assert os.access(WRAPPER, os.X_OK)


def _fake_cli(tmp_path: Path, body: str, name: str = "learning360") -> Path:
    fake = tmp_path / name
    fake.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body))
    fake.chmod(0o755)
    return fake


def _wrapper(tmp_path: Path, fake: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(WRAPPER), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "LEARNING360_HOME": str(tmp_path),
            "LEARNING360_BIN": str(fake),
            "LEARNING360_LOG_DIR": str(tmp_path / "logs"),
            **env,
        },
    )


needs_flock = pytest.mark.skipif(shutil.which("flock") is None, reason="no flock (util-linux)")


@needs_flock
def test_wrapper_success_logs_and_writes_the_report(tmp_path: Path) -> None:
    fake = _fake_cli(tmp_path, 'echo "called: $*"\n')
    result = _wrapper(
        tmp_path,
        fake,
        "--destination",
        "postgres",
        LEARNING360_REPORT=str(tmp_path / "r.html"),
        LEARNING360_REPORT_ARGS="--destination postgres",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [log] = (tmp_path / "logs").glob("learning360-sync-*.log")
    text = log.read_text()
    assert "called: sync --destination postgres" in text
    assert f"called: report --output {tmp_path / 'r.html'} --destination postgres" in text


@needs_flock
@pytest.mark.parametrize("code", [1, 2])
def test_wrapper_passes_the_exit_code_on_and_alerts(tmp_path: Path, code: int) -> None:
    fake = _fake_cli(
        tmp_path,
        f"""
        echo "some progress"
        echo "learning360 sync failed: 360Learning rejected the API key (401)" >&2
        exit {code}
        """,
    )
    alerts = tmp_path / "alerts.txt"
    alert_cmd = _fake_cli(tmp_path, f'echo "$1" >> {alerts}\n', name="alert")
    result = _wrapper(tmp_path, fake, LEARNING360_ALERT_CMD=str(alert_cmd))
    assert result.returncode == code
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"learning360 sync FAILED (exit {code})")
    assert "rejected the API key" in line
    assert alerts.read_text().strip() == line


@needs_flock
def test_wrapper_never_overlaps_a_running_sync(tmp_path: Path) -> None:
    fake = _fake_cli(tmp_path, "echo should-not-run\n")
    lock = tmp_path / "logs" / "learning360-sync.lock"
    lock.parent.mkdir()
    holder = subprocess.Popen(["flock", str(lock), "sleep", "30"])
    try:
        # wait until the holder has the lock
        for _ in range(100):
            if subprocess.run(["flock", "-n", str(lock), "true"]).returncode != 0:
                break
            subprocess.run(["sleep", "0.05"])
        result = _wrapper(tmp_path, fake)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 75
    assert "another sync still runs" in result.stderr
    assert "should-not-run" not in "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
