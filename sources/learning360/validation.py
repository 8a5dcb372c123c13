"""Settings and credentials the source cannot work with, refused before any request (exit 2 in
the CLI) in the same words by the source, ``doctor`` and the CLI's pre-flight; never quoting a
password."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from .defaults import STRATEGIES, SUPPORTED_API_VERSIONS
from .errors import WHERE, ConfigurationError, config_key, register_secret
from .tables import V2_TABLES

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
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"is {value!r}, not a number"
    if not math.isfinite(number) or number <= 0:
        return f"is {value!r}; it must be above 0"
    return None


def _window(key: str, value: Any) -> float:
    """A refresh window ≥ 0 (0: every run), in the unit its key ends with (days or hours)."""
    with contextlib.suppress(TypeError, ValueError):
        if float(value) >= 0:  # False for NaN too
            return float(value)
    raise ConfigurationError(
        f"{key} {value!r} is not a number of {key.rsplit('_', 1)[-1]}: set {config_key(key)} to 0 "
        "(every run) or more"
    )


def settings_problems(settings: Mapping[str, Any]) -> list[str]:
    """Every setting of ``learning360()`` (by argument name) no run can work with, one line each;
    a zero rate is refused, not read as "no limit" (a typo must not become a 429 storm)."""
    problems = []
    if problem := base_url_problem(settings["base_url"]):
        problems.append(f"{config_key('base_url')} {problem}")
    if problem := positive_number_problem(settings["max_requests_per_second"]):
        key = config_key("max_requests_per_second")
        problems.append(f"{key} {problem} (the API allows 50 GET/s)")
    version, workers = settings["api_version"], settings["workers"]
    whole = 0
    with contextlib.suppress(TypeError, ValueError):
        whole = int(str(workers))
    if whole < 1:
        problems.append(f"{config_key('workers')} is {workers!r}; it must be 1 or more")
    if str(version or "").strip().lower() not in SUPPORTED_API_VERSIONS:
        problems.append(
            f"api_version {version!r} is not supported (supported: "
            f'{", ".join(SUPPORTED_API_VERSIONS)}): set {config_key("api_version")} = "v1"'
        )
    known = ", ".join(STRATEGIES)
    for key in ("user_courses_strategy", "user_programs_strategy"):
        if (value := settings[key]) not in STRATEGIES:
            problems.append(f"{key} {value!r} is unknown: set {config_key(key)} to one of {known}")
    try:
        _window("user_details_refresh_days", settings["user_details_refresh_days"])
    except ConfigurationError as exc:
        problems.append(str(exc))
    return problems


@dataclass(frozen=True)
class V2Options:
    """The v2-only settings, named as the arguments of ``learning360()``."""

    user_courses_full_read_hours: float
    v2_user_refresh_days: float
    v2_group_refresh_days: float
    v2_skip_tables: frozenset[str]
    change_feed: bool
    change_feed_reconcile_hours: float
    change_feed_retention_hours: float

    @classmethod
    def checked(cls, settings: Mapping[str, Any]) -> V2Options:
        checks = {"v2_skip_tables": _skip_tables, "change_feed": _change_feed_on}
        names = [field.name for field in fields(cls)]
        return cls(**{key: checks.get(key, _window)(key, settings[key]) for key in names})


def _skip_tables(key: str, value: Any) -> frozenset[str]:
    names = value.split(",") if isinstance(value, str) else list(value or ())
    chosen = frozenset(str(name).strip() for name in names if str(name).strip())
    if unknown := chosen - set(V2_TABLES):
        raise ConfigurationError(
            f"{key} names unknown table(s) {', '.join(sorted(unknown))}: set {config_key(key)} "
            f"to some of {', '.join(V2_TABLES)}"
        )
    return chosen


def _change_feed_on(key: str, value: Any) -> bool:
    text = str(value or "").strip().lower()
    if text not in ("", "off", "none", "false", "webhooks"):
        raise ConfigurationError(
            f'{key} {value!r} is unknown: set {config_key(key)} to "webhooks" or remove it'
        )
    return text == "webhooks"


def auth_method(value: str | None) -> str:
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
        v2 = getattr(credentials, "client_id", None)
        hint = f' (or, for the v2 client id/secret you set, {config_key("api_version")} = "v2")'
        return ConfigurationError(
            f"missing configuration: {config_key('credentials', missing[0])}; set it in "
            f".dlt/secrets.toml or as that env variable{hint if v2 else ''}"
        )
    try:
        if api_version != "v2":
            auth_method(getattr(credentials, "auth_method", None))
    except ConfigurationError as exc:
        return exc
    return None
