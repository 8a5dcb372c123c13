"""Bad credentials and configuration, for each auth method: `learning360 sync` exits non-zero
with exactly one line of its own on stderr (log records aside) that names the config key or
credential to fix, prints no traceback, and creates or changes no table.

Every case is a real subprocess (~3 s each, mostly imports): one case per kind of mistake
runs in the default suite, the whole matrix (each auth method) with the slow tests.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from emulator import Company, EmulatorServer
from tests.reliability.helpers import (
    Workspace,
    assert_one_line_failure,
    cli_env,
    run_cli,
    sync_command,
)

COMPANY_ID = "credentials.company_id"
API_KEY = "credentials.api_key"
BASE_URL = "sources.learning360.base_url"
OTHER_COMPANY = "5e3fccd72117d40c7bf500aa"


@dataclass
class Case:
    auth_method: str
    env: dict[str, str]
    names: tuple[str, ...]  # what the line must name
    code: int = 2
    server: str = "good"  # good | expired_tokens | invalid_tokens | not_360 | closed_port


def _cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for method in ("oauth", "header", "query"):
        cases[f"{method}-wrong-company-id"] = Case(
            method, {"SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": OTHER_COMPANY}, (COMPANY_ID,)
        )
        cases[f"{method}-wrong-api-key"] = Case(
            method, {"SOURCES__LEARNING360__CREDENTIALS__API_KEY": "not-the-key-0000"}, (API_KEY,)
        )
        cases[f"{method}-missing-api-key"] = Case(
            method, {"SOURCES__LEARNING360__CREDENTIALS__API_KEY": ""}, ("api_key",)
        )
        cases[f"{method}-wrong-host"] = Case(method, {}, (BASE_URL,), server="not_360")
        cases[f"{method}-unreachable-host"] = Case(
            method,
            {"RUNTIME__REQUEST_MAX_ATTEMPTS": "2"},
            (BASE_URL, "connection refused"),
            code=2,  # nothing ever answered there: a wrong base_url or port, as doctor says
            server="closed_port",
        )
        cases[f"{method}-wrong-api-version"] = Case(
            method, {"SOURCES__LEARNING360__API_VERSION": "v9"}, ("api_version",)
        )
    cases["oauth-expired-token"] = Case(
        "oauth", {}, (COMPANY_ID, API_KEY, "jwt expired"), server="expired_tokens"
    )
    cases["oauth-invalid-token"] = Case(
        "oauth", {}, (COMPANY_ID, API_KEY, "invalid signature"), server="invalid_tokens"
    )
    cases["unknown-auth-method"] = Case("basic", {}, ("credentials.auth_method",))
    return cases


CASES = _cases()


class _NotThe360Api(http.server.BaseHTTPRequestHandler):
    """Some other web server: an HTML 404 for everything."""

    def _answer(self) -> None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


def _tables(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()


@dataclass
class Servers:
    emulators: dict[str, EmulatorServer]
    other_url: str
    closed_url: str


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    company = Company.generate(seed=7, size="small")
    emulators = {
        "good": EmulatorServer(company, port=0),
        "expired_tokens": EmulatorServer(company, port=0),
        "invalid_tokens": EmulatorServer(company, port=0),
    }
    emulators["expired_tokens"]._tokens.verify = lambda token: (None, "jwt expired")  # type: ignore[method-assign]
    emulators["invalid_tokens"]._tokens.verify = lambda token: (None, "invalid signature")  # type: ignore[method-assign]
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotThe360Api)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    closed = http.server.HTTPServer(("127.0.0.1", 0), _NotThe360Api)
    closed_port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    for server in emulators.values():
        server.start()
    try:
        yield Servers(
            emulators,
            f"http://127.0.0.1:{other.server_address[1]}",
            f"http://127.0.0.1:{closed_port}",
        )
    finally:
        for server in emulators.values():
            server.stop()
        other.shutdown()
        other.server_close()


# one case per kind of mistake in the default suite; the whole matrix with the slow ones
DEFAULT_CASES = {
    "oauth-wrong-api-key",
    "header-wrong-company-id",
    "query-wrong-api-key",
    "oauth-expired-token",
    "header-wrong-host",
    "oauth-unreachable-host",
    "query-wrong-api-version",
    "unknown-auth-method",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=() if name in DEFAULT_CASES else pytest.mark.slow)
        for name in sorted(CASES)
    ],
)
def test_bad_config_fails_with_one_line_naming_the_fix(
    name: str, servers: Servers, tmp_path: Path
) -> None:
    case = CASES[name]
    server = servers.emulators.get(case.server, servers.emulators["good"])
    env = cli_env(server, case.auth_method, **case.env)
    if case.server == "not_360":
        env["SOURCES__LEARNING360__BASE_URL"] = servers.other_url
    if case.server == "closed_port":
        env["SOURCES__LEARNING360__BASE_URL"] = servers.closed_url
    ws = Workspace(tmp_path)
    result = run_cli(sync_command(ws), env)
    line = assert_one_line_failure(result, *case.names, code=case.code)
    assert result.stdout.strip() == "", result.stdout
    # nothing created: no table in the DuckDB file (if it was even created)
    assert _tables(ws.duckdb_path) == [], line


def test_bad_key_after_good_syncs_changes_nothing(
    tmp_path: Path, company: Company, emulator: EmulatorServer
) -> None:
    """An existing warehouse is left exactly as it was by a run with a wrong key."""
    ws = Workspace(tmp_path)
    good = run_cli(sync_command(ws), cli_env(emulator))
    assert good.returncode == 0, good.stderr

    def snapshot() -> dict[str, Any]:
        with duckdb.connect(str(ws.duckdb_path), read_only=True) as con:
            out = {}
            for schema, table in _tables(ws.duckdb_path):
                rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                out[f"{schema}.{table}"] = sorted(map(repr, rows))
            return out

    before = snapshot()
    state_before = (ws.working_dir / "state.json").read_bytes()
    company.advance(days=1)  # there would be something to load
    bad = run_cli(
        sync_command(ws),
        cli_env(emulator, SOURCES__LEARNING360__CREDENTIALS__API_KEY="not-the-key-0000"),
    )
    assert_one_line_failure(bad, API_KEY, code=2)
    assert snapshot() == before
    assert (ws.working_dir / "state.json").read_bytes() == state_before
