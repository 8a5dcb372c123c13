"""A synced warehouse for the report tests: the real source, over HTTP to the emulator (small
company), into DuckDB, models built; once per module. One course gets a hostile name, so every
test also checks escaping."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.run import make_pipeline, run_sync

SEED = 7
RATE = 400.0
# HTML, a closing script tag, quotes, an ampersand and non-ASCII, all in one course name
HOSTILE_NAME = '<img src=x onerror="alert(1)"> Ünïcødé & "Co" </script><b>bold</b>'

CHROMIUM_ENV = "LEARNING360_CHROMIUM"
REQUIRE_CHROMIUM_ENV = "LEARNING360_REQUIRE_CHROMIUM"


def sync_company(company: Company, root: Path, **pipeline_kwargs: object) -> dlt.Pipeline:
    """A full sync of ``company`` served by an in-process emulator, configured through the
    environment as a user would."""
    with (
        EmulatorServer(company, port=0, rate_limit=RATE * 1.25) as server,
        pytest.MonkeyPatch.context() as mp,
    ):
        env = {
            "SOURCES__LEARNING360__BASE_URL": server.base_url,
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": server.company_id,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": server.api_key,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(RATE),
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
        }
        for key, value in env.items():
            mp.setenv(key, value)
        kwargs = {
            "pipeline_name": "learning360_report",
            "pipelines_dir": str(root / "pipelines"),
            "duckdb_path": str(root / "warehouse.duckdb"),
            **pipeline_kwargs,
        }
        pipeline = make_pipeline(**kwargs)  # type: ignore[arg-type]
        run_sync(pipeline)
    return pipeline


def hostile_company() -> Company:
    company = Company.generate(seed=SEED, size="small")
    attempts = Counter(a["course_id"] for a in company.truth()["user_courses"])
    most_played = attempts.most_common(1)[0][0]
    company.courses[most_played].name = HOSTILE_NAME
    return company


@pytest.fixture(scope="module")
def company() -> Company:
    return hostile_company()


@pytest.fixture(scope="module")
def warehouse(company: Company, tmp_path_factory: pytest.TempPathFactory) -> dlt.Pipeline:
    return sync_company(company, tmp_path_factory.mktemp("report-warehouse"))


def find_chromium() -> str | None:
    for candidate in (
        os.environ.get(CHROMIUM_ENV),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[str]:
    path = find_chromium()
    if path is None:
        reason = (
            "no headless Chromium: run scripts/ensure-chromium.sh (apt-get install chromium) "
            f"or set {CHROMIUM_ENV}"
        )
        if os.environ.get(REQUIRE_CHROMIUM_ENV) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    yield path
