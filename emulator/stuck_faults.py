"""Answers that never finish, for testing a client's bounds (issue 13, case 2). Off by default.

* **drip**: the answer's headers, then its body one byte every ``drip_interval_s`` seconds (a
  per-read timeout never fires; only a total deadline ends it). ``drip_answers`` limits how
  many answers drip (0: all of them while set); ``drip_route`` picks one route (metrics name,
  e.g. ``GET /api/v1/courses``; empty: every /api route).
* **endless**: the listing never ends. v1 (a streamed array): the real elements, then copies
  with fresh ids, forever. v2 (pages): every page has a ``Link: rel="next"`` to one more page
  of copies with fresh ids.
* **loop link** (v2): the last page of ``loop_link_route`` gets a ``Link: rel="next"`` to
  itself, the page the client has just read.

Set with ``server.set_faults(drip_interval_s=5, drip_route="GET /api/v1/courses", ...)``
(together with faults.FaultSettings; ``set_faults()`` clears all) or ``POST /_emulator/faults``.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from .responses import Reply, dumps, json_reply

ENDLESS_PARAM = "endless"


@dataclass(slots=True)
class StuckFaultSettings:
    drip_interval_s: float = 0.0
    drip_answers: int = 0
    drip_route: str = ""
    endless_route: str = ""
    loop_link_route: str = ""

    @classmethod
    def pick(cls, values: dict[str, Any]) -> tuple[StuckFaultSettings, dict[str, Any]]:
        """(these settings, the other keys) from one set_faults call."""
        names = {f.name for f in fields(cls)}
        mine = {k: v for k, v in values.items() if k in names}
        rest = {k: v for k, v in values.items() if k not in names}
        settings = cls(**mine)
        settings.drip_interval_s = float(settings.drip_interval_s)
        settings.drip_answers = int(settings.drip_answers)
        if settings.drip_interval_s < 0 or settings.drip_answers < 0:
            raise ValueError("drip_interval_s and drip_answers must be >= 0")
        return settings, rest

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StuckFaults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings = StuckFaultSettings()
        self._drips_left = 0
        self._pages: dict[str, list[Any]] = {}  # v2 endless: the first page, copied forever
        self._copies = itertools.count(1)

    def configure(self, settings: StuckFaultSettings) -> None:
        with self._lock:
            self.settings = settings
            self._drips_left = settings.drip_answers
            self._pages.clear()

    def drip_bytes_per_s(self, route: str) -> float:
        """The rate to send this answer at (0: normal), counting the dripped answers."""
        s = self.settings
        if s.drip_interval_s <= 0 or (s.drip_route and s.drip_route != route):
            return 0.0
        with self._lock:
            if s.drip_answers:
                if self._drips_left <= 0:
                    return 0.0
                self._drips_left -= 1
        return 1.0 / s.drip_interval_s

    def intercept(self, route: str, query: dict[str, list[str]], url: str) -> Reply | None:
        """A v2 endless listing's next pages (``?endless=N``): served here, not by the route."""
        if route != self.settings.endless_route or ENDLESS_PARAM not in query:
            return None
        number = int(query[ENDLESS_PARAM][0])
        with self._lock:
            template = self._pages.get(route) or [{"_id": "endless"}]
        reply = json_reply([_copy(item, f"{number}-{i}") for i, item in enumerate(template)])
        return _with_next(reply, url, number + 1)

    def apply(self, route: str, reply: Reply, url: str) -> Reply:
        s = self.settings
        if reply.status != 200 or route not in (s.endless_route, s.loop_link_route):
            return reply
        is_v2 = route.startswith("GET /api/v2")
        if route == s.endless_route:
            if f"{ENDLESS_PARAM}=" in urlsplit(url).query:
                return reply  # a next page, served by intercept() with its own link
            elements = _elements(reply)
            if not is_v2:
                return Reply(200, stream=self._endless_array(elements))
            with self._lock:
                self._pages[route] = elements
            return _with_next(Reply(200, dumps(elements).encode()), url, 1)
        if is_v2 and not any(name.lower() == "link" for name, _ in reply.headers):
            reply.headers.append(("Link", f'<{url}>; rel="next"'))  # back to this very page
        return reply

    def _endless_array(self, elements: list[Any]) -> Iterator[bytes]:
        yield b"["
        yield dumps(elements)[1:-1].encode()
        separator = b"," if elements else b""
        template = elements or [{"_id": "endless"}]
        while True:
            copy_number = next(self._copies)
            text = dumps([_copy(item, str(copy_number)) for item in template])[1:-1]
            yield separator + text.encode()
            separator = b","


def _elements(reply: Reply) -> list[Any]:
    body = reply.body if reply.stream is None else b"".join(reply.stream)
    data = json.loads(body or b"[]")
    return data if isinstance(data, list) else []


def _copy(item: Any, suffix: str) -> Any:
    if isinstance(item, dict) and isinstance(item.get("_id"), str):
        return {**item, "_id": f"{item['_id']}-endless-{suffix}"}
    return item


def _with_next(reply: Reply, url: str, number: int) -> Reply:
    parts = urlsplit(url)
    reply.headers = [(k, v) for k, v in reply.headers if k.lower() != "link"]
    target = f"{parts.scheme}://{parts.netloc}{parts.path}?{ENDLESS_PARAM}={number}"
    reply.headers.append(("Link", f'<{target}>; rel="next"'))
    return reply
