"""Every configuration mistake: one line naming the key (and its env var) to fix, the right
exit code, no traceback, no secret; the same words from `sync`, `models`, `status`, `report`
and `doctor` (pipelines/checks.py). Issue 14 (3, 4) and issue 13 (cases 6, 7).

In-process through ``pipelines.cli.main`` where the environment is enough (fast); as a
subprocess where the working directory's ``.dlt/config.toml`` matters."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator import EmulatorServer
from pipelines.cli import main
from tests.reliability.helpers import CLI, cli_env, message_lines

SOURCE_KEY = "sources.learning360.{} (env SOURCES__LEARNING360__{})"
PG_ENV = "DESTINATION__POSTGRES__CREDENTIALS"
SECRET = "Url-Secret-9876"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def line(self, command: str, *must_name: str, code: int = 2) -> str:
        """The one line of a failed command; checks the exit code and what it names."""
        assert self.code == code, (self.code, self.out, self.err)
        assert "Traceback" not in self.out + self.err, self.err
        lines = message_lines(self.err)
        assert len(lines) == 1, f"expected one line, got:\n{self.err}"
        assert lines[0].startswith(f"learning360 {command} failed: "), lines[0]
        for name in must_name:
            assert name in lines[0], f"{name!r} not in {lines[0]!r}"
        return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def run(
    configure, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch
) -> Callable[..., Run]:
    """``run("sync", "--destination", "postgres", ENV_VAR="value")``: in-process, isolated."""
    monkeypatch.delenv(PG_ENV, raising=False)

    def _run(command: str, *extra: str, **env: str | None) -> Run:
        before = {key: os.environ.get(key) for key in env}
        for key, value in env.items():  # None: unset
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        capsys.readouterr()
        where = [
            "--pipelines-dir",
            str(tmp_path / "p"),
            "--duckdb-path",
            str(tmp_path / "w.duckdb"),
        ]
        try:
            code = main([command, *where, *extra])
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        for key, value in before.items():  # as `configure` set them
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        return Run(code, captured.out, captured.err)

    return _run


@pytest.mark.parametrize("command", ["sync", "models", "status", "report"])
def test_missing_destination_credentials_name_the_destination_key(run, command: str) -> None:
    line = run(command, "--destination", "postgres").line(command, f"env {PG_ENV},")
    assert "API_KEY" not in line


def test_doctor_names_the_same_destination_key(run) -> None:
    doctor = run("doctor", "--destination", "postgres")
    assert doctor.code == 2
    assert f"destination.postgres.credentials (env {PG_ENV}," in doctor.out, doctor.out


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_only_the_api_key_set_names_the_company_id(run, value: str | None) -> None:
    line = run("sync", SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID=value).line(
        "sync", SOURCE_KEY.format("credentials.company_id", "CREDENTIALS__COMPANY_ID")
    )
    assert "API_KEY" not in line


@pytest.mark.skipif(
    importlib.util.find_spec("google") is not None
    and importlib.util.find_spec("google.cloud") is not None,
    reason="the bigquery extra is installed here",
)
@pytest.mark.parametrize("command", ["sync", "status"])
def test_missing_extra_says_what_to_install(run, command: str) -> None:
    run(command, "--destination", "bigquery").line(command, "pip install -e '.[bigquery]'")


def test_unreachable_host_same_answer_from_sync_and_doctor(run) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    line = run("sync", SOURCES__LEARNING360__BASE_URL=url).line(
        "sync", url, "connection refused", SOURCE_KEY.format("base_url", "BASE_URL")
    )
    assert time.monotonic() - started < 15  # not a minute of retries
    doctor = run("doctor", SOURCES__LEARNING360__BASE_URL=url)
    assert doctor.code == 2
    said = line.split("failed: ", 1)[1]
    assert any(said in doctor_line for doctor_line in doctor.out.splitlines()), doctor.out


def test_unknown_model_exits_2_with_one_line(run) -> None:
    run("models", "--only", "foo").line("models", "unknown model(s): foo", "course_stats")


@pytest.mark.parametrize("command", ["sync", "status"])
def test_refused_database_connection_names_host_and_setting_not_password(run, command: str) -> None:
    port = _closed_port()
    dsn = f"postgresql://loader:{SECRET}@127.0.0.1:{port}/analytics"
    result = run(command, "--destination", "postgres", **{PG_ENV: dsn})
    line = result.line(command, f"127.0.0.1:{port}", f"env {PG_ENV})", code=1)
    assert SECRET not in result.out + result.err, line


def test_typos_get_the_subcommands_usage_and_a_suggestion(run) -> None:
    top = run("snyc")
    assert top.code == 2 and "did you mean sync?" in top.err, top.err
    flag = run("status", "--duckdb-pth", "x.duckdb")
    assert flag.code == 2
    assert "usage: learning360 status" in flag.err, flag.err
    assert "did you mean --duckdb-path?" in flag.err, flag.err


@pytest.mark.parametrize("command", ["sync", "doctor"])
def test_user_info_in_base_url_is_refused_and_never_printed(
    run, command: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    url = emulator.base_url.replace("http://", f"http://user:{SECRET}@")
    result = run(command, SOURCES__LEARNING360__BASE_URL=url)
    everything = result.out + result.err
    assert SECRET not in everything
    if command == "doctor":
        assert result.code == 2 and "must not carry a user or password" in result.out
    else:
        result.line(command, SOURCE_KEY.format("base_url", "BASE_URL"), "user or password")
    for path in (tmp_path / "p").rglob("*"):  # the working dir: trace, state, packages
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SOURCES__LEARNING360__BASE_URL": "127.0.0.1:8360"}, ("base_url", "https://")),
        ({"SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "abc"}, ("max_requests_per_second",)),
        ({"SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "-5"}, ("max_requests_per_second",)),
        ({"SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "0"}, ("max_requests_per_second",)),
        ({"LEARNING360__DUCKDB_MEMORY_LIMIT": "lots"}, ("LEARNING360__DUCKDB_MEMORY_LIMIT",)),
        ({"RUNTIME__REQUEST_TIMEOUT": "0"}, ("RUNTIME__REQUEST_TIMEOUT",)),
    ],
    ids=["no-scheme", "rate-abc", "rate-negative", "rate-zero", "memory-lots", "timeout-0"],
)
def test_bad_values_exit_2_naming_the_key(run, env: dict[str, str], names: tuple[str]) -> None:
    run("sync", "--resources", "groups", **env).line("sync", *names)


def test_https_to_an_http_port_is_a_configuration_error_not_retried(
    run, emulator: EmulatorServer
) -> None:
    started = time.monotonic()
    url = emulator.base_url.replace("http://", "https://")
    run("sync", SOURCES__LEARNING360__BASE_URL=url).line("sync", "TLS", "base_url")
    assert time.monotonic() - started < 15


def test_toml_syntax_error_names_the_file_and_line(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[sources.learning360]\nworkers = 4\nbase_url = "http://unclosed\n'
    )
    for command in ("sync", "status", "doctor"):
        result = subprocess.run(
            [CLI, command, "--pipelines-dir", str(tmp_path / "p")],
            env=cli_env(emulator),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        Run(result.returncode, result.stdout, result.stderr).line(
            command, ".dlt/config.toml", "line 3"
        )


@pytest.mark.postgres
def test_wrong_database_password_exits_2_naming_host_not_password(run, postgres_dsn: str) -> None:
    head, _, tail = postgres_dsn.partition("@")
    user = head.split("://", 1)[1].split(":", 1)[0]
    result = run(
        "sync", "--destination", "postgres", **{PG_ENV: f"postgresql://{user}:{SECRET}@{tail}"}
    )
    if result.code == 0:  # a trust-auth server accepts any password: nothing to report then
        pytest.skip("the throwaway server does not check passwords")
    host = tail.split("/", 1)[0]
    line = result.line("sync", host, f"env {PG_ENV})", "password authentication failed")
    assert SECRET not in result.out + result.err, line
