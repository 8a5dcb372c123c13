"""Shared helpers of the reliability tests: `learning360 sync` as a subprocess against an
in-process emulator, one-line failure checks, warehouse invariants (no duplicate key, state
consistent with the data) and a recorder of the OAuth tokens the emulator issued."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt

from emulator import EmulatorServer
from pipelines.run import make_pipeline
from tests.warehouse import (
    CONTRACT,
    assert_models_equal_expected,
    assert_warehouse_equals_truth,
    canonical,
    read_table,
)

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "learning360")
PIPELINE = "learning360_rel"
TEST_RATE = 400.0

# the incremental tables, the API field tracked as their cursor and its warehouse column
CURSORS = {
    "courses": ("modificationDate", "modification_date"),
    "paths": ("modifiedAt", "modified_at"),
    "user_courses": ("last_activity", "last_activity"),  # dlt's cursor on the arrow column
}


@dataclass
class Workspace:
    """One pipeline's files: its DuckDB file and its dlt working directory."""

    root: Path
    name: str = PIPELINE

    @property
    def duckdb_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    @property
    def working_dir(self) -> Path:
        return self.pipelines_dir / self.name

    def cli_args(self) -> list[str]:
        return [
            "--duckdb-path",
            str(self.duckdb_path),
            "--pipelines-dir",
            str(self.pipelines_dir),
            "--pipeline-name",
            self.name,
        ]

    def pipeline(self) -> dlt.Pipeline:
        return make_pipeline(
            pipeline_name=self.name,
            pipelines_dir=str(self.pipelines_dir),
            duckdb_path=str(self.duckdb_path),
        )


def cli_env(server: EmulatorServer, auth_method: str = "oauth", **overrides: Any) -> dict[str, str]:
    """The environment of tests/conftest.py's `configure`, for a subprocess."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "RUNTIME__", "DESTINATION__", "NORMALIZE__", "LOAD__"))
    }
    env.update(
        {
            "SOURCES__LEARNING360__BASE_URL": server.base_url,
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": server.company_id,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": server.api_key,
            "SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD": auth_method,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(TEST_RATE),
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update({k.upper(): str(v) for k, v in overrides.items()})
    return env


def sync_command(ws: Workspace, *extra: str) -> list[str]:
    return [CLI, "sync", *ws.cli_args(), *extra]


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def popen_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


# dlt log records ("2026-01-01 00:00:00,000|[WARNING]|...") and progress lines
# ("2026-01-01T00:00:00Z learning360 progress | ...") on stderr
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d[ T][\d:,.]+Z?(\|\[| learning360 progress \|)")


def message_lines(stderr: str) -> list[str]:
    """stderr without log records and progress lines: what the command itself said."""
    return [line for line in stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]


def assert_one_line_failure(
    result: subprocess.CompletedProcess[str], *must_name: str, code: int | None = None
) -> str:
    """Non-zero exit, no traceback, exactly one line of its own on stderr that names what to
    fix (each of `must_name`); returns that line."""
    assert result.returncode != 0, (result.returncode, result.stdout, result.stderr)
    if code is not None:
        assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = message_lines(result.stderr)
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("learning360 sync failed: "), line
    for name in must_name:
        assert name in line, f"{name!r} not in {line!r}"
    return line


# ---- warehouse invariants ----------------------------------------------------------------


def data_tables(pipeline: dlt.Pipeline) -> list[str]:
    """Every table in the warehouse's dataset (raw, child, derived and dlt's own)."""
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            pipeline.dataset_name,
        )
    return sorted(r[0] for r in rows or [])


def assert_no_duplicate_keys(pipeline: dlt.Pipeline) -> None:
    """No primary key twice in any raw table, no `_dlt_id` twice in any table."""
    problems = []
    with pipeline.sql_client() as client:
        for table in data_tables(pipeline):
            if table.startswith("_dlt_") and table != "_dlt_pipeline_state":
                continue
            name = client.make_qualified_table_name(table)
            key = CONTRACT[table][0] if table in CONTRACT else ("_dlt_id",)
            columns = [c[0] for c in client.execute_sql(f"DESCRIBE {name}")]
            if not all(k in columns for k in key):
                continue
            cols = ", ".join(client.escape_column_name(k) for k in key)
            dupes = client.execute_sql(
                f"SELECT {cols}, COUNT(*) FROM {name} GROUP BY {cols} HAVING COUNT(*) > 1 LIMIT 3"
            )
            if dupes:
                problems.append(f"{table}: duplicate {key}: {dupes}")
    assert not problems, problems


def cursor_state(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """Each incremental table's `last_value` in the pipeline's local state."""
    resources = pipeline.state["sources"]["learning360"]["resources"]
    out = {}
    for table, (cursor, _column) in CURSORS.items():
        incremental = resources.get(table, {}).get("incremental", {}).get(cursor, {})
        out[table] = incremental.get("last_value")
    return out


def assert_state_consistent(pipeline: dlt.Pipeline) -> None:
    """Incremental state agrees with the data: each cursor's last value is the newest cursor
    value loaded, and the state stored in the warehouse is the pipeline's current one."""
    for table, last_value in cursor_state(pipeline).items():
        column = CURSORS[table][1]
        values = [row[column] for row in read_table(pipeline, table) if row[column] is not None]
        assert values, table
        assert canonical(last_value) == canonical(max(values)), (table, last_value, max(values))
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name("_dlt_pipeline_state")
        rows = client.execute_sql(
            f"SELECT version FROM {name} WHERE pipeline_name = %s ORDER BY version DESC LIMIT 1",
            pipeline.pipeline_name,
        )
    assert rows and rows[0][0] == pipeline.state["_state_version"], (
        rows,
        pipeline.state["_state_version"],
    )


@dataclass
class TokenRecorder:
    """Records every OAuth token the emulator issues (wraps its token factory)."""

    tokens: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, server: EmulatorServer) -> TokenRecorder:
        for tokens in (server._tokens, server._v2_tokens):  # v1 and v2 sign apart
            self._wrap(tokens)
        return self

    def _wrap(self, tokens: Any) -> None:
        issue = tokens.issue

        def recording_issue(*args: Any, **kwargs: Any) -> str:
            token = issue(*args, **kwargs)
            with self._lock:
                self.tokens.append(token)
            return token

        tokens.issue = recording_issue


def assert_recovered(pipeline: dlt.Pipeline, truth: dict[str, Any]) -> None:
    """What a sync that follows crashes, faults or a refused run must leave: raw tables and
    derived tables equal to the truth, no key twice, state that agrees with the data."""
    assert_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, truth)
    assert_no_duplicate_keys(pipeline)
    assert_state_consistent(pipeline)
