"""`learning360 doctor`: checks everything a sync needs, one line per check, before a sync.

Checks, in order:

* **config**: ``[sources.learning360]`` resolves as the source would resolve it (same dlt
  sections, files and env vars); ``credentials.company_id`` and ``credentials.api_key`` are set;
  ``api_version`` is one the source has an adapter for; ``auth_method`` and
  ``user_courses_strategy`` are known; ``base_url`` is a bare ``http(s)://host`` (no
  ``/api/v1`` path, no query).
* **credentials**: ONE cheap authenticated request: ``GET /api/v1/groups/<an id that does not
  exist>``. The API checks the credentials before it looks the group up, so ``404
  group_not_found`` proves they work and costs one tiny body (no collection is downloaded).
  With ``auth_method = oauth`` the client first asks for a token (GenerateToken), as a sync
  would. Two attempts at most, a short timeout: a doctor answers fast.
* **destination**: DuckDB: the file's directory exists and is writable, and an existing file
  opens; PostgreSQL/BigQuery: credentials resolve, ``pipeline.sql_client()`` opens and runs
  ``SELECT 1``, and whether the dataset exists yet.
* **company**: whose data the dataset holds (dlt's state in the destination,
  ``sources/learning360/company.py``) against the configured company id: what a sync would
  refuse (exit 2), said before it runs.
* **pipelines dir**: dlt's working directory can be created/written (state, load packages).
* **models**: the ``pipelines/models/*.sql`` files parse and their dependency order resolves.

Each line starts with ✓ (passed), ✗ (failed: the line says what to fix), ! (a warning that does
not fail) or - (not checked because an earlier check failed); ASCII ``OK``/``FAIL``/``WARN``/
``SKIP`` when the terminal cannot print those. Exit 0 when nothing failed, 2 otherwise (the
configuration exit code: a rerun will not help). Secrets are never printed: the API key and the
destination passwords appear only as "set".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.pipeline import get_dlt_pipelines_dir

from pipelines import dlt_config
from pipelines.checks import (
    check_runtime_settings,
    duckdb_memory_limit,
    explain_config_error,
    resolve_source_config,
    source_problems,
)
from pipelines.exit_codes import EXIT_CONFIG, EXIT_OK
from pipelines.models.runner import MODELS_DIR, model_order
from pipelines.run import DATASET_NAME, PIPELINE_NAME
from pipelines.status import cursors_of, open_pipeline
from pipelines.variants import describe, unresolved, variant_columns
from sources.learning360.client import RetryPolicy, build_client
from sources.learning360.company import STATE_KEY, CompanyRecord, mismatch_message
from sources.learning360.defaults import SUPPORTED_API_VERSIONS
from sources.learning360.errors import Learning360Error, NotFoundError, config_key, redact
from sources.learning360.routes import V1_ROUTES
from sources.learning360.stats import RequestStats
from sources.learning360.validation import base_url_problem, credentials_problem

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
MARKS = {PASS: "✓", FAIL: "✗", WARN: "!", SKIP: "-"}
ASCII_MARKS = {PASS: "OK  ", FAIL: "FAIL", WARN: "WARN", SKIP: "SKIP"}

# a well-formed id no 360Learning object has: the API answers 404 group_not_found
PROBE_GROUP_ID = "000000000000000000000000"
API_RATE_LIMIT = 50.0  # GET/s per company


@dataclass
class Check:
    name: str
    outcome: str
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=15.0, help="seconds per network check (default 15)"
    )


def _mask_urls(text: str) -> str:
    """Masks passwords in connection strings, then known secrets."""
    return redact(re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", str(text)))


def _first_line(exc: BaseException) -> str:
    text = " ".join(_mask_urls(str(exc)).split())
    return f"{type(exc).__name__}: {text}"[:400] if text else type(exc).__name__


# ---- config ---------------------------------------------------------------------------------


def _identity(config: Any) -> tuple[str, str, str, bool]:
    """The credential fields of the configured API version: id name, id, secret name, set."""
    id_field, secret_field = (
        ("client_id", "client_secret") if _version(config) == "v2" else ("company_id", "api_key")
    )
    identity = str(getattr(config.credentials, id_field, None) or "").strip()
    return id_field, identity, secret_field, bool(getattr(config.credentials, secret_field, None))


def _version(config: Any) -> str:
    return str(config.api_version or "").strip().lower()


def check_config(config: Any) -> tuple[Check, bool]:
    """The config line, and whether the credentials can be tried at all: the source's own
    validation (``source_problems``), every problem listed."""
    problems = source_problems(config)
    version = _version(config)
    id_field, identity, secret_field, secret = _identity(config)
    if version == "v1" and not identity and not secret:
        problems.append(
            f'a new setup uses API v2: {config_key("api_version")} = "v2" with '
            f"{config_key('credentials', 'client_id')} and client_secret (docs/migration-v2.md)"
        )
    can_try = (
        version in SUPPORTED_API_VERSIONS
        and base_url_problem(config.base_url) is None
        and credentials_problem(config.credentials, version) is None
    )
    if problems:
        return Check("config", FAIL, "; ".join(problems)), can_try
    method = (config.credentials.auth_method or "oauth").strip().lower()
    how = "" if version == "v2" else f", auth_method {method}"
    summary = (
        f"base_url {config.base_url}, api_version {version}{how}, {id_field} {identity}, "
        f"{secret_field} set (not shown)"
    )
    rate = float(config.max_requests_per_second)
    if rate > API_RATE_LIMIT:
        warning = (
            f"{config_key('max_requests_per_second')} = {rate:g} is above the API's "
            f"{API_RATE_LIMIT:g} GET/s: expect 429 answers and retries"
        )
        return Check("config", WARN, f"{summary}; {warning}"), True
    return Check("config", PASS, summary), True


# ---- credentials ----------------------------------------------------------------------------


def check_credentials(config: Any, timeout: float = 15.0) -> Check:
    """ONE cheap authenticated request (module docstring); v2: one token request, which
    proves the OAuth2 client (v2 routes need nothing else)."""
    version = _version(config)
    stats = RequestStats()
    retry = RetryPolicy(max_attempts=2, backoff_factor=0.2, max_retry_delay=1.0, timeout=timeout)
    route = V1_ROUTES["group"]
    try:
        # one request: no limiter needed
        client = build_client(
            config.base_url,
            config.credentials,
            version,
            max_requests_per_second=0,
            workers=1,
            stats=stats,
            retry=retry,
        )
        try:
            if version == "v2":
                client.auth.token()
            else:
                client.get_json(route, {"group_id": PROBE_GROUP_ID})
        except NotFoundError:
            pass  # authenticated, then not found: exactly what we asked for
        finally:
            client.close()
    except Learning360Error as exc:  # rejected key, unreachable host, ...
        return Check("credentials", FAIL, exc.one_line())
    except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
        return Check("credentials", FAIL, f"{_first_line(exc)}; check {config_key('base_url')}")
    if version == "v2":
        return Check(
            "credentials",
            PASS,
            f"360Learning issued a v2 token to client {config.credentials.client_id} at "
            f"{config.base_url}: {stats.requests} request(s), POST token",
        )
    method = config.credentials.auth_method
    calls = " + ".join(
        (["POST token"] if method == "oauth" else []) + [f"GET {route.format(group_id='<none>')}"]
    )
    return Check(
        "credentials",
        PASS,
        f"360Learning accepted company {config.credentials.company_id} ({method}) at "
        f"{config.base_url}: {stats.requests} request(s), {calls}",
    )


# ---- destination, working dir, models ---------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_duckdb(path: Path) -> Check:
    directory = path.absolute().parent
    if not directory.is_dir():
        return Check(
            "destination",
            FAIL,
            f"duckdb: directory {directory} does not exist; create it or pass --duckdb-path",
        )
    if not os.access(directory, os.W_OK):
        return Check("destination", FAIL, f"duckdb: directory {directory} is not writable")
    if not path.exists():
        return Check(
            "destination",
            PASS,
            f"duckdb: {path} will be created by the first sync ({directory} is writable)",
        )
    if not os.access(path, os.R_OK | os.W_OK):
        return Check("destination", FAIL, f"duckdb: {path} is not readable and writable")
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            conn.execute("SELECT 1").fetchall()
    except Exception as exc:  # noqa: BLE001
        text = str(exc)
        if "lock" in text.lower():
            return Check(
                "destination",
                WARN,
                f"duckdb: {path} is in use by another process (a sync running?); not opened",
            )
        return Check("destination", FAIL, f"duckdb: {path} does not open: {_first_line(exc)}")
    size_mb = path.stat().st_size / 1024**2
    return Check("destination", PASS, f"duckdb: {path} opens ({size_mb:.1f} MB)")


def check_sql_destination(args: argparse.Namespace, name: str, dataset: str) -> Check:
    try:
        with open_pipeline(args, name, dataset) as pipeline, pipeline.sql_client() as client:
            client.execute_sql("SELECT 1")
            exists = client.has_dataset()
    except ConfigFieldMissingException as exc:  # the words `sync` uses (pipelines/checks.py)
        line = (explain_config_error(exc) or (2, str(exc)))[1]
        return Check("destination", FAIL, f"{args.destination}: {line}")
    except Exception as exc:  # noqa: BLE001
        known = explain_config_error(exc) or explain_config_error(exc.__cause__ or exc)
        if known is not None:
            return Check("destination", FAIL, f"{args.destination}: {known[1]}")
        return Check(
            "destination",
            FAIL,
            f"{args.destination}: cannot connect: {_first_line(exc)}; check "
            f"destination.{args.destination}.credentials",
        )
    state = "exists" if exists else "does not exist yet (the first sync creates it)"
    return Check(
        "destination",
        PASS,
        f"{args.destination}: SELECT 1 ran; dataset {pipeline.dataset_name} {state}",
    )


def check_company(args: argparse.Namespace, name: str, dataset: str, config: Any) -> Check:
    """Whose data the dataset holds (dlt state in the destination) against the credentials:
    what the sync would refuse, said before it runs. Read into a throwaway working dir."""
    is_duckdb = args.destination == "duckdb"
    if is_duckdb and not Path(dlt_config.duckdb_path(args.duckdb_path, name)).exists():
        return Check("company", PASS, "no dataset yet: the first sync records its company")
    try:
        with open_pipeline(args, name, dataset) as pipeline:
            pipeline.sync_destination()  # the state restored from the destination
            source_state = pipeline.state.get("sources", {}).get("learning360", {})
            stored = CompanyRecord.from_state(source_state.get(STATE_KEY))
    except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
        return Check("company", WARN, f"not checked: {_first_line(exc)}")
    if stored is None:
        return Check("company", PASS, f"dataset {dataset} records no company yet")
    version = (config.api_version or "v1").strip().lower()
    company_id = str(getattr(config.credentials, "company_id", None) or "").strip()
    if version == "v2" or not company_id:
        return Check(
            "company", PASS, f"dataset {dataset} holds {stored.label} (v2: the sync compares)"
        )
    now = CompanyRecord("v1", company_id=company_id)
    if stored.same_company(now) is False:
        return Check("company", FAIL, mismatch_message(dataset, stored, now))
    return Check("company", PASS, f"dataset {dataset} holds {stored.label}, as configured")


def check_pipelines_dir(pipelines_dir: str, name: str) -> Check:
    working = Path(pipelines_dir) / name
    existing = _nearest_existing(working)
    if not existing.is_dir():
        return Check("pipelines dir", FAIL, f"{existing} is not a directory; pass --pipelines-dir")
    if not os.access(existing, os.W_OK):
        return Check(
            "pipelines dir",
            FAIL,
            f"{existing} is not writable (dlt keeps state and load packages there); pass --pipelines-dir",
        )
    state = "has this pipeline's state" if (working / "state.json").exists() else "no state yet"
    return Check("pipelines dir", PASS, f"{working} is writable ({state})")


def check_cursors(pipelines_dir: str, name: str) -> Check | None:
    """A cursor in the local state that is not a timestamp (None when there is no state)."""
    try:
        state = json.loads((Path(pipelines_dir) / name / "state.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    bad = [c for c in cursors_of(state) if not c.valid]
    if bad:
        shown = ", ".join(f"{c.resource}.{c.cursor} = {str(c.last_value)[:40]!r}" for c in bad)
        return Check(
            "cursors",
            FAIL,
            f"not a timestamp: {shown}; the next `learning360 sync` resets it with a warning",
        )
    return Check("cursors", PASS, "every incremental cursor is a timestamp")


def check_models() -> Check:
    try:
        order = model_order()
    except Exception as exc:  # noqa: BLE001
        return Check("models", FAIL, f"{_first_line(exc)} (pipelines/models/*.sql)")
    if not order:
        return Check("models", FAIL, f"no *.sql model in {MODELS_DIR}")
    return Check("models", PASS, f"{len(order)} derived tables in {MODELS_DIR}: {', '.join(order)}")


# ---- the command ----------------------------------------------------------------------------


def run_checks(args: argparse.Namespace) -> list[Check]:
    name = args.pipeline_name or PIPELINE_NAME
    dataset = dlt_config.dataset_name(args.dataset_name, name, DATASET_NAME)
    checks: list[Check] = []
    try:
        config = resolve_source_config()
    except Exception as exc:  # noqa: BLE001 - e.g. a value that does not coerce to its type
        config = None
        known = explain_config_error(exc)  # the line `sync` prints for it
        line = known[1] if known else f"{_first_line(exc)} in [sources.learning360]"
        checks.append(Check("config", FAIL, line))
    if config is not None:
        config_check, can_try = check_config(config)
        try:  # dlt's [runtime] request settings and duckdb_memory_limit, as `sync` checks them
            check_runtime_settings()
            duckdb_memory_limit()
        except Exception as exc:  # noqa: BLE001
            config_check = Check("config", FAIL, " ".join(str(exc).split()))
            can_try = False
        checks.append(config_check)
        if can_try:
            checks.append(check_credentials(config, timeout=getattr(args, "timeout", 15.0)))
        else:
            checks.append(Check("credentials", SKIP, "not checked: fix the config line first"))
    else:
        checks.append(Check("credentials", SKIP, "not checked: fix the config line first"))

    if args.destination == "duckdb":
        checks.append(check_duckdb(Path(dlt_config.duckdb_path(args.duckdb_path, name))))
    else:
        checks.append(check_sql_destination(args, name, dataset))
    if checks[-1].outcome == PASS and config is not None:
        checks.append(check_company(args, name, dataset, config))

    pipelines_dir = str(args.pipelines_dir) if args.pipelines_dir else get_dlt_pipelines_dir()
    checks.append(check_pipelines_dir(pipelines_dir, name))
    if (cursors := check_cursors(pipelines_dir, name)) is not None:
        checks.append(cursors)
    checks.append(check_models())
    checks.append(check_variants(pipelines_dir, name))
    if config is not None:
        checks.append(check_api_version(config))
    return checks


V1_SUNSET = (
    'API v1 sunsets around mid-2027: move to v2, the path for every new setup (api_version = "v2" '
    "with a v2 client_id/client_secret; docs/migration-v2.md)"
)


def check_api_version(config: Any) -> Check:
    """v2 is the path for every new setup; a v1 configuration is told of v1's sunset."""
    version = (config.api_version or "").strip().lower()
    if version == "v1":
        return Check("api version", WARN, V1_SUNSET)
    return Check("api version", PASS, f"{version or 'unset'}: the long-term path")


def check_variants(pipelines_dir: str, name: str) -> Check:
    """Values that went to variant columns (pipelines/variants.py) in the pipeline's schema."""
    schemas = Path(pipelines_dir) / name / "schemas"
    if not schemas.is_dir():
        return Check("variants", SKIP, "no local schema yet (never synced from this machine)")
    try:
        pipeline = dlt.attach(pipeline_name=name, pipelines_dir=pipelines_dir)
        schema = pipeline.default_schema if pipeline.default_schema_name else None
        found = unresolved(variant_columns(schema))
    except Exception as exc:  # noqa: BLE001 - a diagnosis, never a crash
        return Check("variants", WARN, f"schema not read: {_first_line(exc)}")
    if found:
        return Check("variants", WARN, "; ".join(describe(found)))
    return Check("variants", PASS, "no variant columns: every value fits its column's type")


def _marks(stream: Any) -> dict[str, str]:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "".join(MARKS.values()).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS
    return MARKS


def format_checks(checks: list[Check], marks: dict[str, str] | None = None) -> str:
    marks = marks or MARKS
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{marks[c.outcome]} {c.name:<{width}}  {c.detail}" for c in checks)


def run(args: argparse.Namespace) -> int:
    checks = run_checks(args)
    print(format_checks(checks, _marks(sys.stdout)))
    failed = [c.name for c in checks if c.outcome == FAIL]
    if failed:
        print(f"learning360 doctor: {len(failed)} check(s) failed: {', '.join(failed)}")
        return EXIT_CONFIG
    print("learning360 doctor: all checks passed")
    return EXIT_OK
