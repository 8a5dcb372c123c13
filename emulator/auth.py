"""v1 authentication (reference §2.1): company id + API key by query or headers, or a Bearer
JWT from `POST /api/v2/oauth2/token`. Tokens are real HS256 JWTs signed with a per-server
secret, so a token from another server (another key) fails as `invalid signature`.

Precedence (the docs are silent; chosen so every documented error is reachable):
1. An `Authorization: Bearer …` header wins: only the token is checked (signature, then
   expiry); credentials sent alongside are ignored.
2. Otherwise the company id comes from the `company` query parameter, else `X-company-id`;
   missing → `missing_company_id`, unknown → `invalid_company_id`.
3. Then the API key from `apiKey`, else `X-apiKey`; missing or wrong → `invalid_api_key`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from collections.abc import Mapping
from typing import Any

from .responses import Reply, error_reply, json_reply


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    """Issues and verifies HS256 JWTs; `exp` is wall-clock issue time + ttl seconds."""

    def __init__(self, ttl: float = 3600, secret: bytes | None = None) -> None:
        self.ttl = ttl
        self.secret = secret or secrets.token_bytes(32)

    def issue(
        self, company_id: str, now: float | None = None, extra: Mapping[str, Any] | None = None
    ) -> str:
        """A signed token; `extra` claims are added (v2 tokens carry `api` and `scope`)."""
        now = time.time() if now is None else now
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": "360learning-emulator",
            "sub": company_id,
            "companyId": company_id,
            "iat": int(now),
            "exp": math.ceil(now + self.ttl),
            "jti": secrets.token_hex(8),
            **(extra or {}),
        }
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(claims, separators=(",", ":")).encode())
        )
        sig = hmac.new(self.secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(sig)}"

    def verify(self, token: str) -> tuple[dict[str, Any] | None, str | None]:
        """(claims, None) when valid, else (None, error_description)."""
        try:
            head, body, sig = token.split(".")
            expected = hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(sig), expected):
                return None, "invalid signature"
            if json.loads(_unb64(head)).get("alg") != "HS256":
                return None, "invalid signature"
            claims = json.loads(_unb64(body))
        except (ValueError, TypeError, AttributeError):
            return None, "invalid signature"  # malformed tokens are reported like bad ones
        if not isinstance(claims, dict) or time.time() >= float(claims.get("exp", 0)):
            return None, "jwt expired"
        return claims, None


def check_v1(
    headers: Mapping[str, str],
    query: Mapping[str, list[str]],
    company_id: str,
    api_key: str,
    tokens: Tokens,
) -> Reply | None:
    """None when the request is authenticated, else the 401 to send (precedence: module doc)."""
    authorization = headers.get("Authorization") or ""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        claims, problem = tokens.verify(credentials.strip())
        if claims is None:
            return error_reply(401, "invalid_token", error_description=problem)
        if claims.get("companyId") != company_id:
            return error_reply(401, "invalid_company_id")
        return None
    company = (query.get("company") or [None])[0] or headers.get("X-company-id")
    if not company:
        return error_reply(401, "missing_company_id")
    if company != company_id:
        return error_reply(401, "invalid_company_id")
    key = (query.get("apiKey") or [None])[0] or headers.get("X-apiKey")
    if not key or not hmac.compare_digest(key.encode(), api_key.encode()):
        return error_reply(401, "invalid_api_key")
    return None


def token_endpoint(
    body: bytes, company_id: str, api_key: str, tokens: Tokens, expires_as_number: bool
) -> Reply:
    """`POST /api/v2/oauth2/token` with v1 credentials (reference §2.1)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error_reply(400, "invalid_request")
    if not isinstance(data, dict):
        return error_reply(400, "invalid_request")
    grant = data.get("grant_type")
    if not grant:
        return error_reply(400, "invalid_request")
    if grant != "client_credentials":
        return error_reply(400, "unsupported_grant_type")
    if data.get("client_id") != company_id or not data.get("client_secret"):
        return error_reply(400, "invalid_request")
    secret = data["client_secret"]
    if not isinstance(secret, str) or not hmac.compare_digest(secret.encode(), api_key.encode()):
        return error_reply(401, "invalid_client")
    ttl = int(tokens.ttl) if float(tokens.ttl).is_integer() else tokens.ttl
    return json_reply(
        {
            "token_type": "Bearer",
            "access_token": tokens.issue(company_id),
            "expires_in": ttl if expires_as_number else str(ttl),
        }
    )
