"""Actionable one-line exceptions.

Every message names what to fix (usually a config key and its env var) and never contains a
secret: messages are built from error codes and route templates, and anything taken from the
wire goes through :func:`.redaction.redact` first. The client raises these *outside* the
``except`` block of the underlying ``requests`` error so neither ``__cause__`` nor
``__context__`` can carry a URL with ``apiKey=...`` into dlt's trace; dlt's own
``PipelineStepFailed`` wraps them with ``__cause__`` intact, so a CLI can unwrap and print
``str(exc)``.
"""

from __future__ import annotations

from .redaction import redact

CONFIG_SECTION = "sources.learning360"


def config_key(*path: str) -> str:
    """``config_key("credentials", "api_key")`` -> the toml key plus the env var that sets it."""
    dotted = ".".join((CONFIG_SECTION, *path))
    env = "__".join(part.upper() for part in dotted.split("."))
    return f"{dotted} (env {env})"


class Learning360Error(Exception):
    """Base class; ``str(exc)`` is a complete, secret-free, one-line explanation."""

    def one_line(self) -> str:
        return " ".join(str(self).split())


class ConfigurationError(Learning360Error):
    """A config value the source cannot work with (bad api_version, auth_method, strategy)."""


class AuthenticationError(Learning360Error):
    """360Learning refused the credentials. Never retried: retrying cannot fix a wrong key."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class PermissionDeniedError(AuthenticationError):
    """403: the credentials are valid but may not read this route."""


class ConnectionFailedError(Learning360Error):
    """The base URL could not be reached (DNS failure, connection refused, timeouts).

    ``transient``: True when retries were exhausted on a failure that may clear by itself
    (refused, reset, timeout); False for a host name that does not resolve (a typo)."""

    def __init__(self, message: str, transient: bool = True):
        super().__init__(message)
        self.transient = transient


class ApiError(Learning360Error):
    """An HTTP answer the source cannot use, after retries where retrying made sense."""

    def __init__(self, message: str, status: int | None = None, route: str | None = None):
        super().__init__(message)
        self.status = status
        self.route = route


class NotFoundError(ApiError):
    """A single item is gone (404, or 400 ``*_not_found``); callers skip it with a warning."""


class MalformedResponseError(ApiError):
    """The body was not the JSON we asked for (HTML error page, truncated stream), after retries."""


# 401 bodies of the v1 API routes, by their `error` code.
_API_401 = {
    "missing_company_id": (
        "360Learning did not receive a company id (401 missing_company_id): "
        f"set {config_key('credentials', 'company_id')}"
    ),
    "invalid_company_id": (
        "360Learning rejected the company id (401 invalid_company_id): "
        f"check {config_key('credentials', 'company_id')}"
    ),
    "invalid_api_key": (
        "360Learning rejected the API key (401 invalid_api_key): "
        f"check {config_key('credentials', 'api_key')}"
    ),
    "invalid_token": (
        "360Learning rejected the OAuth token (401 invalid_token{detail}): check "
        f"{config_key('credentials', 'company_id')} and {config_key('credentials', 'api_key')}, "
        f"or try {config_key('credentials', 'auth_method')} = header"
    ),
}

# 400/401 bodies of POST /api/v2/oauth2/token.
_TOKEN_ERRORS = {
    "invalid_request": (
        "360Learning refused the token request ({status} invalid_request): the company id or "
        f"API key is missing or malformed; check {config_key('credentials', 'company_id')} and "
        f"{config_key('credentials', 'api_key')}"
    ),
    "unsupported_grant_type": (
        "360Learning refused the token request ({status} unsupported_grant_type): this source "
        "sends grant_type=client_credentials, so the tenant does not offer OAuth; set "
        f"{config_key('credentials', 'auth_method')} = header"
    ),
    "invalid_client": (
        "360Learning rejected the API key when issuing a token ({status} invalid_client): check "
        f"{config_key('credentials', 'api_key')} and {config_key('credentials', 'company_id')} "
        "(v2 client credentials do not work with API v1)"
    ),
}


def auth_error(
    status: int, code: str | None, description: str | None = None
) -> AuthenticationError:
    """Map a 401/403 body of an API route to an actionable error."""
    if status == 403:
        return PermissionDeniedError(
            f"360Learning denied access (403 {code or 'forbidden'}): the API key of "
            f"{config_key('credentials', 'company_id')} may not read this data; ask your "
            "360Learning admin for a key with the needed rights",
            status,
            code,
        )
    template = _API_401.get(code or "")
    if template is None:
        return AuthenticationError(
            f"360Learning refused the credentials ({status} {redact(code or 'unauthorized')}): "
            f"check {config_key('credentials', 'company_id')}, "
            f"{config_key('credentials', 'api_key')} and {config_key('credentials', 'auth_method')}"
            f", and that {config_key('base_url')} is a 360Learning host",
            status,
            code,
        )
    detail = f": {redact(description)}" if description else ""
    return AuthenticationError(template.format(detail=detail), status, code)


def token_error(status: int, code: str | None) -> AuthenticationError:
    """Map a 400/401 body of the token route to an actionable error."""
    template = _TOKEN_ERRORS.get(code or "")
    if template is None:
        template = (
            "360Learning refused the token request ({status} "
            + redact(code or "no error code")
            + f"): check {config_key('credentials', 'company_id')} and "
            f"{config_key('credentials', 'api_key')}, and that {config_key('base_url')} is a "
            "360Learning host"
        )
    return AuthenticationError(template.format(status=status), status, code)


def connection_error(base_url: str, reason: str, transient: bool = True) -> ConnectionFailedError:
    return ConnectionFailedError(
        f"Cannot reach 360Learning at {redact(base_url)} ({redact(reason)}): check "
        f"{config_key('base_url')} and the network",
        transient=transient,
    )


def not_an_api_error(base_url: str, answer: str) -> ConfigurationError:
    """The host answered, but not like 360Learning (a wrong base_url or api_version)."""
    return ConfigurationError(
        f"{redact(base_url)} does not answer like the 360Learning API ({redact(answer)}): check "
        f"{config_key('base_url')} (e.g. https://app.360learning.com) and {config_key('api_version')}"
    )


def is_configuration_problem(exc: Learning360Error) -> bool:
    """True when only a change of config or credentials can fix it (exit code 2); False when
    the next run may well succeed as is (exit code 1: retries exhausted, unusable answers)."""
    if isinstance(exc, ConnectionFailedError):
        return not exc.transient
    return isinstance(exc, ConfigurationError | AuthenticationError)
