"""One line and the right exit code for every configuration mistake, the same from `sync`,
`models`, `status`, `report` and `doctor`.

Two halves:

* :func:`preflight` runs before a command opens anything: the config files parse, the
  source's settings (``base_url``, ``max_requests_per_second``, ``workers``), dlt's
  ``[runtime]`` request settings and ``duckdb_memory_limit`` hold values the pipeline can work
  with. A bad one raises :class:`ConfigurationError` naming the key (exit 2).
* :func:`explain_config_error` turns what dlt, a driver or Python raises deeper down (a
  missing key, a value that does not coerce, a missing extra, a database that refuses the
  connection) into ``(exit code, line)``; ``pipelines.explain.explain`` asks it for every
  exception of a chain. Lines name the key and its environment variable, never a secret.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration

from pipelines.exit_codes import EXIT_CONFIG, EXIT_FAILED
from sources.learning360 import learning360
from sources.learning360.defaults import SUPPORTED_API_VERSIONS
from sources.learning360.errors import ConfigurationError, config_key, redact
from sources.learning360.validation import (
    V2Options,
    credentials_problem,
    positive_number_problem,
    settings_problems,
)

# what `pip install -e '.[<extra>]'` brings, by the module a destination imports first
EXTRAS_BY_MODULE = {"google": "bigquery", "psycopg2": "postgres", "pyarrow": "parquet"}
# destination -> (extra, the module it installs)
DESTINATION_EXTRAS = {
    "bigquery": ("bigquery", "google.cloud.bigquery"),
    "postgres": ("postgres", "psycopg2"),
}
# DuckDB's memory_limit: a number and a unit (DuckDB also takes percentages of RAM)
MEMORY_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*(B|[KMGT]i?B|%)\s*$", re.IGNORECASE)
# credentials usually given whole, as one connection string (postgresql://user:pass@host/db)
CONNECTION_STRING = re.compile(r"Postgres|ConnectionString")
# errors a database driver raises that only a change of settings fixes
DATABASE_CONFIG_FAILURES = (
    "password authentication failed",
    "does not exist",
    "could not translate host name",
    "name or service not known",
    "no pg_hba.conf entry",
)
# ---- before a command: preflight ------------------------------------------------------------


def resolve_source_config() -> Any:
    """The source's configuration, resolved partially exactly where ``learning360()`` looks
    (``sources.learning360.learning360.*``, then ``sources.learning360.*``, files and env)."""
    sections = ("sources", learning360.section, learning360.name)
    return resolve_configuration(learning360.ref.SPEC(), sections=sections, accept_partial=True)


def source_problems(config: Any) -> list[str]:
    """What the source would refuse in this resolved configuration (``validation.py``, then
    the first bad v2 option from ``V2Options.checked``)."""
    problems = settings_problems(config)
    version = str(config.api_version or "").strip().lower()
    if version in SUPPORTED_API_VERSIONS and (
        problem := credentials_problem(config.credentials, version)
    ):
        problems.append(str(problem))
    try:
        V2Options.checked(config)
    except ConfigurationError as exc:
        problems.append(str(exc))
    return problems


def preflight(destination: str, *, source: bool) -> None:
    """Raises :class:`ConfigurationError` (one line, names the key) for settings no run can
    work with. ``source``: the command talks to the API (sync), so check its settings too."""
    if source:
        if problems := source_problems(resolve_source_config()):
            raise ConfigurationError(problems[0])
        check_runtime_settings()
    if destination == "duckdb":
        duckdb_memory_limit()
    extra = DESTINATION_EXTRAS.get(destination)
    if extra and not _importable(extra[1]):
        raise ConfigurationError(
            f"the {destination} destination's packages are not installed (no module "
            f"{extra[1]}): pip install -e '.[{extra[0]}]'"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def check_runtime_settings() -> None:
    """dlt's ``[runtime]`` request settings, which the client reads (``RetryPolicy``)."""
    runtime = resolve_configuration(RuntimeConfiguration())
    for name in ("request_timeout", "request_max_attempts"):
        problem = positive_number_problem(getattr(runtime, name))
        if problem:
            raise ConfigurationError(f"runtime.{name} (env RUNTIME__{name.upper()}) {problem}")
    if float(runtime.request_backoff_factor) < 0:
        raise ConfigurationError(
            "runtime.request_backoff_factor (env RUNTIME__REQUEST_BACKOFF_FACTOR) must be 0 or more"
        )


def duckdb_memory_limit() -> str | None:
    """``learning360.duckdb_memory_limit`` if set and well-formed (raises if malformed)."""
    import dlt

    value = dlt.config.get("learning360.duckdb_memory_limit")
    if value in (None, ""):
        return None
    if not MEMORY_LIMIT.match(str(value)):
        raise ConfigurationError(
            f"learning360.duckdb_memory_limit (env LEARNING360__DUCKDB_MEMORY_LIMIT) is "
            f"{value!r}; use a size like 512MB or 2GB"
        )
    return str(value).strip()


# ---- after a failure: explain -----------------------------------------------------------------


def _env_name(sections: Iterable[str], key: str) -> str:
    return "__".join(part.upper() for part in (*sections, key))


def _best_trace(traces: Iterable[Any]) -> Any:
    """The lookup a user would write: the longest section path without dlt's repeated
    source-function section (``sources.learning360.learning360``)."""
    candidates = [
        trace
        for trace in traces
        if not any(a == b for a, b in zip(trace.sections, trace.sections[1:], strict=False))
    ]
    return max(candidates or list(traces), key=lambda trace: len(trace.sections), default=None)


def missing_keys(traces: Mapping[str, Any], limit: int = 4) -> list[str]:
    """``dotted.key (env ENV_VAR)`` for each missing field, nested specs resolved to leaves."""
    from dlt.common.configuration.exceptions import LookupTraces

    found: list[str] = []
    for field, field_traces in traces.items():
        nested = [t for t in field_traces if isinstance(t, LookupTraces)]
        if nested and CONNECTION_STRING.search(nested[0].spec_name or ""):
            # given whole as one string: name that key, not its five parts
            leaf = _best_trace(next(iter(nested[0].traces.values()), []))
            if leaf is not None and leaf.sections:
                found.append(
                    f"{'.'.join(leaf.sections)} (env {_env_name(leaf.sections[:-1], leaf.sections[-1])}"
                    ", e.g. postgresql://user:password@host:5432/database)"
                )
                continue
        if nested:
            found += missing_keys(nested[0].traces, limit)
            continue
        trace = _best_trace(field_traces)
        if trace is None:
            found.append(field)
            continue
        dotted = ".".join((*trace.sections, field))
        found.append(f"{dotted} (env {_env_name(trace.sections, field)})")
    return list(dict.fromkeys(found))[:limit]


def _missing_config_line(exc: Any) -> str:
    keys = missing_keys(exc.traces)
    where = ".dlt/secrets.toml" if any("credentials" in k for k in keys) else ".dlt/config.toml"
    return f"missing configuration: {', '.join(keys)}; set it in {where} or as that env variable"


def _toml_line(exc: Any) -> str:
    """A config file that does not parse: which file, which line (tomlkit says where)."""
    import tomlkit

    for name in getattr(exc, "full_paths", None) or []:
        path = Path(name)
        if not path.is_file():
            continue
        try:
            tomlkit.parse(path.read_text(encoding="utf-8"))
        except Exception as parse_error:  # noqa: BLE001 - tomlkit's errors say line and col
            text = " ".join(str(parse_error).split())
            return f"{path} is not valid TOML: {redact(text)}; fix that line"
    return f"{exc.file_name} is not valid TOML: {redact(' '.join(str(exc).split()))}"


def _coercion_line(exc: Any) -> str:
    field = str(getattr(exc, "field_name", "") or "")
    value = getattr(exc, "field_value", None)
    hint = getattr(exc, "hint", None)
    type_name = getattr(hint, "__name__", str(hint))
    key = config_key(field) if field in _source_fields() else field
    shown = "(a secret, not shown)" if "key" in field or "secret" in field else repr(value)
    return f"{key} is {shown}, which is not a {type_name}; fix the value"


def _source_fields() -> set[str]:
    """The source function's settings (``[sources.learning360]``)."""
    return set(learning360.ref.SPEC.get_resolvable_fields())


def missing_extra(exc: BaseException) -> str | None:
    """The `pip install` line for a destination whose extra is not installed, or None."""
    module = getattr(exc, "name", None) or ""
    if isinstance(exc, ModuleNotFoundError) and module:
        extra = EXTRAS_BY_MODULE.get(module.split(".")[0])
        if extra:
            return (
                f"the {extra} destination's packages are not installed (no module {module}): "
                f"pip install -e '.[{extra}]'"
            )
    if type(exc).__name__ == "MissingDependencyException":
        text = str(exc)
        for extra in ("bigquery", "postgres"):
            if extra in text:
                return f"the {extra} destination's packages are not installed: pip install -e '.[{extra}]'"
    return None


def database_problem(exc: BaseException, destination: str | None) -> tuple[int, str] | None:
    """A database that refused the connection: host and the setting to fix, no password."""
    module = type(exc).__module__ or ""
    if not (
        module.startswith(("psycopg2", "psycopg")) and type(exc).__name__ == "OperationalError"
    ):
        return None
    text = " ".join(str(exc).strip().splitlines()[0].split()) if str(exc).strip() else ""
    where = re.search(r'server at "([^"]+)"(?: \([^)]*\))?, port (\d+)', text)
    host = f" at {where.group(1)}:{where.group(2)}" if where else ""
    reason = text.split(" failed: ", 1)[-1] if " failed: " in text else text
    reason = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", reason)
    name = destination or "postgres"
    line = (
        f"cannot connect to {name}{host} ({redact(reason)[:200]}): check "
        f"destination.{name}.credentials (env DESTINATION__{name.upper()}__CREDENTIALS)"
    )
    lowered = reason.lower()
    config = any(marker in lowered for marker in DATABASE_CONFIG_FAILURES)
    return (EXIT_CONFIG if config else EXIT_FAILED), line


def explain_config_error(
    exc: BaseException, destination: str | None = None
) -> tuple[int, str] | None:
    """``(exit code, line)`` for one exception of a chain, or None if it is not ours to say."""
    from dlt.common.configuration.exceptions import (
        ConfigFieldMissingException,
        ConfigValueCannotBeCoercedException,
    )
    from dlt.common.configuration.providers.toml import TomlProviderReadException

    if isinstance(exc, ConfigFieldMissingException):
        return EXIT_CONFIG, _missing_config_line(exc)
    if isinstance(exc, TomlProviderReadException):
        return EXIT_CONFIG, _toml_line(exc)
    if isinstance(exc, ConfigValueCannotBeCoercedException):
        return EXIT_CONFIG, _coercion_line(exc)
    extra = missing_extra(exc)
    if extra:
        return EXIT_CONFIG, extra
    return database_problem(exc, destination)
