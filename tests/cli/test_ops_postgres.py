"""status and doctor on a real PostgreSQL server, including the ephemeral-runner case: a
working dir that does not exist, state restored from the destination."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator import Company

pytestmark = pytest.mark.postgres


def _pg(tmp_path: Path) -> list[str]:
    return ["--destination", "postgres", "--dataset-name", f"ops_{tmp_path.name[-8:].lower()}"]


def test_postgres_doctor_sync_and_status_on_a_fresh_runner(
    configure, cli, postgres_env: str, tmp_path: Path, company: Company
) -> None:
    configure(SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=40)
    doctor = cli("doctor", *_pg(tmp_path))
    assert doctor.code == 0, doctor.out
    assert "SELECT 1 ran" in doctor.out and "does not exist yet" in doctor.out

    never = cli("status", *_pg(tmp_path))
    assert never.code == 2 and "never synced" in never.out

    configure()
    assert cli("sync", *_pg(tmp_path), "--progress", "none").code == 0
    here = cli("status", *_pg(tmp_path))
    assert here.code == 0, here.out
    assert "state: working dir" in here.out

    fresh = cli("status", *_pg(tmp_path), pipelines="another-runner")
    assert fresh.code == 0, fresh.out
    assert "restored from the destination" in fresh.out
    assert "modificationDate" in fresh.out
    count = len(company.truth()["user_courses"])
    assert any(line.split() == ["user_courses", str(count)] for line in fresh.out.splitlines())
    assert not (tmp_path / "another-runner").exists()


def test_postgres_doctor_wrong_password_hides_it(
    configure, cli, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=40)
    secret = "Wrong-Pass-4242"
    head, _, tail = postgres_dsn.partition("@")
    user = head.split("://", 1)[1].split(":", 1)[0]
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", f"postgresql://{user}:{secret}@{tail}")
    run = cli("doctor", *_pg(tmp_path))
    line = next(line for line in run.out.splitlines() if "destination" in line[:20])
    assert secret not in run.out + run.err
    if run.code == 0:  # a trust-auth server accepts any password: nothing to report then
        pytest.skip("the throwaway server does not check passwords")
    assert line.startswith("✗") and "destination.postgres.credentials" in line, line
