"""v2's words for what the API refused: v2 has other credentials (``client_id``/
``client_secret``) and a scope per route, so each line names those instead of v1's keys."""

from __future__ import annotations

from .. import errors
from ..errors import (
    TOKEN_ROUTE,
    AuthenticationError,
    ConfigurationError,
    Learning360Error,
    PermissionDeniedError,
    Refusal,
    config_key,
    token_refusal,
)
from ..routes import API_VERSION, API_VERSION_HEADER, SCOPE_OF_TEMPLATE

CLIENT_ID = config_key("credentials", "client_id")
CLIENT_SECRET = config_key("credentials", "client_secret")
WHERE = "360Learning Settings → API v2"
_TOKEN_ERRORS = {
    "invalid_client": "360Learning rejected the API v2 client secret ({status} invalid_client): "
    f"check {CLIENT_SECRET}; it must be the secret of {CLIENT_ID} (from {WHERE})",
    "invalid_request": "360Learning refused the API v2 token request ({status} invalid_request): "
    f"the client id is unknown or a field is missing; check {CLIENT_ID} and {CLIENT_SECRET}",
    "unsupported_grant_type": "360Learning refused the API v2 token request ({status} "
    "unsupported_grant_type): this host does not offer client credentials; check "
    f"{config_key('base_url')}",
}


def missing_credentials(missing: list[str]) -> ConfigurationError:
    keys = " and ".join(config_key("credentials", name) for name in missing)
    return ConfigurationError(
        f"api_version v2 needs API v2 client credentials: set {keys} (create them in {WHERE}; "
        "v1's company_id/api_key do not work with v2)"
    )


def describe(refusal: Refusal) -> Learning360Error | None:
    """v2's words for a refused token request, 403 (the scope), 401 and a refused version."""
    status, code, route = refusal.status, refusal.code, refusal.route
    if route == TOKEN_ROUTE:
        return token_refusal(
            refusal,
            _TOKEN_ERRORS,
            f"360Learning refused the API v2 token request ({status} {code or 'no error code'})"
            f": check {CLIENT_ID} and {CLIENT_SECRET}",
        )
    if status == 403:
        scope = SCOPE_OF_TEMPLATE.get(route, "the route's scope")
        return PermissionDeniedError(
            f"360Learning denied GET {route} (403 {code or 'forbidden'}): the API v2 credential "
            f"{CLIENT_ID} lacks the scope {scope}; grant {scope} to it in {WHERE}, or leave the "
            f"tables that need it out with {config_key('v2_skip_tables')}",
            status,
            code,
        )
    if status == 401 and code == "invalid_token":  # only after a fresh token was refused too
        return AuthenticationError(
            f"360Learning rejected the API v2 access token (401 {code}) even after fetching a "
            f"new one: check {CLIENT_ID} and {CLIENT_SECRET} (the credential may have been "
            f"revoked in {WHERE})",
            status,
            code,
        )
    if status == 400 and code == "invalidApiVersion":
        return ConfigurationError(
            f"360Learning refused the API version (400 invalidApiVersion) on GET {route}: this "
            f"source sends {API_VERSION_HEADER}: {API_VERSION}; check {config_key('base_url')} "
            f'serves API v2, or set {config_key("api_version")} = "v1"'
        )
    return errors.describe(refusal)
