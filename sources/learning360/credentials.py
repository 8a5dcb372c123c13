"""Credentials of both API versions, from ``[sources.learning360.credentials]``.

v1: ``company_id`` + ``api_key`` and how to send them (``auth_method``); v2: ``client_id`` +
``client_secret``. One configspec, not zendesk's union of two: dlt 1.31 resolves a union
given ``= dlt.secrets.value`` only for ``CredentialsConfiguration`` specs, which refuse to read
``company_id``/``auth_method`` from ``config.toml`` where they live; and a partial resolution
(``doctor``) returns the first spec, without the v2 keys. A ``BaseConfiguration`` for the same
reason; ``api_key``/``client_secret`` are ``TSecretStrValue`` (secret providers only, masked).
"""

from __future__ import annotations

from typing import ClassVar

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from .errors import ConfigurationError, config_key
from .validation import auth_method


@configspec
class Learning360Credentials(BaseConfiguration):
    company_id: str = None
    api_key: TSecretStrValue = None
    auth_method: str = "oauth"
    # API v2: with both set, company_id/api_key may be left out (on_partial)
    client_id: str | None = None
    client_secret: TSecretStrValue | None = None

    __config_gen_annotations__: ClassVar[list[str]] = ["company_id", "api_key"]

    def on_resolved(self) -> None:
        self.auth_method = auth_method(self.auth_method)
        self.company_id = (self.company_id or "").strip()

    def on_partial(self) -> None:
        """company_id/api_key are missing: fine when the v2 client credentials are set."""
        if self.client_id and self.client_secret:
            self.resolve()
        elif self.client_id or self.client_secret:
            missing = "client_secret" if self.client_id else "client_id"
            raise ConfigurationError(
                f"API v2 credentials are incomplete: set {config_key('credentials', missing)}"
            )

    def __str__(self) -> str:  # never print the key
        return f"360Learning company {self.company_id} ({self.auth_method})"
