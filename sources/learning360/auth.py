"""How each v1 auth method decorates a request, and the OAuth token cache.

The token manager is hand-written rather than dlt's ``OAuth2ClientCredentials`` because the
latter posts a form body (360Learning documents a JSON body), refreshes only at expiry (no
safety margin) and never re-authenticates when the API answers 401 ``jwt expired``. Here the
token is shared by every thread behind a lock, refreshed ``margin`` seconds before it expires,
and dropped on demand (``invalidate``) so the client can fetch a new one once and retry.
The HTTP call itself is injected (``fetch``) so the client keeps the only HTTP code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

from .credentials import Learning360Credentials
from .redaction import register_secret

REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class Token:
    value: str
    lifetime_seconds: float


class Auth:
    """Adds credentials to a request. ``apply`` returns the token it used (or None)."""

    method = "none"

    def apply(
        self, headers: MutableMapping[str, str], params: MutableMapping[str, str]
    ) -> str | None:
        return None

    def invalidate(self, used_token: str | None) -> bool:
        """Forget a token the API called expired; False when there is nothing to renew."""
        return False


class _ApiKeyAuth(Auth):
    """The company id and API key sent with every request (the key registered for redaction)."""

    def __init__(self, company_id: str, api_key: str):
        self.company_id, self.api_key = company_id, api_key
        register_secret(api_key)


class QueryAuth(_ApiKeyAuth):
    """``?company=<id>&apiKey=<key>`` (the method the 2020 recordings used)."""

    method = "query"

    def apply(
        self, headers: MutableMapping[str, str], params: MutableMapping[str, str]
    ) -> str | None:
        params["company"] = self.company_id
        params["apiKey"] = self.api_key
        return None


class HeaderAuth(_ApiKeyAuth):
    """``X-company-id`` / ``X-apiKey`` headers."""

    method = "header"

    def apply(
        self, headers: MutableMapping[str, str], params: MutableMapping[str, str]
    ) -> str | None:
        headers["X-company-id"] = self.company_id
        headers["X-apiKey"] = self.api_key
        return None


def token_request_body(company_id: str, api_key: str) -> dict[str, str]:
    """JSON body of ``POST /api/v2/oauth2/token`` for v1 credentials (reference §2.1)."""
    return {"grant_type": "client_credentials", "client_id": company_id, "client_secret": api_key}


class TokenAuth(Auth):
    """``Authorization: Bearer <token>`` with a thread-safe cached token."""

    method = "oauth"

    def __init__(
        self,
        fetch: Callable[[], Token],
        margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._fetch = fetch
        self._margin = margin_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                fetched = self._fetch()
                register_secret(fetched.value)
                # a short-lived token (tests, odd tenants) must not be refreshed on every call
                margin = min(self._margin, fetched.lifetime_seconds / 2)
                self._token = fetched.value
                self._refresh_at = self._clock() + fetched.lifetime_seconds - margin
                self.fetches += 1
            return self._token

    def apply(
        self, headers: MutableMapping[str, str], params: MutableMapping[str, str]
    ) -> str | None:
        token = self.token()
        headers["Authorization"] = f"Bearer {token}"
        return token

    def invalidate(self, used_token: str | None) -> bool:
        with self._lock:
            # another thread may already have replaced the expired token: keep the new one
            if self._token is not None and self._token == used_token:
                self._token = None
        return True


def build_auth(credentials: Learning360Credentials, fetch_token: Callable[[], Token]) -> Auth:
    if credentials.auth_method == "query":
        return QueryAuth(credentials.company_id, credentials.api_key)
    if credentials.auth_method == "header":
        return HeaderAuth(credentials.company_id, credentials.api_key)
    register_secret(credentials.api_key)
    return TokenAuth(fetch_token)
