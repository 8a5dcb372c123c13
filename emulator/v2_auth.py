"""API v2 authentication (reference §2.2, §7): OAuth2 client credentials, then
`Authorization: Bearer <token>` plus `360-api-version: v2.0` on every resource call.

- `POST /api/v2/oauth2/token` is shared with v1. A body whose `client_id` is the server's v2
  client id takes the v2 flow below; any other body takes v1's flow (auth.token_endpoint), so an
  unknown client id is v1's `400 invalid_request`.
  v2 flow, in this order: `grant_type` missing → 400 invalid_request; not `client_credentials`
  → 400 unsupported_grant_type; `client_secret` missing → 400 invalid_request; wrong → 401
  invalid_client; an optional `company_id` other than the tenant's → 400 invalid_request; an
  optional `user_id` that is no user → 400 non_existing_user. 200 `{"token_type":"Bearer",
  "access_token","expires_in"}`; `expires_in` is a number (the OpenAPI type), a string in
  variant mode (as the guides print it).
- v2 tokens are HS256 JWTs signed with their own secret (v1 tokens with another), with claims
  `api: "v2"` and `scope` (space-separated, the credential's scopes). So a v1 token on a v2 route
  and a v2 token on a v1 route both fail as 401 `invalid_token`; v1 API keys are ignored on v2.
- Resource calls are checked in this order: version header (missing or not exactly `v2.0` →
  400 `{"error":{"code":"invalidApiVersion","message"}}`), then the token (missing, malformed,
  foreign, expired → 401 `{"error":"invalid_token"}`), then the route's scope (→ 403
  `{"error":{"code":"invalid_scope","message"}}`). The rate limit comes after (server.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from .auth import Tokens
from .responses import Reply, error_reply, json_reply

API_VERSION = "v2.0"
VERSION_HEADER = "360-api-version"
#: every scope a v2 route of the emulator needs (a credential has all of them by default)
ALL_SCOPES = (
    "courses:read",
    "courseStats:read",
    "users:read",
    "groups:read",
    "paths:read",
    "pathStats:read",
    "skills:read",
    "skillsPowers:read",
    "certificateOutlines:read",
    "customFields:read",
    "classrooms:read",
    # the Webhook API (webhooks.py)
    "webhooks:read",
    "webhooks:write",
    "webhookSecrets:read",
)


def v2_error(status: int, code: str, message: str) -> Reply:
    return json_reply({"error": {"code": code, "message": message}}, status)


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(scopes)
    unknown = chosen - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown v2 scope(s): {sorted(unknown)}; known: {list(ALL_SCOPES)}")
    return chosen


def v2_token_endpoint(
    data: Mapping[str, Any],
    client_secret: str,
    scopes: frozenset[str],
    company_id: str,
    user_ids: Mapping[str, Any],
    tokens: Tokens,
    expires_as_string: bool,
) -> Reply:
    """The v2 flow of `POST /api/v2/oauth2/token` (the caller matched `client_id`)."""
    grant = data.get("grant_type")
    if not grant:
        return error_reply(400, "invalid_request")
    if grant != "client_credentials":
        return error_reply(400, "unsupported_grant_type")
    secret = data.get("client_secret")
    if not secret or not isinstance(secret, str):
        return error_reply(400, "invalid_request")
    if not hmac.compare_digest(secret.encode(), client_secret.encode()):
        return error_reply(401, "invalid_client")
    if data.get("company_id") not in (None, company_id):
        return error_reply(400, "invalid_request")
    user_id = data.get("user_id")
    if user_id is not None and (not isinstance(user_id, str) or user_id not in user_ids):
        return error_reply(400, "non_existing_user")
    claims: dict[str, Any] = {"api": "v2", "scope": " ".join(s for s in ALL_SCOPES if s in scopes)}
    if user_id:
        claims["userId"] = user_id
    ttl = int(tokens.ttl) if float(tokens.ttl).is_integer() else tokens.ttl
    return json_reply(
        {
            "token_type": "Bearer",
            "access_token": tokens.issue(company_id, extra=claims),
            "expires_in": str(ttl) if expires_as_string else ttl,
        }
    )


def check_v2(
    headers: Mapping[str, str], tokens: Tokens, company_id: str, scope: str
) -> Reply | None:
    """None when a v2 resource call may proceed, else the 400/401/403 to send."""
    version = (headers.get(VERSION_HEADER) or "").strip()
    if version != API_VERSION:
        what = f"'{version}' is not a supported" if version else "missing"
        return v2_error(
            400,
            "invalidApiVersion",
            f"The {VERSION_HEADER} header is {what} API version; send '{API_VERSION}'.",
        )
    scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return error_reply(401, "invalid_token")
    claims, _problem = tokens.verify(credentials.strip())
    if claims is None or claims.get("api") != "v2" or claims.get("companyId") != company_id:
        return error_reply(401, "invalid_token")
    if scope not in str(claims.get("scope") or "").split():
        return v2_error(403, "invalid_scope", f"This endpoint requires the '{scope}' scope.")
    return None
