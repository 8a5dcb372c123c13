"""v2 authentication and its errors, over real HTTP to the emulator: token expiry mid-sync,
a wrong client secret, a credential without a scope, a refused version header, missing
credentials. Each failure is one line naming what to fix (as ``learning360 sync`` prints it)."""

from __future__ import annotations

import threading
from typing import Any

import dlt
import pytest

from emulator import Company, EmulatorServer
from pipelines.cli import EXIT_CONFIG, explain
from pipelines.run import run_sync
from sources.learning360 import client as auth_module
from sources.learning360 import learning360, routes
from sources.learning360.client import RetryPolicy, build_client
from sources.learning360.credentials import Learning360Credentials
from sources.learning360.errors import Learning360Error
from sources.learning360.routes import API_VERSION, API_VERSION_HEADER
from sources.learning360.v2.api import V2Api
from tests.source_v2.truth import (
    REQUIRED_SCOPES,
    assert_shared_tables_equal,
    assert_v2_warehouse_equals_truth,
    v2_view,
)


def _failure(pipeline: dlt.Pipeline) -> tuple[int, str]:
    with pytest.raises(Exception) as caught:
        run_sync(pipeline, build_models=False)
    return explain(caught.value)


@pytest.mark.parametrize("server_options", [{"token_ttl": 2}])
def test_token_expiry_mid_sync_recovers(
    configure_v2, new_pipeline, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens live 2 s; the client is told they live an hour, so it never refreshes early and
    meets 401 invalid_token mid-sync: it drops the token, fetches one and retries once."""
    monkeypatch.setattr(auth_module, "parse_expires_in", lambda value: 3600.0)
    # a sync of several seconds whatever the machine: v2 now reads only ~100 requests here
    configure_v2(SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=15)
    pipeline = new_pipeline()
    result = run_sync(pipeline)
    assert result.requests["reauthentications"] >= 1
    assert result.requests["requests"]["POST /api/v2/oauth2/token"] >= 2
    assert_v2_warehouse_equals_truth(pipeline, company.truth())


@pytest.mark.parametrize("server_options", [{"token_ttl": 2}])
def test_short_lived_tokens_are_refreshed_before_they_expire(
    configure_v2, new_pipeline, company: Company
) -> None:
    configure_v2(SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND=20)  # outlasts a 2 s token
    pipeline = new_pipeline()
    result = run_sync(pipeline, build_models=False)
    assert result.requests["requests"]["POST /api/v2/oauth2/token"] >= 2
    assert_v2_warehouse_equals_truth(pipeline, company.truth())


def test_wrong_client_secret_is_one_line_naming_the_key(configure_v2, new_pipeline) -> None:
    configure_v2(SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET="0" * 64)
    code, line = _failure(new_pipeline())
    assert code == EXIT_CONFIG
    assert "\n" not in line and "rejected the API v2 client secret (401 invalid_client)" in line
    assert "sources.learning360.credentials.client_secret" in line
    assert "SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET" in line
    assert "0" * 64 not in line


def test_unknown_client_id_names_the_client_id(configure_v2, new_pipeline) -> None:
    configure_v2(SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID="f" * 32)
    code, line = _failure(new_pipeline())
    assert code == EXIT_CONFIG
    assert "\n" not in line and "sources.learning360.credentials.client_id" in line


@pytest.mark.parametrize(
    "server_options", [{"v2_scopes": [s for s in REQUIRED_SCOPES if s != "courseStats:read"]}]
)
def test_missing_scope_is_one_line_naming_the_scope(configure_v2, new_pipeline) -> None:
    configure_v2()
    code, line = _failure(new_pipeline())
    assert code == EXIT_CONFIG
    assert "\n" not in line and "403 invalid_scope" in line
    assert "courseStats:read" in line and "Settings → API v2" in line
    assert "sources.learning360.credentials.client_id" in line


def test_missing_v2_credentials_name_the_keys(
    configure_v2, new_pipeline, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    configure_v2()
    monkeypatch.delenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET")
    code, line = _failure(new_pipeline())
    assert code == EXIT_CONFIG and "credentials.client_secret" in line
    # v1 credentials alone do not make a v2 sync: the v2 keys are named
    monkeypatch.delenv("SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID")
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID", emulator.company_id)
    monkeypatch.setenv("SOURCES__LEARNING360__CREDENTIALS__API_KEY", emulator.api_key)
    code, line = _failure(new_pipeline("other"))
    assert code == EXIT_CONFIG
    assert "credentials.client_id" in line and "credentials.client_secret" in line


def _v2_api(emulator: EmulatorServer) -> V2Api:
    credentials = Learning360Credentials(
        client_id=emulator.client_id, client_secret=emulator.client_secret
    )
    client = build_client(emulator.base_url, credentials, "v2", retry=RetryPolicy(max_attempts=2))
    return V2Api(client)


def test_every_call_sends_bearer_and_version_header(emulator: EmulatorServer) -> None:
    api = _v2_api(emulator)
    seen: list[dict[str, str]] = []
    original = api.client.auth.apply

    def spy(headers: Any, params: Any) -> Any:
        token = original(headers, params)
        seen.append(dict(headers))
        return token

    api.client.auth.apply = spy  # type: ignore[method-assign]
    assert list(api.items("groups"))
    assert seen and all(
        h["Authorization"].startswith("Bearer ") and h[API_VERSION_HEADER] == API_VERSION
        for h in seen
    )


def test_refused_version_header_is_one_line(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "API_VERSION", "v9.9")
    api = _v2_api(emulator)
    with pytest.raises(Learning360Error) as caught:
        list(api.items("groups"))
    line = str(caught.value)
    assert "400 invalidApiVersion" in line and "\n" not in line
    assert "sources.learning360.base_url" in line


def test_one_token_for_all_threads(emulator: EmulatorServer) -> None:
    api = _v2_api(emulator)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            list(api.items("groups"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert api.client.stats.by_route["POST /api/v2/oauth2/token"] == 1


def test_source_rejects_unknown_api_version() -> None:
    credentials = Learning360Credentials(client_id="x", client_secret="y")
    with pytest.raises(Exception) as caught:
        learning360(api_version="v3", credentials=credentials)
    assert "v1, v2" in explain(caught.value)[1]


CLASSROOM_TABLES = "classrooms,classroom_slots,classroom_slot_registrations"


@pytest.mark.parametrize(
    "server_options", [{"v2_scopes": [s for s in REQUIRED_SCOPES if s != "classrooms:read"]}]
)
def test_tables_of_a_missing_scope_can_be_skipped(
    configure_v2, new_pipeline, company: Company
) -> None:
    configure_v2()
    code, line = _failure(new_pipeline())
    assert "classrooms:read" in line and "sources.learning360.v2_skip_tables" in line
    configure_v2(SOURCES__LEARNING360__V2_SKIP_TABLES=CLASSROOM_TABLES)
    pipeline = new_pipeline("skipping")
    run_sync(pipeline)
    truth = company.truth()
    assert_shared_tables_equal(pipeline, v2_view(truth))
    for table in CLASSROOM_TABLES.split(","):
        assert table not in pipeline.default_schema.tables


def test_unknown_skipped_table_is_a_configuration_error(configure_v2, new_pipeline) -> None:
    configure_v2(SOURCES__LEARNING360__V2_SKIP_TABLES="classroom")
    code, line = _failure(new_pipeline())
    assert code == EXIT_CONFIG and "v2_skip_tables" in line and "classroom" in line
