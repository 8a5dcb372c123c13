"""What a route hands the HTTP layer: a status, a content type, and either a complete body or
an iterator of body pieces (large arrays, rendered element by element, never as one string)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSON = "application/json; charset=utf-8"
T = TypeVar("T")

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(obj: Any) -> str:
    """Compact UTF-8 JSON, as Express sends it (raw non-ASCII, no spaces)."""
    return _encoder.encode(obj)


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes | None = None
    stream: Iterator[bytes] | None = None
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_reply(obj: Any, status: int = 200) -> Reply:
    return Reply(status, dumps(obj).encode())


def error_reply(status: int, error: str, **extra: Any) -> Reply:
    return json_reply({"error": error, **extra}, status)


NOT_FOUND_BODY = {
    "message": "Not Found",
    "documentation_url": "http://support.360learning.com/hc/fr/articles/210620943-Guide-technique-API",
}


def route_not_found() -> Reply:
    return json_reply(NOT_FOUND_BODY, 404)


class Refused(Exception):
    """Ends a handler with an error reply; the routes' `call` sends it."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def found(item: T | None, refusal: Callable[[], Reply]) -> T:
    """The item a route looked up by id, or the route answers `refusal()` (its 404)."""
    if item is None:
        raise Refused(refusal())
    return item


def stream_array(
    lock: threading.RLock,
    items: Sequence[T],
    render: Callable[[T], Any],
    batch: int = 200,
) -> Iterator[bytes]:
    """A JSON array rendered `batch` items at a time, each batch under the company lock (so each
    record is consistent) and the lock released before yielding (a slow client never blocks
    `advance`). `render` returns None to skip an item (filtered out, or gone since)."""
    yield b"["
    first = True
    for start in range(0, len(items), batch):
        with lock:
            objs = [o for o in map(render, items[start : start + batch]) if o is not None]
        if objs:
            text = dumps(objs)[1:-1]
            yield (text if first else "," + text).encode()
            first = False
    yield b"]"


def stream_reply(pieces: Iterable[bytes]) -> Reply:
    return Reply(200, stream=iter(pieces))
