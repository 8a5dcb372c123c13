"""`learning360 doctor` presents API v2 as the path for new setups (issue 16, goal 5): a v1
configuration gets the sunset notice (a warning, exit still 0), a v2 one passes, and an empty
configuration is pointed at v2 first."""

from __future__ import annotations

import pytest

from emulator import EmulatorServer
from pipelines.exit_codes import EXIT_CONFIG, EXIT_OK


def _line(out: str, check: str) -> str:
    return next(line for line in out.splitlines() if line[2:].lstrip().startswith(check))


def _configure_v2(configure, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(SOURCES__LEARNING360__API_VERSION="v2")
    for key in ("COMPANY_ID", "API_KEY"):
        monkeypatch.delenv(f"SOURCES__LEARNING360__CREDENTIALS__{key}")
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET", emulator.client_secret)


def test_v1_configuration_gets_the_sunset_notice(configure, cli) -> None:
    configure()
    run = cli("doctor")
    assert run.code == EXIT_OK, run.out
    line = _line(run.out, "api version")
    assert line.startswith("!"), line
    assert "mid-2027" in line and "docs/migration-v2.md" in line and 'api_version = "v2"' in line


def test_v2_configuration_is_the_default_path(
    configure, cli, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure_v2(configure, emulator, monkeypatch)
    run = cli("doctor")
    assert run.code == EXIT_OK, run.out
    assert _line(run.out, "api version").startswith("✓"), run.out
    assert "mid-2027" not in run.out


def test_an_empty_configuration_is_pointed_at_v2(
    configure, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure()
    for key in ("COMPANY_ID", "API_KEY"):
        monkeypatch.delenv(f"SOURCES__LEARNING360__CREDENTIALS__{key}")
    run = cli("doctor")
    assert run.code == EXIT_CONFIG
    line = _line(run.out, "config")
    assert "a new setup uses API v2" in line and "credentials.client_id" in line, line


@pytest.mark.parametrize("command", ["doctor", "sync"])
def test_a_bad_v2_option_is_named_in_one_line(
    command: str, configure, cli, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """doctor and sync's preflight run the source's own v2 validation (``V2Options.checked``)."""
    _configure_v2(configure, emulator, monkeypatch)
    monkeypatch.setenv("SOURCES__LEARNING360__V2_USER_REFRESH_DAYS", "-3")
    run = cli(command)
    assert run.code == EXIT_CONFIG, run.out + run.err
    lines = [line for line in (run.out + run.err).splitlines() if "v2_user_refresh_days" in line]
    assert len(lines) == 1 and "sources.learning360.v2_user_refresh_days" in lines[0], run
