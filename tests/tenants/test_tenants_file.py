"""The tenants file: every mistake is one line naming the file and the key (exit 2), and a
tenant's process gets its own credentials and nobody else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.tenants import (
    TenantCredentialsMissing,
    TenantsFileError,
    load_tenants,
    parse_tenants,
    tenant_environment,
    tenant_line,
)

GOOD = """
[tenants.acme]
api_version = "v1"
base_url = "https://app.360learning.com/"
company_id_env = "ACME_COMPANY_ID"
api_key_env = "ACME_API_KEY"
max_requests_per_second = 25

[tenants.globex]
api_version = "v2"
base_url = "https://app.us.360learning.com"
airflow_conn_id = "learning360_globex"
"""


def test_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "tenants.toml"
    path.write_text(GOOD)
    acme, globex = load_tenants(path)
    assert (acme.name, acme.api_version, acme.base_url) == (
        "acme",
        "v1",
        "https://app.360learning.com",
    )
    assert acme.credential_env == {"company_id": "ACME_COMPANY_ID", "api_key": "ACME_API_KEY"}
    assert acme.settings == {"max_requests_per_second": 25}
    assert (acme.pipeline_name, acme.dataset_name) == ("learning360_acme", "learning360_acme")
    assert globex.airflow_conn_id == "learning360_globex" and globex.credential_env == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "tenants.toml: tenants: no tenants"),
        ("[tenant.acme]\n", "tenants.toml: tenant: unknown key"),
        ('[tenants.Acme]\nbase_url = "https://x"\n', "tenants.toml: tenants.Acme: a tenant name"),
        ("[tenants.all]\n", "tenants.toml: tenants.all: 'all' is reserved"),
        (
            '[tenants.a]\napi_version = "v3"\n',
            "tenants.toml: tenants.a.api_version: must be one of v1, v2",
        ),
        ("[tenants.a]\n", "tenants.toml: tenants.a.base_url: must be the platform's URL"),
        (
            '[tenants.a]\nbase_url = "https://u:pw@app.360learning.com"\n',
            "tenants.toml: tenants.a.base_url: must not hold a user or password",
        ),
        (
            '[tenants.a]\nbase_url = "https://x"\ncompany_id_env = "C"\napi_key_env = "sk-123 4"\n',
            "tenants.toml: tenants.a.api_key_env: must be the NAME of an environment variable",
        ),
        (
            '[tenants.a]\nbase_url = "https://x"\ncompany_id_env = "C"\n',
            "tenants.toml: tenants.a.api_key_env: missing",
        ),
        (
            '[tenants.a]\nbase_url = "https://x"\nclient_id_env = "C"\n',
            "tenants.toml: tenants.a.client_id_env: is an API v2 key; api_version is v1",
        ),
        (
            '[tenants.a]\nbase_url = "https://x"\nairflow_conn_id = "c"\napi_kee_env = "K"\n',
            "tenants.toml: tenants.a.api_kee_env: unknown key",
        ),
        (
            '[tenants.a]\nbase_url = "https://x"\nairflow_conn_id = "c"\nworkers = "4"\n',
            "tenants.toml: tenants.a.workers: has the wrong type (str)",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(TenantsFileError) as caught:
        parse_tenants(__import__("tomllib").loads(text))
    assert str(caught.value).startswith(message), str(caught.value)
    # and through the CLI: exit 2, one line on stderr, no traceback
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    assert main(["sync", "--tenants", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"learning360 sync failed: {path}: ")


def test_file_not_found_and_bad_toml_and_unknown_tenant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--tenants", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "tenants file" in err and "not found" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[tenants.a\n")
    assert main(["sync", "--tenants", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    good = tmp_path / "tenants.toml"
    good.write_text(GOOD)
    assert main(["sync", "--tenants", str(good), "--only-tenant", "initech"]) == 2
    err = capsys.readouterr().err
    assert "--only-tenant initech: no such tenant" in err and "acme, globex" in err
    assert main(["sync", "--tenants", str(good), "--pipeline-name", "x"]) == 2


def test_a_tenant_process_sees_its_own_credentials_only() -> None:
    acme, globex = parse_tenants(__import__("tomllib").loads(GOOD))
    other = parse_tenants(
        __import__("tomllib").loads(
            '[tenants.initech]\nbase_url = "https://x"\n'
            'company_id_env = "INITECH_ID"\napi_key_env = "INITECH_KEY"\n'
        )
    )[0]
    environ = {
        "ACME_COMPANY_ID": "acme-co",
        "ACME_API_KEY": "acme-secret",
        "INITECH_ID": "ini-co",
        "INITECH_KEY": "ini-secret",
        "SOURCES__LEARNING360__CREDENTIALS__API_KEY": "the single-company key",
        "SOURCES__LEARNING360__BASE_URL": "https://elsewhere",
        "SOURCES__LEARNING360__WORKERS": "3",
        "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://u:p@h/d",
    }
    env = tenant_environment(acme, environ, all_tenants=[acme, globex, other])
    assert env["SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID"] == "acme-co"
    assert env["SOURCES__LEARNING360__CREDENTIALS__API_KEY"] == "acme-secret"
    assert env["SOURCES__LEARNING360__BASE_URL"] == "https://app.360learning.com"
    assert env["SOURCES__LEARNING360__API_VERSION"] == "v1"
    assert env["SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND"] == "25"
    assert env["SOURCES__LEARNING360__WORKERS"] == "3"  # shared settings pass through
    assert env["DESTINATION__POSTGRES__CREDENTIALS"] == "postgresql://u:p@h/d"
    assert "INITECH_KEY" not in env and "ini-secret" not in env.values()

    env = tenant_environment(globex, environ, connection=("client-id", "client-secret"))
    assert env["SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID"] == "client-id"
    assert env["SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET"] == "client-secret"
    assert "SOURCES__LEARNING360__CREDENTIALS__API_KEY" not in env

    with pytest.raises(TenantCredentialsMissing, match=r"tenant acme: environment variable "):
        tenant_environment(acme, {"ACME_COMPANY_ID": "x"})
    with pytest.raises(
        TenantCredentialsMissing, match=r"connection learning360_globex has no password"
    ):
        tenant_environment(globex, {}, connection=("id", None))


def test_failure_lines_name_the_tenants_own_keys() -> None:
    acme, globex = parse_tenants(__import__("tomllib").loads(GOOD))
    line = (
        "rejected: check sources.learning360.credentials.api_key (env "
        "SOURCES__LEARNING360__CREDENTIALS__API_KEY) and sources.learning360.base_url (env "
        "SOURCES__LEARNING360__BASE_URL)"
    )
    assert tenant_line(acme, line) == (
        "rejected: check ACME_API_KEY (tenants.toml: tenants.acme.api_key_env) and "
        "tenants.toml: tenants.acme.base_url"
    )
    v2 = line.replace("api_key", "client_secret").replace("API_KEY", "CLIENT_SECRET")
    assert "the password of Airflow connection learning360_globex" in tenant_line(globex, v2)


@pytest.mark.integration
def test_a_crashed_tenant_process_is_one_failed_line(tmp_path: Path) -> None:
    """A tenant whose process dies (OOM killer, segfault) is reported, not raised."""
    from pipelines.tenants import run_tenant

    crashing = tmp_path / "python"
    crashing.write_text('#!/bin/sh\necho "extracting..."\nkill -9 $$\n')
    crashing.chmod(0o755)
    acme, _ = parse_tenants(__import__("tomllib").loads(GOOD))
    lines: list[str] = []
    result = run_tenant(
        acme, [], env={"PATH": "/usr/bin:/bin"}, python=str(crashing), output=lines.append
    )
    assert (result.ok, result.code) == (False, 1)
    assert result.line == (
        "tenant acme: the sync process was killed by signal 9; its last line: extracting..."
    )
    assert lines == ["[acme] extracting..."]


def test_the_shipped_example_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "airflow" / "tenants.example.toml"
    names = [t.name for t in load_tenants(example)]
    assert names == ["acme", "globex_us", "initech"]
