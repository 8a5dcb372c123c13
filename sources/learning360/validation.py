"""Settings the source cannot work with, refused before any request (exit 2 in the CLI) in
the same words by the source, ``doctor`` and the CLI's pre-flight; never quoting a password."""

from __future__ import annotations

import contextlib
import math
from typing import Any
from urllib.parse import urlsplit

from .defaults import STRATEGIES, SUPPORTED_API_VERSIONS
from .errors import WHERE, ConfigurationError, config_key, register_secret

AUTH_METHODS = ("oauth", "header", "query")


def base_url_problem(base_url: Any) -> str | None:
    """Why ``base_url`` is not a bare ``http(s)://host[:port]``, or None."""
    if not isinstance(base_url, str) or not base_url.strip():
        return "is empty"
    if base_url != base_url.strip():
        return "has surrounding spaces"
    try:
        parts = urlsplit(base_url)
        _ = parts.port  # raises on a non-numeric port
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http:// for a local emulator)"
    if parts.username or parts.password:
        register_secret(parts.password)  # masked wherever a later line might still quote it
        return "must not carry a user or password (credentials go in credentials.*)"
    if not parts.hostname:
        return "has no host name"
    if parts.query or parts.fragment:
        return "must not have a query string or fragment"
    if parts.path.strip("/"):
        hint = " (drop the /api/... part: the source adds it)" if "api" in parts.path else ""
        return f"must be the host only, not a path like {parts.path!r}{hint}"
    return None


def positive_number_problem(value: Any) -> str | None:
    """Why ``value`` is not a finite number above zero, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"is {value!r}, not a number"
    if not math.isfinite(number) or number <= 0:
        return f"is {value!r}; it must be above 0"
    return None


def _days_problem(key: str, value: Any, unit: str = "days") -> str | None:
    with contextlib.suppress(TypeError, ValueError):
        if float(value) >= 0:  # False for NaN too
            return None
    return (
        f"{key} {value!r} is not a number of {unit}: set {config_key(key)} to 0 (every run) or more"
    )


def days_setting(key: str, value: Any, unit: str = "days") -> float:
    """A refresh window ≥ 0 (0 = every run), or a configuration error."""
    if problem := _days_problem(key, value, unit):
        raise ConfigurationError(problem)
    return float(value)


def settings_problems(
    base_url: Any, api_version: Any, rate: Any, workers: Any, courses: Any, programs: Any, days: Any
) -> list[str]:
    """Every source setting no run can work with, one line each, in the source's order. A zero
    rate is refused, not read as "no limit": a typo must not become a 429 storm."""
    problems = []
    if problem := base_url_problem(base_url):
        problems.append(f"{config_key('base_url')} {problem}")
    if problem := positive_number_problem(rate):
        key = config_key("max_requests_per_second")
        problems.append(f"{key} {problem} (the API allows 50 GET/s)")
    try:
        whole = int(str(workers))
    except (TypeError, ValueError):
        whole = 0
    if whole < 1:
        problems.append(f"{config_key('workers')} is {workers!r}; it must be 1 or more")
    if str(api_version or "").strip().lower() not in SUPPORTED_API_VERSIONS:
        problems.append(
            f"api_version {api_version!r} is not supported (supported: "
            f'{", ".join(SUPPORTED_API_VERSIONS)}): set {config_key("api_version")} = "v1"'
        )
    allowed = ", ".join(STRATEGIES)
    for key, value in (("user_courses_strategy", courses), ("user_programs_strategy", programs)):
        if value not in STRATEGIES:
            problems.append(
                f"{key} {value!r} is unknown: set {config_key(key)} to one of {allowed}"
            )
    if problem := _days_problem("user_details_refresh_days", days):
        problems.append(problem)
    return problems


def check_settings(*args: Any) -> None:
    if problems := settings_problems(*args):
        raise ConfigurationError(problems[0])


def auth_method(value: str | None) -> str:
    """A v1 ``auth_method`` normalised, or a configuration error naming the key."""
    method = (value or "oauth").strip().lower()
    if method not in AUTH_METHODS:
        raise ConfigurationError(
            f"Unknown auth_method {value!r}: set {config_key('credentials', 'auth_method')} to "
            f"one of {', '.join(AUTH_METHODS)}"
        )
    return method


def credentials_problem(credentials: Any, api_version: str) -> ConfigurationError | None:
    """What the credentials lack for this API version (an empty value is missing), or None."""
    names = ("client_id", "client_secret") if api_version == "v2" else ("company_id", "api_key")
    missing = [n for n in names if not str(getattr(credentials, n, None) or "").strip()]
    if missing and api_version == "v2":
        keys = " and ".join(config_key("credentials", name) for name in missing)
        return ConfigurationError(
            f"api_version v2 needs API v2 client credentials: set {keys} (create them in {WHERE}; "
            "v1's company_id/api_key do not work with v2)"
        )
    if missing:
        v2_hint = (
            f' (or, for the v2 client id/secret you set, {config_key("api_version")} = "v2")'
            if getattr(credentials, "client_id", None)
            else ""
        )
        return ConfigurationError(
            f"missing configuration: {config_key('credentials', missing[0])}; set it in "
            f".dlt/secrets.toml or as that env variable{v2_hint}"
        )
    try:
        if api_version != "v2":
            auth_method(getattr(credentials, "auth_method", None))
    except ConfigurationError as exc:
        return exc
    return None
