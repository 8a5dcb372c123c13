"""The credentials' configspec, for both API versions (checked by ``validation.py``)."""

from __future__ import annotations

from typing import ClassVar

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from .errors import ConfigurationError, config_key
from .validation import auth_method


@configspec
class Learning360Credentials(BaseConfiguration):
    """v1 ``company_id`` + ``api_key`` (+ ``auth_method``) or v2 ``client_id`` + ``client_secret``:
    one spec, not a union (dlt 1.31 would refuse company_id from config.toml: architecture.md)."""

    company_id: str = None
    api_key: TSecretStrValue = None
    auth_method: str = "oauth"
    # API v2: with both set, company_id/api_key may be left out
    client_id: str | None = None
    client_secret: TSecretStrValue | None = None

    __config_gen_annotations__: ClassVar[list[str]] = ["company_id", "api_key"]

    def on_resolved(self) -> None:
        self.auth_method = auth_method(self.auth_method)
        self.company_id = (self.company_id or "").strip()

    def on_partial(self) -> None:
        if self.client_id and self.client_secret:
            self.resolve()
        elif self.client_id or self.client_secret:
            missing = "client_secret" if self.client_id else "client_id"
            raise ConfigurationError(
                f"API v2 credentials are incomplete: set {config_key('credentials', missing)}"
            )

    def __str__(self) -> str:  # never print the key
        return f"360Learning company {self.company_id} ({self.auth_method})"
