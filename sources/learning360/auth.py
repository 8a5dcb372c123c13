"""Auth strategies: how a request carries the credentials of one method and when a 401 means
"expired". Not dlt's ``OAuth2ClientCredentials``: 360Learning wants a JSON body, not a form;
the client lends its transport (``post``), so it keeps the only HTTP code."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from . import routes
from .errors import AuthenticationError, config_key, register_secret
from .validation import auth_method, credentials_problem

REFRESH_MARGIN_SECONDS = 60.0
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0


class ApiKeyAuth:
    """v1 company id + API key, as query parameters or as ``X-company-id``/``X-apiKey``."""

    def __init__(self, company_id: str, api_key: str, method: str = "header"):
        self.company_id, self.api_key, self.method = company_id, api_key, method
        register_secret(api_key)

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> Any:
        if self.method == "query":
            params.update(company=self.company_id, apiKey=self.api_key)
        else:
            headers.update({"X-company-id": self.company_id, "X-apiKey": self.api_key})
        return None

    def expired(self, code: str | None, description: str | None) -> bool:
        return False

    def invalidate(self, used_token: str | None) -> None:
        pass


class TokenAuth:
    """One bearer token for every thread, from ``POST /api/v2/oauth2/token`` (v1 and v2)."""

    def __init__(self, client_id: str, secret: str, *, method="oauth", headers=None, clock=None):
        register_secret(secret)
        self.body = {"grant_type": "client_credentials", "client_id": client_id}
        self.body["client_secret"] = secret
        self.method, self.headers = method, dict(headers or {})
        self.post: Callable[[Mapping[str, str]], Any] | None = None  # set by the client
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                assert self.post is not None, "a TokenAuth is used through Learning360Client"
                payload = self.post(self.body)
                value = payload.get("access_token") if isinstance(payload, Mapping) else None
                if not isinstance(value, str) or not value:
                    raise AuthenticationError(
                        "360Learning's token route answered without an access_token: check "
                        f"{config_key('base_url')} points at a 360Learning host"
                    )
                register_secret(value)
                lifetime = parse_expires_in(payload.get("expires_in"))
                # a short-lived token must not be refreshed on every call
                margin = min(REFRESH_MARGIN_SECONDS, lifetime / 2)
                self._token, self._refresh_at = value, self._clock() + lifetime - margin
            return self._token

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> Any:
        token = self.token()
        headers.update({"Authorization": f"Bearer {token}", **self.headers})
        return token

    def expired(self, code: str | None, description: str | None) -> bool:
        """True: fetch a new token and retry once. v1 says "jwt expired"; v2 only invalid_token."""
        return code == "invalid_token" and (
            self.method != "oauth" or "expired" in (description or "").lower()
        )

    def invalidate(self, used_token: str | None) -> None:
        """Forget a token the API refused (unless another thread already replaced it)."""
        with self._lock:
            if self._token == used_token:
                self._token = None


def parse_expires_in(value: Any) -> float:
    """A number or a numeric string; anything else -> 1 h."""
    with contextlib.suppress(TypeError, ValueError):
        if float(value) > 0:
            return float(value)
    return DEFAULT_TOKEN_LIFETIME_SECONDS


Auth = ApiKeyAuth | TokenAuth  # apply() adds credentials to a request, returns the token used


def auth_for(credentials: Any, api_version: str) -> Auth:
    if problem := credentials_problem(credentials, api_version):
        raise problem
    if api_version == "v2":
        headers = {routes.API_VERSION_HEADER: routes.API_VERSION}
        client_id, secret = str(credentials.client_id).strip(), str(credentials.client_secret)
        return TokenAuth(client_id, secret, method="oauth2_client_credentials", headers=headers)
    method = auth_method(credentials.auth_method)
    keys = str(credentials.company_id).strip(), str(credentials.api_key)
    return TokenAuth(*keys) if method == "oauth" else ApiKeyAuth(*keys, method)
