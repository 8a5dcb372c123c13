"""One-line v2 errors: each names the credential key or the scope to fix.

The shared client maps HTTP answers to v1 wording (``..errors``: "check api_key"); the v2
adapter re-maps those by status and code to v2 wording, because v2 has other credentials
(``client_id``/``client_secret``) and per-credential scopes. Messages are built from codes
and route templates only, never from secrets.
"""

from __future__ import annotations

from ..errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    Learning360Error,
    PermissionDeniedError,
    config_key,
)
from ..routes import API_VERSION, API_VERSION_HEADER, SCOPE_OF_TEMPLATE

CLIENT_ID = config_key("credentials", "client_id")
CLIENT_SECRET = config_key("credentials", "client_secret")
WHERE = "360Learning Settings → API v2"


def missing_credentials(missing: list[str]) -> ConfigurationError:
    keys = " and ".join(config_key("credentials", name) for name in missing)
    return ConfigurationError(
        f"api_version v2 needs API v2 client credentials: set {keys} (create them in {WHERE}; "
        "v1's company_id/api_key do not work with v2)"
    )


def token_error(status: int | None, code: str | None) -> AuthenticationError:
    """A 400/401 of ``POST /api/v2/oauth2/token`` for v2 client credentials."""
    if code == "invalid_client":
        text = (
            f"360Learning rejected the API v2 client secret ({status} invalid_client): check "
            f"{CLIENT_SECRET}; it must be the secret of {CLIENT_ID} (from {WHERE})"
        )
    elif code == "invalid_request":
        text = (
            f"360Learning refused the API v2 token request ({status} invalid_request): the "
            f"client id is unknown or a field is missing; check {CLIENT_ID} and {CLIENT_SECRET}"
        )
    elif code == "unsupported_grant_type":
        text = (
            f"360Learning refused the API v2 token request ({status} unsupported_grant_type): "
            f"this host does not offer client credentials; check {config_key('base_url')}"
        )
    else:
        text = (
            f"360Learning refused the API v2 token request ({status} {code or 'no error code'}): "
            f"check {CLIENT_ID} and {CLIENT_SECRET}"
        )
    return AuthenticationError(text, status, code)


def no_access_token() -> AuthenticationError:
    return AuthenticationError(
        "360Learning's token route answered without an access_token: check "
        f"{config_key('base_url')} points at a 360Learning host"
    )


def resource_error(exc: Learning360Error, template: str) -> Learning360Error:
    """Re-word a shared-client error of a v2 resource call (``template``: the route template)."""
    if isinstance(exc, PermissionDeniedError) or (
        isinstance(exc, AuthenticationError) and exc.status == 403
    ):
        scope = SCOPE_OF_TEMPLATE.get(template, "the route's scope")
        return PermissionDeniedError(
            f"360Learning denied GET {template} (403 {exc.code or 'forbidden'}): the API v2 "
            f"credential {CLIENT_ID} lacks the scope {scope}; grant {scope} to it in {WHERE}, "
            f"or leave the tables that need it out with {config_key('v2_skip_tables')}",
            exc.status,
            exc.code,
        )
    if isinstance(exc, AuthenticationError) and exc.status == 401 and exc.code == "invalid_token":
        return AuthenticationError(
            f"360Learning rejected the API v2 access token (401 {exc.code or 'unauthorized'}) "
            f"even after fetching a new one: check {CLIENT_ID} and {CLIENT_SECRET} (the "
            f"credential may have been revoked in {WHERE})",
            exc.status,
            exc.code,
        )
    if isinstance(exc, ApiError) and exc.status == 400 and "invalidApiVersion" in str(exc):
        return ConfigurationError(
            f"360Learning refused the API version (400 invalidApiVersion) on GET {template}: "
            f"this source sends {API_VERSION_HEADER}: {API_VERSION}; check "
            f'{config_key("base_url")} serves API v2, or set {config_key("api_version")} = "v1"'
        )
    return exc
