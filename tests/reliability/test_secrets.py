"""The API key, the client secret and the OAuth tokens never appear anywhere a sync leaves
text: stdout/stderr at DEBUG (HTTP debug logs included, with query-parameter auth), the
one-line errors of failing runs, dlt's `trace` and `info`, every file of the pipeline working
dir (compressed and parquet files decoded), and the warehouse (every table, `_dlt_*` included,
with the compressed state in `_dlt_pipeline_state` decoded). Tokens are recorded as the
emulator issues them; wrong keys used by failing runs count as secrets too.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow.parquet as pq
import pytest

from emulator import Company, EmulatorServer
from tests.reliability.helpers import (
    CLI,
    TokenRecorder,
    Workspace,
    cli_env,
    run_cli,
    sync_command,
)

DLT = str(Path(CLI).parent / "dlt")
WRONG_KEY = "wr0ng-but-still-a-secret-7f3a9c"


def _decode_state(value: Any) -> str:
    """dlt stores the state base64(zlib(json)) in `_dlt_pipeline_state.state`."""
    try:
        return zlib.decompress(base64.b64decode(value)).decode("utf-8", "replace")
    except Exception:
        return str(value)


def _file_texts(root: Path) -> dict[str, str]:
    """Every file under `root` as text: gzip decompressed, parquet decoded to rows."""
    out: dict[str, str] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        texts = [data.decode("latin-1")]
        if data[:2] == b"\x1f\x8b":
            texts.append(gzip.decompress(data).decode("latin-1"))
        if data[:4] == b"PAR1":
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        out[str(path)] = "\n".join(texts)
    return out


def _warehouse_texts(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.exists():
        return out
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            text = repr(rows)
            if table == "_dlt_pipeline_state":
                columns = [c[0] for c in con.execute(f'DESCRIBE "{schema}"."{table}"').fetchall()]
                index = columns.index("state")
                text += "\n".join(_decode_state(row[index]) for row in rows)
            out[f"{path.name}:{schema}.{table}"] = text
    return out


@pytest.fixture
def recorder(emulator: EmulatorServer) -> TokenRecorder:
    return TokenRecorder().install(emulator)


@pytest.mark.parametrize("scope", ["default", pytest.param("full", marks=pytest.mark.slow)])
def test_no_secret_in_logs_traces_files_or_warehouse(
    scope: str, tmp_path: Path, company: Company, emulator: EmulatorServer, recorder: TokenRecorder
) -> None:
    """default: query and oauth auth, good runs and one failing mid-sync; full: every auth
    method, each with a good run and a wrong key, plus runs failing mid-sync."""
    emulator.configure(token_ttl=2)  # several tokens per sync
    emulator.set_faults(seed=4, latency_ms=20, error_rate=0.03)  # retries log URLs too
    debug = {"RUNTIME__LOG_LEVEL": "DEBUG"}
    texts: dict[str, str] = {}
    workspaces: list[Workspace] = []

    def sync(label: str, auth_method: str, expect_ok: bool, **env: Any) -> None:
        ws = Workspace(tmp_path / label)
        workspaces.append(ws)
        result = run_cli(
            sync_command(ws, "--log-level", "DEBUG"), cli_env(emulator, auth_method, **debug, **env)
        )
        assert (result.returncode == 0) == expect_ok, (label, result.stderr[-3000:])
        assert "DEBUG" in result.stderr  # really at debug level
        texts[f"{label} stdout"] = result.stdout
        texts[f"{label} stderr"] = result.stderr

    for method in ("oauth", "header", "query") if scope == "full" else ("oauth", "query"):
        sync(f"{method}-ok", method, True)
        if scope == "full":
            sync(
                f"{method}-wrong-key",
                method,
                False,
                SOURCES__LEARNING360__CREDENTIALS__API_KEY=WRONG_KEY,
            )
    # API v2: client credentials instead of the v1 key, good and with a wrong secret
    v2 = {
        "SOURCES__LEARNING360__API_VERSION": "v2",
        "SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID": emulator.client_id,
        "SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET": emulator.client_secret,
    }
    sync("v2-ok", "oauth", True, **v2)
    sync(
        "v2-wrong-secret",
        "oauth",
        False,
        **{**v2, "SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET": WRONG_KEY},
    )
    # the query-auth run logged its request URLs (key masked): the leak path was exercised
    assert "apiKey=***" in texts["query-ok stderr"]
    # a run that fails mid-sync, holding a valid token and the key
    emulator.set_data_faults({"route": "GET /api/v1/groups", "action": "malformed"})
    if scope == "full":
        sync("query-fails-midway", "query", False, RUNTIME__REQUEST_MAX_ATTEMPTS=2)
    sync("oauth-fails-midway", "oauth", False, RUNTIME__REQUEST_MAX_ATTEMPTS=2)
    emulator.set_data_faults()

    for ws in workspaces:
        for command in ("trace", "info"):
            result = run_cli(
                [DLT, "pipeline", "--pipelines-dir", str(ws.pipelines_dir), ws.name, command],
                cli_env(emulator),
            )
            texts[f"dlt {command} {ws.root.name}"] = result.stdout + result.stderr
        texts.update(_file_texts(ws.pipelines_dir))
        texts.update(_warehouse_texts(ws.duckdb_path))

    secrets = {emulator.api_key, emulator.client_secret, WRONG_KEY, *recorder.tokens}
    needles = secrets | {quote(s, safe="") for s in secrets}
    leaks = [
        (where, needle[:8] + "...")
        for where, text in texts.items()
        for needle in needles
        if needle in text
    ]
    assert not leaks, leaks
    # no stored URL carries the key parameter with a value
    for where, text in texts.items():
        for marker in ("apiKey=", "client_secret="):
            start = text.find(marker)
            while start != -1:
                value = text[start + len(marker) : start + len(marker) + 3]
                assert value == "***", (where, text[max(0, start - 80) : start + 40])
                start = text.find(marker, start + 1)
    # the scan did see the places it claims to
    assert len(recorder.tokens) >= 2  # the oauth runs got tokens
    assert any("_dlt_pipeline_state" in where for where in texts)
    assert any(where.startswith("dlt trace") and "learning360" in t for where, t in texts.items())
