"""Which company a dataset holds (dlt source state, kept in the destination): a sync with
another company's credentials is refused, or it would inherit the first one's cursors."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource

from .errors import ConfigurationError

RESOURCE_NAME = "company_record"
STATE_KEY = "company"
COMPANY_ID_CLAIMS = ("companyId", "company_id", "company")


@dataclass(frozen=True)
class CompanyRecord:
    """Who a dataset belongs to: ``company_id`` when known, else ``client_sha256`` (v2)."""

    api_version: str
    company_id: str | None = None
    client_sha256: str | None = None

    @property
    def label(self) -> str:
        if self.company_id:
            return f"company {self.company_id}"
        return f"the company of v2 client sha256:{self.client_sha256}"

    def same_company(self, other: CompanyRecord) -> bool | None:
        """None (accepted) when the two cannot be compared: a company id against a hash."""
        if self.company_id and other.company_id:
            return self.company_id == other.company_id
        if self.client_sha256 and other.client_sha256:
            return self.client_sha256 == other.client_sha256
        return None

    @classmethod
    def from_state(cls, value: Any) -> CompanyRecord | None:
        """A record as ``company_resource`` stores it (only its set fields)."""
        return cls(**{"api_version": "", **value}) if isinstance(value, Mapping) else None


def token_company_id(token: str) -> str | None:
    """The company id a JWT claims, unverified (the API verifies it)."""
    try:
        _, payload, _ = token.split(".")  # ValueError unless header.payload.signature
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    values = [claims.get(claim) for claim in COMPANY_ID_CLAIMS] if isinstance(claims, dict) else []
    return next((v.strip() for v in values if isinstance(v, str) and v.strip()), None)


def current_record(client: Any, credentials: Any, api_version: str) -> CompanyRecord:
    """The company these credentials belong to (v2: asks for the token the sync needs anyway)."""
    if api_version != "v2":
        return CompanyRecord(api_version, company_id=str(credentials.company_id or "").strip())
    token = client.auth.token() if hasattr(client.auth, "token") else ""
    if company_id := token_company_id(token):
        return CompanyRecord(api_version, company_id=company_id)
    client_id = str(getattr(credentials, "client_id", None) or "").strip()
    digest = hashlib.sha256(client_id.encode()).hexdigest()[:16]
    return CompanyRecord(api_version, client_sha256=digest)


def mismatch_message(dataset: str, stored: CompanyRecord, now: CompanyRecord) -> str:
    return (
        f"dataset {dataset} holds the data of {stored.label}, but these credentials "
        f"belong to {now.label}: sync into another dataset (--dataset-name) or DuckDB file "
        "(--duckdb-path), or replace its data with --full-refresh"
    )


def _dataset(pipeline: Any) -> str:
    try:
        destination = str(pipeline.destination.destination_type).split(".")[-1]
        if destination == "duckdb":
            database = pipeline.destination_client().config.credentials.database
            return f"{pipeline.dataset_name} in duckdb file {database}"
        return f"{pipeline.dataset_name} on {destination}"
    except Exception:  # noqa: BLE001 - only decorates the message
        return pipeline.dataset_name


def _has_cursor_values(state: Mapping[str, Any]) -> bool:
    return any(
        isinstance(cursor, Mapping) and cursor.get("last_value") is not None
        for resource in (state.get("resources") or {}).values()
        if isinstance(resource, Mapping)
        for cursor in (resource.get("incremental") or {}).values()
    )


def company_resource(client: Any, credentials: Any, api_version: str) -> DltResource:
    """Checks the dataset's record against the credentials, then records them; no rows."""

    @dlt.resource(name=RESOURCE_NAME, selected=True)
    def company_record() -> Iterator[Any]:
        state = dlt.current.source_state()
        now = current_record(client, credentials, api_version)
        stored = CompanyRecord.from_state(state.get(STATE_KEY))
        if stored is not None and stored.same_company(now) is False:
            dataset = _dataset(dlt.current.pipeline())
            raise ConfigurationError(mismatch_message(dataset, stored, now))
        if stored is None and _has_cursor_values(state):  # adopted, but say so once
            logger.warning(
                f"dataset {_dataset(dlt.current.pipeline())} was synced before datasets "
                f"recorded their company; recording {now.label}. If it holds another "
                "company's data (an earlier `make demo`?), run this sync with --full-refresh"
            )
        state[STATE_KEY] = {k: v for k, v in asdict(now).items() if v}
        yield from ()

    return company_record
