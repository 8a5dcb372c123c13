"""`/_emulator/*`: the operator's side door (truth, metrics, clock, faults, config). It needs
`X-Emulator-Admin: <admin token>`; tenant credentials are refused, and faults never apply."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .clock import iso
from .responses import Reply, dumps, error_reply, json_reply, stream_reply

if TYPE_CHECKING:
    from .server import EmulatorServer


def _json_body(body: bytes) -> dict[str, Any] | None:
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _truth_stream(server: EmulatorServer) -> Iterator[bytes]:
    """The truth as one JSON object, rendered table by table under the company lock (one
    consistent snapshot), then sent as it was rendered."""
    company = server.company
    parts: list[bytes] = []
    with company.lock:
        parts.append(
            (
                "{" + f'"company_id":{dumps(company.company_id)},"now":{dumps(iso(company.now))}'
            ).encode()
        )
        for name, rows in company.truth_tables():
            parts.append(f',"{name}":'.encode())
            parts.append(dumps(list(rows)).encode())
    parts.append(b"}")
    yield from parts


def handle(
    server: EmulatorServer, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Reply:
    token = headers.get("X-Emulator-Admin")
    if not token:
        return error_reply(401, "missing_admin_token")
    if not hmac.compare_digest(token.encode(), server.admin_token.encode()):
        return error_reply(403, "invalid_admin_token")
    route = f"{method} {path.rstrip('/')}"
    if route == "GET /_emulator/truth":
        return stream_reply(_truth_stream(server))
    if route == "GET /_emulator/metrics":
        return json_reply(server.metrics())
    if route == "POST /_emulator/metrics/reset":
        server.reset_metrics()
        return json_reply({"ok": True})
    if route == "GET /_emulator/info":
        return json_reply(server.info())
    data = _json_body(body) if method == "POST" else {}
    if data is None:
        return error_reply(400, "invalid_json")
    try:
        if route == "POST /_emulator/advance":
            days = data.get("days", 1)
            if not isinstance(days, int) or isinstance(days, bool):
                raise ValueError("days must be an integer")
            server.company.advance(days)
            with server.company.lock:
                return json_reply(
                    {"now": iso(server.company.now), "advances": server.company.advances}
                )
        if route in ("GET /_emulator/faults", "POST /_emulator/faults"):
            if method == "POST":
                server.set_faults(**data)
            return json_reply(server.fault_settings())
        if route in ("GET /_emulator/webhooks", "POST /_emulator/webhooks"):
            if method == "POST":  # delivery faults and log retention (webhooks.py)
                server.webhooks.configure(**data)
            return json_reply(server.webhooks.settings())
        if route in ("GET /_emulator/config", "POST /_emulator/config"):
            if method == "POST":
                server.configure(**data)
            return json_reply(server.config())
    except (TypeError, ValueError) as exc:
        return error_reply(400, "invalid_settings", message=str(exc))
    return error_reply(404, "unknown_admin_route")
