"""One-line, secret-free exceptions naming the key to fix, each API version's words for what
the API refused (the client raises a neutral :class:`Refusal`), and :func:`redact`, which masks
secrets by pattern and literal (``requests`` and ``urllib3`` log whole URLs, with ``apiKey``)."""

from __future__ import annotations

import logging
import re
import threading
from collections import namedtuple
from collections.abc import Mapping
from typing import Any

from .routes import API_VERSION, API_VERSION_HEADER, SCOPE_OF_TEMPLATE

MASK = "***"

_RULES = (
    # query strings and form bodies: apiKey=..., client_secret=..., access_token=...
    (r"(?i)\b(apikey|api_key|client_secret|access_token|token)=[^&\s'\"#]+", rf"\1={MASK}"),
    # headers as printed in dicts or raw: 'X-apiKey': '...', Authorization: Bearer ...
    (
        r"(?i)(['\"]?(?:x-apikey|authorization)['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+)?[^'\"\s,}]+",
        rf"\1{MASK}",
    ),
    # JSON bodies: "client_secret": "...", "access_token": "...", "apiKey": "..."
    (r"(?i)(\"(?:client_secret|access_token|api_?key)\"\s*:\s*\")[^\"]*", rf"\1{MASK}"),
    (r"(?i)(\bbearer\s+)[A-Za-z0-9\-_\.=]+", rf"\1{MASK}"),  # a bare bearer token
)
_PATTERNS = tuple((re.compile(pattern), replacement) for pattern, replacement in _RULES)
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this literal everywhere from now on (tiny strings would shred ordinary text)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    result = str(text)
    for pattern, replacement in _PATTERNS:
        result = pattern.sub(replacement, result)
    with _lock:
        literals = sorted(_secrets, key=len, reverse=True)
    for literal in literals:
        result = result.replace(literal, MASK)
    return result


class RedactingFilter(logging.Filter):
    """Redacts the formatted message of a log record (urllib3 logs full URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filter() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


TOKEN_ROUTE = "POST /api/v2/oauth2/token"


def config_key(*path: str) -> str:
    """``config_key("credentials", "api_key")`` -> the toml key plus the env var that sets it."""
    dotted = ".".join(("sources.learning360", *path))
    return f"{dotted} (env {dotted.replace('.', '__').upper()})"


class Learning360Error(Exception):
    """``str(exc)``: a complete, secret-free line; ``status``, ``code``, ``route`` of an answer."""

    def __init__(
        self, message: str, status: int | None = None, code: str | None = None, *, route=None
    ):
        super().__init__(message)
        self.status, self.code, self.route = status, code, route

    def one_line(self) -> str:
        return " ".join(str(self).split())


class ConfigurationError(Learning360Error):
    """A value only a change of config can fix (exit 2)."""


class AuthenticationError(Learning360Error):
    """360Learning refused the credentials; never retried."""


class PermissionDeniedError(AuthenticationError):
    """403: valid credentials that may not read this route."""


class ConnectionFailedError(Learning360Error):
    """The host could not be reached; ``transient`` is False for a typo (DNS, TLS, never up)."""

    def __init__(self, message: str, transient: bool = True):
        super().__init__(message)
        self.transient = transient


class ApiError(Learning360Error):
    """An HTTP answer the source cannot use, after retries where retrying made sense."""


class NotFoundError(ApiError):
    """A single item is gone (404, or 400 ``*_not_found``); callers skip it with a warning."""


class MalformedResponseError(ApiError):
    """The body was not the JSON asked for (HTML page, truncated stream), after retries."""


class UnexpectedBodyError(MalformedResponseError):
    """One item's body stayed valid JSON of the wrong type: the caller quarantines the item."""


# what the API refused, neutral (route: the template, or TOKEN_ROUTE); describe() words it
Refusal = namedtuple("Refusal", "status code description route method", defaults=("GET",))


def error_code(body: Any) -> tuple[str | None, str | None]:
    """``(code, description)`` of ``{"error": "x" | {"code": "x"}}`` or ``{"message": ...}``."""
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error")
    if isinstance(error, Mapping):
        code, description = error.get("code"), error.get("message")
    else:
        code, description = error, body.get("error_description") or body.get("message")
    return tuple(v if isinstance(v, str) and v else None for v in (code, description))


def is_not_found(status: int, body: Any) -> bool:
    """Any 404, or a 400 whose code ends in ``not_found`` (v1's ``400 user_not_found``)."""
    code = (error_code(body)[0] or "").lower().replace("notfound", "_not_found")
    return status == 404 or (status == 400 and code.endswith("not_found"))


COMPANY_ID = config_key("credentials", "company_id")
API_KEY = config_key("credentials", "api_key")
AUTH_METHOD = config_key("credentials", "auth_method")
BASE_URL = config_key("base_url")

# 401 bodies of the v1 API routes, by their `error` code ("": any other)
_API_401 = {
    "": "360Learning refused the credentials (401 {code}): check "
    f"{COMPANY_ID}, {API_KEY} and {AUTH_METHOD}, and that {BASE_URL} is a 360Learning host",
    "missing_company_id": "360Learning did not receive a company id (401 missing_company_id): "
    f"set {COMPANY_ID}",
    "invalid_company_id": "360Learning rejected the company id (401 invalid_company_id): "
    f"check {COMPANY_ID}",
    "invalid_api_key": f"360Learning rejected the API key (401 invalid_api_key): check {API_KEY}",
    "invalid_token": "360Learning rejected the OAuth token (401 invalid_token{detail}): check "
    f"{COMPANY_ID} and {API_KEY}, or try {AUTH_METHOD} = header",
}
CLIENT_ID = config_key("credentials", "client_id")
CLIENT_SECRET = config_key("credentials", "client_secret")
WHERE = "360Learning Settings → API v2"
_V2_401 = {  # invalid_token: only after a fresh token was refused too
    **_API_401,
    "invalid_token": "360Learning rejected the API v2 access token (401 invalid_token) even "
    f"after fetching a new one: check {CLIENT_ID} and {CLIENT_SECRET} (the credential may have "
    f"been revoked in {WHERE})",
}
# 400/401 bodies of the token route, per API version, by their `error` code ("": any other)
_TOKEN_ERRORS = {
    "v1": {
        "invalid_request": "360Learning refused the token request ({status} invalid_request): "
        f"the company id or API key is missing or malformed; check {COMPANY_ID} and {API_KEY}",
        "unsupported_grant_type": "360Learning refused the token request ({status} "
        "unsupported_grant_type): this source sends grant_type=client_credentials, so the tenant "
        f"does not offer OAuth; set {AUTH_METHOD} = header",
        "invalid_client": "360Learning rejected the API key when issuing a token ({status} "
        f"invalid_client): check {API_KEY} and {COMPANY_ID} (v2 client credentials do not work "
        "with API v1)",
        "": "360Learning refused the token request ({status} {code}): check "
        f"{COMPANY_ID} and {API_KEY}, and that {BASE_URL} is a 360Learning host",
    },
    "v2": {
        "invalid_client": "360Learning rejected the API v2 client secret ({status} "
        f"invalid_client): check {CLIENT_SECRET}; it must be the secret of {CLIENT_ID} (from "
        f"{WHERE})",
        "invalid_request": "360Learning refused the API v2 token request ({status} "
        "invalid_request): the client id is unknown or a field is missing; check "
        f"{CLIENT_ID} and {CLIENT_SECRET}",
        "unsupported_grant_type": "360Learning refused the API v2 token request ({status} "
        "unsupported_grant_type): this host does not offer client credentials; check "
        f"{BASE_URL}",
        "": "360Learning refused the API v2 token request ({status} {code}): check "
        f"{CLIENT_ID} and {CLIENT_SECRET}",
    },
}


def describe(api_version: str, refusal: Refusal) -> Learning360Error:
    """Each version's words for a refused token request, 401 or 403 (v2: its client credentials,
    a scope per route); any other refusal quoted as it came."""
    status, code, route = refusal.status, refusal.code, refusal.route
    label = f"{refusal.method} {route}"  # GET, or a webhook write (pipelines/webhooks.py)
    v2 = api_version == "v2"
    detail = f": {redact(refusal.description)}" if refusal.description else ""
    if route == TOKEN_ROUTE:
        known, unnamed = _TOKEN_ERRORS[api_version], "no error code"
    elif status == 403:
        scope = SCOPE_OF_TEMPLATE.get(route, "the route's scope")
        denied = f"403 {code or 'forbidden'}"
        return PermissionDeniedError(
            f"360Learning denied {label} ({denied}): the API v2 credential {CLIENT_ID} lacks "
            f"the scope {scope}; grant {scope} to it in {WHERE}, or leave the tables that need it "
            f"out with {config_key('v2_skip_tables')}"
            if v2
            else f"360Learning denied access ({denied}): the API key of {COMPANY_ID} may not read "
            "this data; ask your 360Learning admin for a key with the needed rights",
            status,
            code,
        )
    elif v2 and status == 400 and code == "invalidApiVersion":
        return ConfigurationError(
            f"360Learning refused the API version (400 invalidApiVersion) on {label}: this "
            f"source sends {API_VERSION_HEADER}: {API_VERSION}; check {BASE_URL} "
            f'serves API v2, or set {config_key("api_version")} = "v1"'
        )
    elif status != 401:  # the token route answers only 400 or 401 here (client._attempt)
        message = f"360Learning answered {status} {redact(code or '')} to {label}".rstrip()
        return ApiError(message + detail, status, code, route=label)
    else:
        known, unnamed = (_V2_401 if v2 else _API_401), "unauthorized"
    template = known.get(code or "") or known[""]
    message = template.format(status=status, detail=detail, code=redact(code or unnamed))
    return AuthenticationError(message, status, code)


def connection_error(base_url: str, reason: str, transient: bool = True) -> ConnectionFailedError:
    return ConnectionFailedError(
        f"Cannot reach 360Learning at {redact(base_url)} ({redact(reason)}): check {BASE_URL} "
        "and the network",
        transient=transient,
    )


def not_an_api_error(base_url: str, answer: str) -> ConfigurationError:
    """The host answered, but not like 360Learning (a wrong base_url or api_version)."""
    return ConfigurationError(
        f"{redact(base_url)} does not answer like the 360Learning API ({redact(answer)}): check "
        f"{BASE_URL} (e.g. https://app.360learning.com) and {config_key('api_version')}"
    )
