"""A tiny API v2 client for the emulator's v2 tests (client credentials, version header, Link
paging) and a minimal JSON-schema check for the OpenAPI subset in v2_openapi_subset.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import requests

from emulator import EmulatorServer

SPEC = json.loads((Path(__file__).parent / "v2_openapi_subset.json").read_text(encoding="utf-8"))
HEADERS = {"360-api-version": "v2.0"}
LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def token_request(server: EmulatorServer, **body: object) -> requests.Response:
    return requests.post(f"{server.base_url}/api/v2/oauth2/token", json=body)


def v2_body(server: EmulatorServer) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
    }


class V2:
    """Authenticates once through the token route, then GETs with Bearer + version header."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.session = requests.Session()
        reply = self.session.post(f"{server.base_url}/api/v2/oauth2/token", json=v2_body(server))
        assert reply.status_code == 200, reply.text
        self.headers = {**HEADERS, "Authorization": f"Bearer {reply.json()['access_token']}"}

    def get(self, route: str, **params: Any) -> requests.Response:
        return self.session.get(
            f"{self.server.base_url}/api/v2{route}", params=params, headers=self.headers
        )

    def json(self, route: str, **params: Any) -> Any:
        r = self.get(route, **params)
        assert r.status_code == 200, (route, r.status_code, r.text[:300])
        return r.json()

    def pages(self, route: str, **params: Any) -> list[list[Any]]:
        """Every page of a list, following `Link: <url>; rel="next"` to the end."""
        r = self.get(route, **params)
        out = []
        while True:
            assert r.status_code == 200, (route, r.status_code, r.text[:300])
            body = r.json()
            assert isinstance(body, list)
            out.append(body)
            link = r.headers.get("Link")
            if link is None:
                return out
            m = LINK.match(link)
            assert m, link
            assert m.group(1).startswith(f"{self.server.base_url}/api/v2{route}?next=")
            r = self.session.get(m.group(1), headers=self.headers)

    def all(self, route: str, **params: Any) -> list[Any]:
        return [item for page in self.pages(route, **params) for item in page]


# ---------------------------------------------------------------------- schema check
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_TYPES: dict[str, Any] = {
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def problems(value: Any, schema: dict[str, Any], at: str = "$") -> list[str]:
    """Where `value` breaks `schema` (type, required, enum, pattern, date-time, oneOf/anyOf/
    allOf), plus any property the schema does not declare (the emulator invents no field)."""
    out: list[str] = []
    if "allOf" in schema:
        for sub in schema["allOf"]:
            out += problems(value, sub, at)
    if "oneOf" in schema or "anyOf" in schema:
        subs = schema.get("oneOf") or schema.get("anyOf")
        ok = [s for s in subs if not problems(value, s, at)]
        if "oneOf" in schema and len(ok) != 1:
            out.append(f"{at}: matches {len(ok)} of the oneOf schemas")
        if "anyOf" in schema and not ok:
            out.append(f"{at}: matches none of the anyOf schemas")
    kind = schema.get("type")
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{at}: {value!r} is not an integer")
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            out.append(f"{at}: {value!r} is not a number")
    elif kind in _TYPES and not isinstance(value, _TYPES[kind]):
        out.append(f"{at}: {value!r} is not of type {kind}")
        return out
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{at}: {value!r} not in enum")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{at}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
            out.append(f"{at}: {value!r} is not an ISO ms Z date-time")
        if schema.get("format") == "date" and not re.match(r"^\d{4}-\d\d-\d\d$", value):
            out.append(f"{at}: {value!r} is not a date")
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(f"{at}: {value!r} is too short")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += problems(item, schema["items"], f"{at}[{i}]")
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{at}: required {key!r} missing")
        for key, item in value.items():
            if key not in props:
                out.append(f"{at}: {key!r} is not in the schema")
            else:
                out += problems(item, props[key], f"{at}.{key}")
    return out
