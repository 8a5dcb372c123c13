"""API v2: the dataset records the company the API issued the token for, and a v2 client of
another company is refused (exit 2), as with v1 (tests/reliability/test_company_record.py)."""

from __future__ import annotations

import pytest

from emulator import Company, EmulatorServer
from pipelines.cli import explain
from pipelines.run import run_sync
from tests.conftest import TEST_RATE


def test_v2_dataset_records_the_token_company_and_refuses_another(
    configure_v2, monkeypatch: pytest.MonkeyPatch, new_pipeline, emulator: EmulatorServer
) -> None:
    configure_v2()
    pipeline = new_pipeline()
    run_sync(pipeline, resources=["skills"], build_models=False)
    record = pipeline.state["sources"]["learning360"]["company"]
    assert record == {"api_version": "v2", "company_id": emulator.company_id}

    other = Company.generate(seed=8, size="small")
    with EmulatorServer(other, port=0, rate_limit=TEST_RATE * 1.25) as server:
        monkeypatch.setenv("SOURCES__LEARNING360__BASE_URL", server.base_url)
        monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID", server.client_id)
        monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET", server.client_secret)
        with pytest.raises(Exception) as refused:
            run_sync(new_pipeline(), resources=["skills"], build_models=False)
    code, line = explain(refused.value)
    assert code == 2 and emulator.company_id in line and server.company_id in line, line
