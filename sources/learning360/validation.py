"""Settings the source cannot work with, refused before any request (exit 2 in the CLI).

Shared by the source function, ``learning360 doctor`` and the CLI's pre-flight
(``pipelines/checks.py``), so every command refuses the same values with the same words. The
messages name the key and never quote a URL that may carry a password.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError, config_key
from .redaction import register_secret


def base_url_problem(base_url: Any) -> str | None:
    """Why ``base_url`` is not a bare ``http(s)://host[:port]``, or None."""
    if not isinstance(base_url, str) or not base_url.strip():
        return "is empty"
    if base_url != base_url.strip():
        return "has surrounding spaces"
    try:
        parts = urlsplit(base_url)
        port = parts.port  # raises on a non-numeric port
    except ValueError as exc:
        return f"is not a URL ({exc})"
    del port
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http:// for a local emulator)"
    if parts.username or parts.password:
        if parts.password:  # masked wherever a later line might still quote it
            register_secret(parts.password)
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


def days_setting(key: str, value: Any, unit: str = "days") -> float:
    """``value`` as a number of ``unit`` ≥ 0 (0 = every run) for the refresh windows, or a
    :class:`ConfigurationError` naming ``key``."""
    try:
        days = float(value)
    except (TypeError, ValueError):
        days = -1.0
    if not days >= 0:  # NaN too
        raise ConfigurationError(
            f"{key} {value!r} is not a number of {unit}: set {config_key(key)} to 0 "
            "(every run) or more"
        )
    return days


def check_source_settings(base_url: Any, max_requests_per_second: Any, workers: Any) -> None:
    """Raises :class:`ConfigurationError` naming the first key the source cannot work with.

    A zero or negative rate is refused rather than read as "no limit": the API allows 50 GET/s
    per company and a limiter silently switched off would turn a typo into a 429 storm."""
    problem = base_url_problem(base_url)
    if problem:
        raise ConfigurationError(f"{config_key('base_url')} {problem}")
    problem = positive_number_problem(max_requests_per_second)
    if problem:
        raise ConfigurationError(
            f"{config_key('max_requests_per_second')} {problem} (the API allows 50 GET/s)"
        )
    try:
        whole = int(str(workers))
    except (TypeError, ValueError):
        whole = 0
    if whole < 1:
        raise ConfigurationError(f"{config_key('workers')} is {workers!r}; it must be 1 or more")
