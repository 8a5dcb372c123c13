"""Many 360Learning companies (tenants) from one ``tenants.toml``: parse, run, isolate.

A group with several 360Learning platforms syncs them all from one file::

    [tenants.acme]                       # the name: [a-z][a-z0-9_]*, at most 40 characters
    api_version = "v1"
    base_url = "https://app.360learning.com"
    company_id_env = "ACME_360_COMPANY_ID"   # names of environment variables, never secrets
    api_key_env = "ACME_360_API_KEY"

    [tenants.globex]
    api_version = "v2"
    base_url = "https://app.us.360learning.com"
    airflow_conn_id = "learning360_globex"   # in Airflow: login = client id, password = secret

Each tenant is its own dlt pipeline and dataset, ``learning360_<tenant>`` (own state, cursors,
lock and tables), synced in its own process (``pipelines/tenants_child.py``) whose environment
holds that tenant's credentials only: a tenant's bad key, unreachable host or crash fails that
tenant alone, and ``--only-tenant`` reruns it. Tenants run in parallel (``--parallel``), each
within its own company's rate limit; one tenant is never split across processes (they would
share its 50 GET/s).

``learning360 sync --tenants FILE`` (this module's :func:`cmd_sync_tenants`) and the Airflow DAG
(``deploy/airflow/learning360_dag.py``) both go through :func:`run_tenant`. After the tenants,
:func:`build_cross_tenant_views` unions each derived table into ``learning360_all.<model>``
with a ``tenant`` column.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from pipelines.explain import explain
from pipelines.models.runner import model_order
from pipelines.run import make_pipeline
from sources.learning360.defaults import SUPPORTED_API_VERSIONS

DATASET_PREFIX = "learning360_"
ALL_DATASET = "learning360_all"
ALL_DUCKDB_FILE = "learning360-all.duckdb"  # not learning360_all: see Tenant.duckdb_file
TENANT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# the dlt config keys a tenant's process gets from its own entry (and never inherits)
SOURCE_ENV = "SOURCES__LEARNING360__"
CREDENTIALS_ENV = SOURCE_ENV + "CREDENTIALS__"
# what a tenant's process never inherits from the parent's environment
OWN_ENV = (CREDENTIALS_ENV, SOURCE_ENV + "BASE_URL", SOURCE_ENV + "API_VERSION")
# tenant key holding an env var name -> the credential field it fills, per API version
CREDENTIAL_KEYS: dict[str, dict[str, str]] = {
    "v1": {"company_id_env": "company_id", "api_key_env": "api_key"},
    "v2": {"client_id_env": "client_id", "client_secret_env": "client_secret"},
}
# optional per-tenant source settings, passed on as SOURCES__LEARNING360__<KEY>
SETTING_KEYS: dict[str, type | tuple[type, ...]] = {
    "auth_method": str,
    "max_requests_per_second": (int, float),
    "workers": int,
    "user_courses_strategy": str,
    "user_programs_strategy": str,
}
DEFAULT_PARALLEL = 4
CROSS_TENANT_DESTINATIONS = ("duckdb", "postgres")

logger = logging.getLogger(__name__)


class TenantsFileError(ValueError):
    """The tenants file is unusable; ``str(exc)`` is one line naming the file and the key."""


class TenantCredentialsMissing(ValueError):
    """A tenant's credentials cannot be found; one line naming the tenant and what to set."""


@dataclass(frozen=True)
class Tenant:
    """One company of the tenants file."""

    name: str
    api_version: str
    base_url: str
    # credential field (company_id, api_key / client_id, client_secret) -> env var name
    credential_env: dict[str, str] = field(default_factory=dict)
    airflow_conn_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    source_file: str = "tenants.toml"

    @property
    def pipeline_name(self) -> str:
        return DATASET_PREFIX + self.name

    @property
    def dataset_name(self) -> str:
        return DATASET_PREFIX + self.name

    @property
    def duckdb_file(self) -> str:
        """``learning360-acme.duckdb``: DuckDB names the catalog after the file, and a catalog
        named like the dataset (learning360_acme) makes every reference ambiguous."""
        return f"learning360-{self.name}.duckdb"

    def where(self, key: str) -> str:
        """``tenants.toml: tenants.acme.api_key_env``: where a user fixes a value."""
        return f"{self.source_file}: tenants.{self.name}.{key}"


# --------------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------------


def load_tenants(path: str | os.PathLike[str]) -> list[Tenant]:
    """Parses and validates the tenants file; raises :class:`TenantsFileError` (one line)."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TenantsFileError(f"tenants file {file} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantsFileError(f"cannot read tenants file {file}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TenantsFileError(f"{file}: not valid TOML ({exc})") from None
    return parse_tenants(data, str(file))


def parse_tenants(data: Mapping[str, Any], source_file: str = "tenants.toml") -> list[Tenant]:
    """Validates a parsed tenants file: every problem is one line naming the file and key."""

    def fail(key: str, problem: str) -> TenantsFileError:
        return TenantsFileError(f"{source_file}: {key}: {problem}")

    unknown_top = sorted(set(data) - {"tenants"})
    if unknown_top:
        raise fail(unknown_top[0], "unknown key (the file holds [tenants.<name>] tables only)")
    entries = data.get("tenants")
    if not isinstance(entries, dict) or not entries:
        raise fail("tenants", "no tenants: add a [tenants.<name>] table per company")
    tenants: list[Tenant] = []
    for name, entry in entries.items():
        key = f"tenants.{name}"
        if not TENANT_NAME.fullmatch(name):
            raise fail(
                key,
                "a tenant name is lowercase letters, digits and _, starting with a letter, "
                "at most 40 characters (it becomes the dataset learning360_<name>)",
            )
        if name == "all":
            raise fail(key, f"'all' is reserved for the cross-tenant dataset {ALL_DATASET}")
        if not isinstance(entry, dict):
            raise fail(key, "must be a table ([tenants.<name>])")
        version = entry.get("api_version", "v1")
        if version not in SUPPORTED_API_VERSIONS:
            raise fail(f"{key}.api_version", f"must be one of {', '.join(SUPPORTED_API_VERSIONS)}")
        base_url = entry.get("base_url")
        if not isinstance(base_url, str) or not re.match(r"https?://[^/@\s]+", base_url):
            raise fail(
                f"{key}.base_url", "must be the platform's URL, e.g. https://app.360learning.com"
            )
        if "@" in base_url.split("//", 1)[1].split("/", 1)[0]:
            raise fail(f"{key}.base_url", "must not hold a user or password")
        credential_keys = CREDENTIAL_KEYS[version]
        other_keys = {k for v, keys in CREDENTIAL_KEYS.items() if v != version for k in keys}
        allowed = {"api_version", "base_url", "airflow_conn_id", *credential_keys, *SETTING_KEYS}
        for item in entry:
            if item in other_keys:
                raise fail(
                    f"{key}.{item}", f"is an API {_other(version)} key; api_version is {version}"
                )
            if item not in allowed:
                raise fail(
                    f"{key}.{item}",
                    "unknown key (known: " + ", ".join(sorted(allowed)) + ")",
                )
        credential_env: dict[str, str] = {}
        for item, credential in credential_keys.items():
            if item not in entry:
                continue
            value = entry[item]
            if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                raise fail(
                    f"{key}.{item}",
                    "must be the NAME of an environment variable (e.g. ACME_360_API_KEY), "
                    "never the secret itself",
                )
            credential_env[credential] = value
        conn_id = entry.get("airflow_conn_id")
        if conn_id is not None and (not isinstance(conn_id, str) or not conn_id.strip()):
            raise fail(f"{key}.airflow_conn_id", "must be an Airflow connection id")
        if len(credential_env) != len(credential_keys) and conn_id is None:
            missing = [k for k, c in credential_keys.items() if c not in credential_env]
            raise fail(
                f"{key}.{missing[0]}",
                f"missing: set {' and '.join(credential_keys)} (names of environment variables) "
                "or airflow_conn_id",
            )
        settings: dict[str, Any] = {}
        for item, kind in SETTING_KEYS.items():
            if item in entry:
                if not isinstance(entry[item], kind) or isinstance(entry[item], bool):
                    raise fail(
                        f"{key}.{item}", f"has the wrong type ({type(entry[item]).__name__})"
                    )
                settings[item] = entry[item]
        tenants.append(
            Tenant(
                name=name,
                api_version=version,
                base_url=base_url.rstrip("/"),
                credential_env=credential_env,
                airflow_conn_id=conn_id,
                settings=settings,
                source_file=source_file,
            )
        )
    return tenants


def _other(version: str) -> str:
    return "v2" if version == "v1" else "v1"


def select_tenants(tenants: Sequence[Tenant], only: Iterable[str] | None) -> list[Tenant]:
    """The tenants named in ``only`` (all when empty); an unknown name is a TenantsFileError."""
    wanted = [n.strip() for n in (only or ()) if n.strip()]
    if not wanted:
        return list(tenants)
    known = {t.name for t in tenants}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        source = tenants[0].source_file if tenants else "tenants.toml"
        raise TenantsFileError(
            f"--only-tenant {unknown[0]}: no such tenant in {source} "
            f"(known: {', '.join(sorted(known))})"
        )
    return [t for t in tenants if t.name in wanted]


# --------------------------------------------------------------------------------------------
# One tenant's environment: its own credentials, nobody else's
# --------------------------------------------------------------------------------------------


def tenant_environment(
    tenant: Tenant,
    environ: Mapping[str, str],
    *,
    all_tenants: Sequence[Tenant] = (),
    connection: tuple[str | None, str | None] | None = None,
) -> dict[str, str]:
    """The environment of the tenant's sync process.

    Starts from ``environ`` (destination credentials, shared settings) without the source's
    credentials, base URL and API version nor any other tenant's credential variable (a tenant
    never falls back on someone else's key), then adds the
    tenant's base URL, API version, settings and credentials: from its environment variables,
    or from ``connection`` (login, password) when it names an Airflow connection.
    Raises :class:`TenantCredentialsMissing` naming the variable to set.
    """
    other_secrets = {
        var
        for other in all_tenants
        if other.name != tenant.name
        for var in other.credential_env.values()
    }
    env = {
        k: v
        for k, v in environ.items()
        if not k.upper().startswith(OWN_ENV) and k not in other_secrets
    }
    env[SOURCE_ENV + "BASE_URL"] = tenant.base_url
    env[SOURCE_ENV + "API_VERSION"] = tenant.api_version
    for key, value in tenant.settings.items():
        target = CREDENTIALS_ENV if key == "auth_method" else SOURCE_ENV
        env[target + key.upper()] = str(value)
    fields = list(CREDENTIAL_KEYS[tenant.api_version].values())
    if connection is not None:
        login, password = connection
        for credential, value in zip(fields, (login, password), strict=True):
            if not value:
                part = "login" if credential == fields[0] else "password"
                raise TenantCredentialsMissing(
                    f"tenant {tenant.name}: Airflow connection {tenant.airflow_conn_id} has no "
                    f"{part} (the {credential}); set it in the connection"
                )
            env[CREDENTIALS_ENV + credential.upper()] = value
        return env
    for credential in fields:
        var = tenant.credential_env.get(credential)
        value = environ.get(var) if var else None
        if not value:
            key = f"{credential}_env"
            raise TenantCredentialsMissing(
                f"tenant {tenant.name}: environment variable {var} is not set "
                f"({tenant.where(key)}); export it, or fix the name in the tenants file"
                if var
                else f"tenant {tenant.name}: its credentials are in Airflow connection "
                f"{tenant.airflow_conn_id}; to sync it outside Airflow, set "
                f"{' and '.join(CREDENTIAL_KEYS[tenant.api_version])} in "
                f"{tenant.source_file}: tenants.{tenant.name}"
            )
        env[CREDENTIALS_ENV + credential.upper()] = value
    return env


# --------------------------------------------------------------------------------------------
# Running tenants, each in its own process
# --------------------------------------------------------------------------------------------


@dataclass
class TenantResult:
    """How one tenant's sync ended."""

    name: str
    code: int
    seconds: float
    rows: int | None = None
    line: str = ""  # the failure line, naming the tenant and what to fix

    @property
    def ok(self) -> bool:
        return self.code == 0

    def summary(self, width: int = 12) -> str:
        """``acme         ok        12345 rows     42.1 s`` (or failed, with the reason)."""
        if self.ok:
            return f"{self.name:<{width}} ok     {self.rows or 0:>9} rows {self.seconds:>8.1f} s"
        return f"{self.name:<{width}} failed (exit {self.code}) {self.seconds:>6.1f} s  {self.line}"


def sync_arguments(
    tenant: Tenant,
    *,
    destination: str,
    pipelines_dir: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The ``learning360 sync`` arguments of one tenant: its own pipeline and dataset."""
    args = [
        "--destination",
        destination,
        "--pipeline-name",
        tenant.pipeline_name,
        "--dataset-name",
        tenant.dataset_name,
    ]
    if pipelines_dir:
        args += ["--pipelines-dir", pipelines_dir]
    if destination == "duckdb":
        args += ["--duckdb-path", tenant.duckdb_file]
    return args + list(extra)


def run_tenant(
    tenant: Tenant,
    sync_args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    all_tenants: Sequence[Tenant] = (),
    connection: tuple[str | None, str | None] | None = None,
    output: Callable[[str], None] | None = None,
    cwd: str | None = None,
    python: str | None = None,
) -> TenantResult:
    """Runs ``learning360 sync <sync_args>`` for one tenant in a child process.

    The child's environment is :func:`tenant_environment` (or ``env``); its output lines go to
    ``output`` prefixed with ``[tenant]``. Never raises for the tenant's own failures: they
    are in the result (exit code and one line naming the tenant)."""
    started = time.monotonic()
    emit = output or (lambda line: print(line, file=sys.stderr, flush=True))
    if env is None:
        try:
            env = tenant_environment(
                tenant,
                os.environ if environ is None else environ,
                all_tenants=all_tenants,
                connection=connection,
            )
        except TenantCredentialsMissing as exc:
            return TenantResult(tenant.name, EXIT_CONFIG, time.monotonic() - started, line=str(exc))
    with tempfile.TemporaryDirectory(prefix=f"learning360-{tenant.name}-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [
            python or sys.executable,
            "-m",
            "pipelines.tenants_child",
            "--result-file",
            str(result_file),
            "--",
            *sync_args,
        ]
        proc = subprocess.Popen(
            command,
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        last = ""
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if line.strip():
                last = line
            emit(f"[{tenant.name}] {line}")
        code = proc.wait()
        seconds = time.monotonic() - started
        done: dict[str, Any] = {}
        if result_file.exists():
            done = json.loads(result_file.read_text(encoding="utf-8"))
    if code == 0:
        return TenantResult(tenant.name, 0, seconds, rows=done.get("rows"))
    if code < 0:  # killed by a signal: no line of its own
        reason = f"the sync process was killed by signal {-code}"
        if last:
            reason += f"; its last line: {last[:200]}"
        return TenantResult(
            tenant.name, EXIT_FAILED, seconds, line=f"tenant {tenant.name}: {reason}"
        )
    reason = tenant_line(tenant, done.get("line") or last or "failed without a message")
    return TenantResult(tenant.name, code, seconds, line=f"tenant {tenant.name}: {reason}")


_CONFIG_KEY = re.compile(
    r"sources\.learning360\.(?:credentials\.)?(\w+) \(env SOURCES__LEARNING360__\w+\)"
)


def tenant_line(tenant: Tenant, line: str, *, airflow: bool = False) -> str:
    """A sync's failure line with the single-company config keys it names (``sources.
    learning360.credentials.api_key (env SOURCES__...)``) replaced by where this tenant's value
    comes from: its environment variable, Airflow connection or tenants-file key."""

    def where(match: re.Match[str]) -> str:
        key = match.group(1)
        fields = list(CREDENTIAL_KEYS[tenant.api_version].values())
        if key in fields:
            if tenant.airflow_conn_id and (airflow or not tenant.credential_env):
                part = "login" if key == fields[0] else "password"
                return f"the {part} of Airflow connection {tenant.airflow_conn_id}"
            if key in tenant.credential_env:
                return f"{tenant.credential_env[key]} ({tenant.where(key + '_env')})"
        if key in ("base_url", "api_version", *SETTING_KEYS):
            return tenant.where(key)
        return match.group(0)

    return _CONFIG_KEY.sub(where, line)


def run_tenants(
    tenants: Sequence[Tenant],
    args_for: Callable[[Tenant], Sequence[str]],
    *,
    parallel: int = DEFAULT_PARALLEL,
    all_tenants: Sequence[Tenant] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> list[TenantResult]:
    """Runs the tenants, at most ``parallel`` at a time, each in its own process."""
    lock = threading.Lock()

    def emit(line: str) -> None:
        with lock:
            print(line, file=sys.stderr, flush=True)

    def one(tenant: Tenant) -> TenantResult:
        return run_tenant(
            tenant,
            args_for(tenant),
            environ=environ,
            all_tenants=all_tenants or tenants,
            output=emit,
            cwd=cwd,
        )

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, tenants))


def combined_exit_code(results: Sequence[TenantResult]) -> int:
    """0 when every tenant loaded; the failed tenants' code when they agree (2: fix config,
    75: locked, 1: retry); 1 when they differ."""
    codes = {r.code for r in results if not r.ok}
    if not codes:
        return EXIT_OK
    return codes.pop() if len(codes) == 1 else EXIT_FAILED


# --------------------------------------------------------------------------------------------
# Cross-tenant views: learning360_all.<model>, with a tenant column
# --------------------------------------------------------------------------------------------


def build_cross_tenant_views(
    tenants: Sequence[Tenant],
    *,
    destination: str,
    pipelines_dir: str | None = None,
    duckdb_dir: str | None = None,
) -> dict[str, int]:
    """``learning360_all.<model>``: every tenant's derived table with a ``tenant`` column.

    PostgreSQL (and any engine where the datasets share one database): views, always current.
    DuckDB: each tenant has its own file (one writer per file, and tenants load in parallel),
    and a DuckDB view cannot outlive the ATTACH of another file, so these are tables in
    ``learning360-all.duckdb``, rebuilt after every multi-tenant run. A tenant whose model
    table does not exist yet (its first sync failed) is left out. Returns model -> tenants in it.
    """
    directory = Path(duckdb_dir or ".")
    pipeline = make_pipeline(
        destination=destination,
        pipeline_name=ALL_DATASET,
        dataset_name=ALL_DATASET,
        pipelines_dir=pipelines_dir,
        duckdb_path=str(directory / ALL_DUCKDB_FILE),
    )
    kind = str(pipeline.destination.destination_type).rsplit(".", 1)[-1]
    if kind not in CROSS_TENANT_DESTINATIONS:
        logger.warning(
            "%s is not built on %s (docs/operations.md says what BigQuery needs)", ALL_DATASET, kind
        )
        return {}
    built: dict[str, int] = {}
    with pipeline.sql_client() as client:
        quote = client.capabilities.escape_identifier
        if not client.has_dataset():
            client.create_dataset()
        catalogs: dict[str, str] = {}
        if kind == "duckdb":
            for tenant in tenants:
                path = directory / tenant.duckdb_file
                if path.exists():
                    alias = f"tenant_{tenant.name}"
                    client.execute_sql(f"ATTACH '{path}' AS {quote(alias)} (READ_ONLY)")
                    catalogs[tenant.name] = alias
        try:
            for model in model_order():
                parts: list[tuple[Tenant, str, list[str]]] = []
                for tenant in tenants:
                    if kind == "duckdb" and tenant.name not in catalogs:
                        continue
                    catalog = catalogs.get(tenant.name)
                    columns = _columns(client, catalog, tenant.dataset_name, model)
                    if columns:
                        prefix = f"{quote(catalog)}." if catalog else ""
                        source = f"{prefix}{quote(tenant.dataset_name)}.{quote(model)}"
                        parts.append((tenant, source, columns))
                if not parts:
                    continue
                all_columns: list[str] = []
                for _, _, columns in parts:
                    all_columns += [c for c in columns if c not in all_columns]
                selects = [
                    f"SELECT CAST('{tenant.name}' AS TEXT) AS tenant, "
                    + ", ".join(
                        quote(c) if c in columns else f"NULL AS {quote(c)}" for c in all_columns
                    )
                    + f" FROM {source}"
                    for tenant, source, columns in parts
                ]
                target = client.make_qualified_table_name(model)
                union = "\nUNION ALL\n".join(selects)
                if kind == "duckdb":
                    client.execute_sql(f"CREATE OR REPLACE TABLE {target} AS\n{union}")
                else:
                    with client.begin_transaction():
                        client.execute_sql(f"DROP VIEW IF EXISTS {target}")
                        client.execute_sql(f"CREATE VIEW {target} AS\n{union}")
                built[model] = len(parts)
        finally:
            for alias in catalogs.values():
                client.execute_sql(f"DETACH {quote(alias)}")
    return built


def _columns(client: Any, catalog: str | None, schema: str, table: str) -> list[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s"
    )
    params: list[str] = [schema, table]
    if catalog:
        sql += " AND table_catalog = %s"
        params.append(catalog)
    rows = client.execute_sql(sql + " ORDER BY ordinal_position", *params)
    return [str(r[0]) for r in rows or []]


# --------------------------------------------------------------------------------------------
# `learning360 sync --tenants FILE`
# --------------------------------------------------------------------------------------------


def add_arguments(sync: argparse.ArgumentParser) -> None:
    """``--tenants``, ``--parallel`` and ``--only-tenant`` for ``learning360 sync``."""
    sync.add_argument(
        "--tenants",
        default=None,
        metavar="FILE",
        help="sync every company of a tenants file, each in its own process, pipeline and "
        "dataset learning360_<tenant> (docs/operations.md)",
    )
    sync.add_argument(
        "--parallel",
        type=int,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help=f"with --tenants: tenants synced at once (default {DEFAULT_PARALLEL}); bounds memory",
    )
    sync.add_argument(
        "--only-tenant",
        action="append",
        default=None,
        metavar="NAME",
        help="with --tenants: sync only this tenant (repeatable), e.g. to rerun a failed one",
    )


def cmd_sync_tenants(args: argparse.Namespace) -> int:
    """Syncs the tenants of ``args.tenants``; one result line per tenant on stdout."""
    try:
        everyone = load_tenants(args.tenants)
        chosen = select_tenants(everyone, args.only_tenant)
        if args.parallel < 1:
            raise TenantsFileError("--parallel must be at least 1")
        if args.pipeline_name or args.dataset_name or args.duckdb_path:
            raise TenantsFileError(
                "--pipeline-name, --dataset-name and --duckdb-path name one pipeline; with "
                "--tenants each tenant gets learning360_<tenant> (and learning360-<tenant>.duckdb)"
            )
    except TenantsFileError as exc:
        print(f"learning360 sync failed: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    extra: list[str] = []
    for flag, on in (
        ("--full-refresh", args.full_refresh),
        ("--no-models", args.no_models),
        ("--in-process", args.in_process),
        ("--debug", args.debug),
    ):
        if on:
            extra.append(flag)
    if args.resources:
        extra += ["--resources", args.resources]
    if args.log_level:
        extra += ["--log-level", args.log_level]
    if args.progress != "auto":  # auto: the child's output is a pipe, so log lines
        extra += ["--progress", args.progress]
    if args.progress_interval is not None:
        extra += ["--progress-interval", str(args.progress_interval)]

    results = run_tenants(
        chosen,
        lambda t: sync_arguments(
            t, destination=args.destination, pipelines_dir=args.pipelines_dir, extra=extra
        ),
        parallel=args.parallel,
        all_tenants=everyone,
    )
    width = max(len(t.name) for t in chosen) + 2
    for result in results:
        print(result.summary(width), flush=True)
    code = combined_exit_code(results)
    if args.destination not in CROSS_TENANT_DESTINATIONS:
        print(f"{ALL_DATASET}: not built on {args.destination} (docs/operations.md)")
    elif not args.no_models and any(r.ok for r in results):
        try:
            built = build_cross_tenant_views(
                everyone, destination=args.destination, pipelines_dir=args.pipelines_dir
            )
        except Exception as exc:
            print(f"{ALL_DATASET}: failed: {explain(exc)[1]}", flush=True)
            return code or EXIT_FAILED
        if built:
            counts = sorted(set(built.values()))
            print(f"{ALL_DATASET}: {len(built)} cross-tenant tables over {counts[-1]} tenants")
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(
            f"learning360 sync failed for {len(failed)} of {len(results)} tenants: "
            f"{', '.join(failed)}; rerun them with --only-tenant",
            file=sys.stderr,
        )
    return code
