"""Data faults: bad *records* on demand (the transport faults live in faults.py).

A real tenant sometimes sends data its documentation does not promise: a score as a string, a
record without an ``_id``, the same record twice in one listing, a field nobody announced, or
a body that is not JSON at all. Tests switch these on per route to check what the client does
with them; the company model (and so ``company.truth()``) never changes.

A rule is a dict::

    {"route": "GET /api/v1/paths",        # the metrics route name (templated, as in metrics())
     "at": "stats.*.attempts",            # where the records sit in the body: "" = the body
                                          # (each element if it is an array), "a.*.b" = key a,
                                          # every element, key b ...
     "match": {"_id": "..."},             # only records whose fields equal these (optional)
     "limit": 1,                          # at most this many records per answer (optional)
     "ids": ["5f..."],                    # only requests whose path names one of these
                                          # (one getUser, one getGroup...; optional)
     "action": "set",                     # set | drop | duplicate | malformed | body |
                                          # insert | remove
     "fields": {"score": "n/a"}}          # set: fields to set (new ones are added);
                                          # drop: a list of field names; duplicate: fields
                                          # changed in the copy (optional)

``malformed`` replaces the whole 200 body with ``raw`` (default: an array cut off mid-record),
so the client sees invalid JSON on every attempt. ``body`` replaces it with the JSON value
``body`` (``None``: a ``200 null``; ``{}`` where a list is expected; ``[]``: an empty
listing). ``insert`` puts each of ``values`` (``[None, 42]``: null or non-object elements)
into the lists at ``at``, at ``position`` (default 0). ``remove`` takes the matching records
out of the answer (a hard-deleted record: gone from the listing, not flagged; see also
``Company.hard_delete_user``, which also keeps ``truth()`` right). Only ``200`` JSON answers are touched; a
mutated streamed answer is rendered whole (fine for the test-sized companies this is for).
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .responses import JSON, Reply, dumps

ACTIONS = ("set", "drop", "duplicate", "malformed", "body", "insert", "remove")
MALFORMED_BODY = b'[{"_id":"5f0000000000000000000001","name":"cut off'


def _check(rule: Mapping[str, Any]) -> dict[str, Any]:
    rule = dict(rule)
    if not isinstance(rule.get("route"), str):
        raise ValueError(f"data fault without a route: {rule!r}")
    if rule.get("action") not in ACTIONS:
        raise ValueError(f"data fault action must be one of {ACTIONS}: {rule!r}")
    if rule["action"] == "drop" and not isinstance(rule.get("fields"), list | tuple):
        raise ValueError(f"a drop rule needs a list of fields: {rule!r}")
    if rule["action"] == "set" and not isinstance(rule.get("fields"), Mapping):
        raise ValueError(f"a set rule needs a mapping of fields: {rule!r}")
    if rule["action"] == "body" and "body" not in rule:
        raise ValueError(f"a body rule needs a body (None for a 200 null): {rule!r}")
    if rule["action"] == "insert" and not isinstance(rule.get("values"), list | tuple):
        raise ValueError(f"an insert rule needs a list of values: {rule!r}")
    if rule.get("ids") is not None and not isinstance(rule["ids"], list | tuple):
        raise ValueError(f"ids must be a list of ids: {rule!r}")
    return rule


def _matches(record: Any, match: Mapping[str, Any] | None) -> bool:
    if not isinstance(record, dict):
        return False
    return all(record.get(k) == v for k, v in (match or {}).items())


def _lists_at(body: Any, at: str) -> list[list[Any]]:
    """The lists whose elements are the addressed records (a lone object is wrapped)."""
    nodes = [body]
    for part in [p for p in at.split(".") if p]:
        nxt: list[Any] = []
        for node in nodes:
            if part == "*" and isinstance(node, list):
                nxt.extend(node)
            elif isinstance(node, dict) and part in node:
                nxt.append(node[part])
        nodes = nxt
    out: list[list[Any]] = []
    for node in nodes:
        if isinstance(node, list):
            out.append(node)
        elif isinstance(node, dict):
            out.append([node])  # records edited in place: the wrapper is never written back
    return out


class DataFaults:
    """Thread-safe rule set; ``apply`` is called by the server for every answered request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: tuple[dict[str, Any], ...] = ()
        self.applied: Counter[str] = Counter()  # route -> records (or bodies) mangled

    def configure(self, rules: Iterable[Mapping[str, Any]]) -> None:
        checked = tuple(_check(rule) for rule in rules)
        with self._lock:
            self._rules = checked

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(rule) for rule in self._rules]

    def apply(self, route: str, reply: Reply, path: str = "") -> Reply:
        rules = [
            rule
            for rule in self._rules
            if rule["route"] == route
            and (rule.get("ids") is None or any(f"/{i}" in path for i in rule["ids"]))
        ]
        if not rules or reply.status != 200 or reply.content_type != JSON:
            return reply
        raw = reply.body if reply.stream is None else b"".join(reply.stream)
        if any(rule["action"] == "malformed" for rule in rules):
            self._count(route)
            rule = next(r for r in rules if r["action"] == "malformed")
            return Reply(200, rule.get("raw", MALFORMED_BODY.decode()).encode())
        if any(rule["action"] == "body" for rule in rules):
            self._count(route)
            rule = next(r for r in rules if r["action"] == "body")
            return Reply(200, dumps(rule["body"]).encode(), headers=list(reply.headers))
        body = json.loads(raw or b"null")
        for rule in rules:
            self._apply_rule(route, rule, body)
        return Reply(200, dumps(body).encode(), headers=list(reply.headers))

    def _apply_rule(self, route: str, rule: Mapping[str, Any], body: Any) -> None:
        limit = rule.get("limit")
        done = 0
        if rule["action"] == "insert":
            for records in _lists_at(body, rule.get("at", "")):
                if limit is not None and done >= limit:
                    return
                at = min(int(rule.get("position", 0)), len(records))
                records[at:at] = copy.deepcopy(list(rule["values"]))
                done += 1
                self._count(route)
            return
        for records in _lists_at(body, rule.get("at", "")):
            position = 0
            while position < len(records):
                record = records[position]
                position += 1
                if limit is not None and done >= limit:
                    return
                if not _matches(record, rule.get("match")):
                    continue
                done += 1
                self._count(route)
                action = rule["action"]
                if action == "set":
                    record.update(copy.deepcopy(dict(rule["fields"])))
                elif action == "drop":
                    for name in rule["fields"]:
                        record.pop(name, None)
                elif action == "remove":
                    position -= 1
                    del records[position]
                elif action == "duplicate":
                    twin = copy.deepcopy(record)
                    twin.update(copy.deepcopy(dict(rule.get("fields") or {})))
                    records.insert(position, twin)
                    position += 1  # never duplicate the duplicate

    def _count(self, route: str) -> None:
        with self._lock:
            self.applied[route] += 1


__all__ = ["ACTIONS", "DataFaults"]
