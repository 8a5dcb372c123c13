"""Credentials for API v1, resolved by dlt from ``[sources.learning360.credentials]``.

One configspec with an ``auth_method`` switch rather than one class per method: all three v1
methods use the same two values (company id + API key) and differ only in how they are sent.
``api_key`` is a ``TSecretStrValue``: dlt reads it only from secret providers (secrets.toml,
env vars) and masks it in traces and config dumps.

The spec derives from ``BaseConfiguration``, not ``CredentialsConfiguration``: dlt treats a
whole ``CredentialsConfiguration`` section as a secret and refuses to read any of it from
``config.toml`` (``ValueNotSecretException``), while ``auth_method`` and ``company_id`` are
not secrets and belong in ``config.toml`` next to the other settings.
"""

from __future__ import annotations

from typing import ClassVar

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from .errors import ConfigurationError, config_key

AUTH_METHODS = ("oauth", "header", "query")


@configspec
class Learning360Credentials(BaseConfiguration):
    """v1 credentials: ``company_id`` + ``api_key``, sent as an OAuth token (default,
    recommended by 360Learning), as ``X-company-id``/``X-apiKey`` headers, or as query params."""

    company_id: str = None
    api_key: TSecretStrValue = None
    auth_method: str = "oauth"
    # API v2 (api_version = "v2"): an OAuth2 client credential from Settings -> API v2. With
    # both set, company_id/api_key may be left out (see on_partial); docs/migration-v2.md.
    client_id: str | None = None
    client_secret: TSecretStrValue | None = None

    __config_gen_annotations__: ClassVar[list[str]] = ["company_id", "api_key"]

    def on_resolved(self) -> None:
        method = (self.auth_method or "oauth").strip().lower()
        if method not in AUTH_METHODS:
            raise ConfigurationError(
                f"Unknown auth_method {self.auth_method!r}: set "
                f"{config_key('credentials', 'auth_method')} to one of {', '.join(AUTH_METHODS)}"
            )
        self.auth_method = method
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
