"""`learning360 doctor` against the emulator: one line per check, exit 0 or 2, no secrets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator import EmulatorServer
from pipelines.doctor import PROBE_GROUP_ID, base_url_problem
from pipelines.exit_codes import EXIT_CONFIG, EXIT_OK

CHECKS = ("config", "credentials", "destination", "pipelines dir", "models")


def _line(out: str, check: str) -> str:
    return next(line for line in out.splitlines() if line[2:].lstrip().startswith(check))


@pytest.mark.parametrize("auth_method", ["oauth", "header", "query"])
def test_doctor_all_green_against_the_emulator(
    auth_method: str, configure, cli, emulator: EmulatorServer, tmp_path: Path
) -> None:
    configure(auth_method=auth_method, SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=40)
    emulator.reset_metrics()
    run = cli("doctor")
    assert run.code == EXIT_OK, run.out
    for check in CHECKS:
        assert _line(run.out, check).startswith("✓"), run.out
    assert "all checks passed" in run.out
    assert emulator.api_key not in run.out + run.err
    requests = emulator.metrics()["requests"]
    # one cheap authenticated request (plus the token for oauth), no collection read
    assert requests.get("GET /api/v1/groups/{id}") == 1, requests
    assert sum(requests.values()) == (2 if auth_method == "oauth" else 1), requests
    # read-only: no warehouse, no working dir
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert not (tmp_path / "pipelines").exists()


@pytest.mark.parametrize("auth_method", ["oauth", "header", "query"])
def test_doctor_wrong_api_key_names_the_key(
    auth_method: str, configure, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(auth_method=auth_method)
    wrong = "not-the-right-key-0123456789"
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__API_KEY", wrong)
    run = cli("doctor")
    assert run.code == EXIT_CONFIG
    line = _line(run.out, "credentials")
    assert line.startswith("✗")
    assert "sources.learning360.credentials.api_key" in line
    assert wrong not in run.out + run.err
    assert "credentials" in run.out.splitlines()[-1]  # the closing line names the failed check


def test_doctor_unreachable_host_names_base_url(
    configure, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure()
    monkeypatch.setenv("SOURCES__LEARNING360__BASE_URL", "http://127.0.0.1:1")
    started = time.monotonic()
    run = cli("doctor")
    assert time.monotonic() - started < 20, "a doctor answers fast: two short attempts"
    assert run.code == EXIT_CONFIG
    line = _line(run.out, "credentials")
    assert line.startswith("✗") and "sources.learning360.base_url" in line, line
    # the other checks still ran
    assert _line(run.out, "destination").startswith("✓")
    assert _line(run.out, "models").startswith("✓")


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("SOURCES__LEARNING360__CREDENTIALS__API_KEY", None, "credentials.api_key"),
        ("SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID", None, "credentials.company_id"),
        ("SOURCES__LEARNING360__API_VERSION", "v9", "sources.learning360.api_version"),
        ("SOURCES__LEARNING360__BASE_URL", "{base}/api/v1", "sources.learning360.base_url"),
        ("SOURCES__LEARNING360__BASE_URL", "app.360learning.com", "sources.learning360.base_url"),
        ("SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD", "basic", "credentials.auth_method"),
    ],
)
def test_doctor_config_problems_are_named(
    env: str,
    value: str | None,
    named: str,
    configure,
    cli,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure()
    if value is None:
        monkeypatch.delenv(env)
    else:
        monkeypatch.setenv(env, value.format(base=emulator.base_url))
    run = cli("doctor")
    assert run.code == EXIT_CONFIG
    line = _line(run.out, "config")
    assert line.startswith("✗") and named in line, line
    assert _line(run.out, "credentials").startswith("-")  # not tried on a broken config
    assert emulator.api_key not in run.out


def test_doctor_missing_duckdb_directory(configure, cli, tmp_path: Path) -> None:
    configure(SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=40)
    run = cli("doctor", "--duckdb-path", str(tmp_path / "no" / "such" / "dir" / "w.duckdb"))
    assert run.code == EXIT_CONFIG
    line = _line(run.out, "destination")
    assert line.startswith("✗") and "does not exist" in line
    assert _line(run.out, "credentials").startswith("✓")


def test_doctor_opens_an_existing_warehouse(configure, cli) -> None:
    configure(SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=40)
    assert cli("sync", "--progress", "none", "--resources", "groups", "--no-models").code == 0
    run = cli("doctor")
    assert run.code == EXIT_OK, run.out
    assert "opens" in _line(run.out, "destination")
    assert "has this pipeline's state" in _line(run.out, "pipelines dir")


def test_doctor_postgres_without_credentials_names_them(
    configure, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=40)
    for key in ("DESTINATION__POSTGRES__CREDENTIALS", "DESTINATION__CREDENTIALS"):
        monkeypatch.delenv(key, raising=False)
    run = cli("doctor", "--destination", "postgres")
    assert run.code == EXIT_CONFIG
    line = _line(run.out, "destination")
    assert line.startswith("✗") and "destination.postgres" in line, line


def test_ascii_marks_when_the_terminal_cannot_print_them() -> None:
    import io

    from pipelines.doctor import FAIL, PASS, Check, _marks, format_checks

    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    text = format_checks(
        [Check("config", PASS, "fine"), Check("models", FAIL, "bad")], _marks(stream)
    )
    assert text.splitlines() == ["OK   config  fine", "FAIL models  bad"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://app.360learning.com", None),
        ("https://app.us.360learning.com/", None),
        ("http://127.0.0.1:8360", None),
        ("https://app.360learning.com/api/v1", "host only"),
        ("ftp://app.360learning.com", "https://"),
        ("https://", "no host"),
        ("https://user:pw@app.360learning.com", "user or password"),
        ("https://app.360learning.com?x=1", "query"),
        (" https://app.360learning.com", "spaces"),
        ("http://127.0.0.1:port", "not a URL"),
    ],
)
def test_base_url_shapes(url: str, problem: str | None) -> None:
    found = base_url_problem(url)
    assert (found is None) if problem is None else (problem in (found or "")), found


def test_probe_id_is_a_well_formed_id() -> None:
    assert len(PROBE_GROUP_ID) == 24 and int(PROBE_GROUP_ID, 16) == 0


def test_doctor_api_v2_checks_the_oauth2_client(
    configure, cli, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api_version v2: client_id/client_secret are the required keys and one token request
    proves them; a wrong secret names client_secret and is never printed."""
    configure(
        SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=40, SOURCES__LEARNING360__API_VERSION="v2"
    )
    for key in ("COMPANY_ID", "API_KEY"):
        monkeypatch.delenv(f"SOURCES__LEARNING360__CREDENTIALS__{key}")
    missing = cli("doctor")
    assert missing.code == EXIT_CONFIG
    assert "credentials.client_id" in _line(missing.out, "config")

    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET", emulator.client_secret)
    emulator.reset_metrics()
    good = cli("doctor")
    assert good.code == EXIT_OK, good.out
    assert "v2 token" in _line(good.out, "credentials")
    assert emulator.metrics()["total"] == 1
    assert emulator.client_secret not in good.out

    wrong = "wrong-secret-0123456789abcdef"
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET", wrong)
    bad = cli("doctor")
    assert bad.code == EXIT_CONFIG
    line = _line(bad.out, "credentials")
    assert line.startswith("✗") and "client_secret" in line, line
    assert wrong not in bad.out + bad.err
