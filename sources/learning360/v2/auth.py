"""API v2 authentication: OAuth2 client credentials (reference §2.2), plugged into the shared
client through its ``auth`` hook.

* ``V2TokenAuth`` is v1's :class:`..auth.TokenAuth` (one token shared by every thread behind a
  lock, refreshed ``REFRESH_MARGIN_SECONDS`` = 60 s before it expires, dropped on demand by
  ``invalidate``) plus what v2 adds to every resource call: the ``360-api-version: v2.0``
  header. It also remembers, per thread, the token the thread last sent, so the adapter can
  drop exactly that token when the API answers ``401 invalid_token`` (v2 sends no "jwt
  expired" description, so the client's own re-authentication does not trigger) and retry once.
* The token request is ``POST {base_url}/api/v2/oauth2/token`` with a JSON body
  ``{"grant_type": "client_credentials", "client_id", "client_secret"}``, sent by the shared
  client (``request_token``: its retries, rate limiter, redaction and stats apply); its
  400/401 answers are re-worded to name ``client_id``/``client_secret``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from ..auth import REFRESH_MARGIN_SECONDS, Token, TokenAuth
from ..errors import AuthenticationError
from ..redaction import register_secret
from ..routes import API_VERSION, API_VERSION_HEADER
from ..v1.parsing import parse_expires_in
from . import errors as v2_errors

if TYPE_CHECKING:
    from ..client import Learning360Client
    from ..credentials import Learning360Credentials


class V2TokenAuth(TokenAuth):
    """``Authorization: Bearer <v2 token>`` + ``360-api-version: v2.0``, thread-safe."""

    method = "oauth2_client_credentials"

    def __init__(
        self,
        fetch: Callable[[], Token],
        margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(fetch, margin_seconds, clock)
        self._local = threading.local()

    def apply(
        self, headers: MutableMapping[str, str], params: MutableMapping[str, str]
    ) -> str | None:
        token = super().apply(headers, params)
        headers[API_VERSION_HEADER] = API_VERSION
        self._local.used = token
        return token

    def last_used(self) -> str | None:
        """The token this thread sent last (what a 401 just refused)."""
        return getattr(self._local, "used", None)


def token_request_body(client_id: str, client_secret: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }


def check_credentials(credentials: Learning360Credentials) -> tuple[str, str]:
    client_id = (getattr(credentials, "client_id", None) or "").strip()
    client_secret = getattr(credentials, "client_secret", None) or ""
    missing = [
        name
        for name, value in (("client_id", client_id), ("client_secret", client_secret))
        if not value
    ]
    if missing:
        raise v2_errors.missing_credentials(missing)
    return client_id, str(client_secret)


def install_v2_auth(client: Learning360Client, credentials: Learning360Credentials) -> V2TokenAuth:
    """Validate the v2 credentials and make ``client`` authenticate the v2 way."""
    client_id, client_secret = check_credentials(credentials)
    register_secret(client_secret)
    body = token_request_body(client_id, client_secret)

    def fetch() -> Token:
        failure: AuthenticationError | None = None
        payload: Any = None
        try:
            payload = client.request_token(body)
        except AuthenticationError as exc:
            failure = v2_errors.token_error(exc.status, exc.code)
        if failure is not None:
            raise failure  # outside `except`: no chained context
        token = payload.get("access_token") if isinstance(payload, Mapping) else None
        if not isinstance(token, str) or not token:
            raise v2_errors.no_access_token()
        return Token(token, parse_expires_in(payload.get("expires_in")))

    auth = V2TokenAuth(fetch)
    client.auth = auth
    return auth
