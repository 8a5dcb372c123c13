"""Bounds on what one answer or one listing may cost, so a misbehaving server never hangs a sync.

``request_timeout`` bounds each *read*: a body that trickles one byte every few seconds never
trips it and would hold the sync (and its lock) for hours. Three bounds close that:

* ``response_deadline``: seconds from sending a request to the last byte of its answer; for a
  streamed listing (v1), seconds without a complete element, so a large listing streams as
  long as it makes progress while a trickle (one byte every few seconds: hundreds of seconds
  per element) is cut. A :class:`ResponseWatchdog` thread shuts the socket down when it
  passes, which ends any blocking read at once (the read returns EOF); the client then
  retries the request like a timeout.
* ``max_listing_elements``: elements one listing may hold (a v1 streamed array, or all pages of
  a v2 listing); a body that never ends is an error, not retried.
* ``max_listing_pages``: pages one v2 listing may span. A ``Link: rel="next"`` pointing back to
  a page already read is an error at once (it would be followed forever).

The defaults are far above a large company (20,000 users, 250,000 attempts: ~1 min per
response at most, 250,000 elements in the largest listing), so only a broken server hits them.
Settings: ``[sources.learning360]`` ``response_deadline``, ``max_listing_elements``,
``max_listing_pages`` (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from .defaults import (
    DEFAULT_MAX_LISTING_ELEMENTS,
    DEFAULT_MAX_LISTING_PAGES,
    DEFAULT_RESPONSE_DEADLINE,
)
from .errors import ApiError, ConfigurationError, config_key

IDLE_SECONDS = 30.0  # a watchdog thread with nothing to watch for this long ends


class ListingOutOfBounds(ApiError):
    """A listing that never ends, or loops: not retried (the same server would do it again)."""


@dataclass(frozen=True)
class Bounds:
    response_deadline: float = DEFAULT_RESPONSE_DEADLINE
    max_listing_elements: int = DEFAULT_MAX_LISTING_ELEMENTS
    max_listing_pages: int = DEFAULT_MAX_LISTING_PAGES

    @classmethod
    def from_settings(
        cls, response_deadline: Any, max_listing_elements: Any, max_listing_pages: Any
    ) -> Bounds:
        """Validated settings; a value that is not a positive number is a configuration error."""
        return cls(
            response_deadline=_positive("response_deadline", response_deadline, float),
            max_listing_elements=int(_positive("max_listing_elements", max_listing_elements, int)),
            max_listing_pages=int(_positive("max_listing_pages", max_listing_pages, int)),
        )

    def too_many_elements(self, label: str, count: int) -> ListingOutOfBounds:
        return ListingOutOfBounds(
            f"360Learning {label} sent more than {self.max_listing_elements} elements, the "
            "bound for one listing (a body that never ends?); not read further: raise "
            f"{config_key('max_listing_elements')} if the company is really that large",
            route=label,
        )

    def too_many_pages(self, label: str) -> ListingOutOfBounds:
        return ListingOutOfBounds(
            f"360Learning {label} spans more than {self.max_listing_pages} pages, the bound for "
            "one listing (a next link that never ends?); not read further: raise "
            f"{config_key('max_listing_pages')} if the company is really that large",
            route=label,
        )

    @staticmethod
    def looping_link(label: str, page: int) -> ListingOutOfBounds:
        return ListingOutOfBounds(
            f'360Learning {label}: the Link rel="next" of page {page} points back to a page '
            "already read; not followed (it would loop forever): a server-side bug, the next "
            "sync retries",
            route=label,
        )


def _positive(name: str, value: Any, kind: type) -> float:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or not number > 0:
        raise ConfigurationError(
            f"{name} {value!r} is not a positive number: set {config_key(name)} "
            f"(default {getattr(Bounds, name):g})"
        )
    return float(number)


class ResponseWatchdog:
    """Shuts down the socket of an answer still being read when its deadline passes.

    One daemon thread per client (started on first use, again in a forked child, whose threads
    do not survive ``fork``, and after it ended idle), a heap of deadlines; registering and
    releasing are O(log n).
    Shutting a socket down (not closing it: its fd belongs to urllib3) makes a blocked ``recv``
    in the reading thread return at once, so the reader sees a body cut short and the client
    asks :meth:`release` whether that was the deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._sockets: dict[int, socket.socket] = {}
        self._due: dict[int, float] = {}  # the current deadline per handle (the heap may hold
        # older, superseded ones: skipped when they come up)
        self._expired: set[int] = set()
        self._ids = itertools.count()
        self._owner_pid = -1

    def watch(self, response: Any, seconds: float) -> int | None:
        """Registers ``response`` (a streamed ``requests.Response``); a handle for
        :meth:`release`, None when its socket cannot be reached (then only the read timeout
        applies)."""
        sock = _socket_of(response)
        if sock is None:
            return None
        with self._cond:
            self._ensure_thread()
            handle = next(self._ids)
            self._sockets[handle] = sock
            self._push(handle, seconds)
            return handle

    def extend(self, handle: int | None, seconds: float) -> None:
        """A new deadline, ``seconds`` from now (a streamed listing that makes progress)."""
        if handle is None:
            return
        with self._cond:
            if handle in self._sockets:
                self._push(handle, seconds)

    def _push(self, handle: int, seconds: float) -> None:
        due = time.monotonic() + max(0.0, seconds)
        self._due[handle] = due
        heapq.heappush(self._heap, (due, handle))
        self._cond.notify()

    def release(self, handle: int | None) -> bool:
        """Stops watching; True when the deadline had passed (the socket was shut down)."""
        if handle is None:
            return False
        with self._cond:
            self._sockets.pop(handle, None)
            self._due.pop(handle, None)
            if handle in self._expired:
                self._expired.discard(handle)
                return True
            return False

    def _ensure_thread(self) -> None:
        if self._owner_pid == os.getpid():
            return
        self._owner_pid = os.getpid()
        # a forked child inherits a lock held by no thread of its own: start clean
        self._heap = [(due, h) for h, due in self._due.items() if h in self._sockets]
        heapq.heapify(self._heap)
        threading.Thread(target=self._run, name="learning360-deadlines", daemon=True).start()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # released before its deadline, or extended
                if not self._heap:
                    if not self._cond.wait(IDLE_SECONDS) and not self._heap:
                        self._owner_pid = -1  # idle: the next watch() starts a new thread
                        return
                    continue
                due, handle = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                del self._due[handle]
                sock = self._sockets.pop(handle)
                self._expired.add(handle)
                with contextlib.suppress(OSError):  # already closed by the reader
                    # the plain socket's shutdown: SSLSocket's would also drop its TLS object
                    # under the reading thread
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _socket_of(response: Any) -> socket.socket | None:
    """The socket under a streamed ``requests.Response`` (urllib3 2 keeps the connection on
    the response until the body is read)."""
    connection = getattr(getattr(response, "raw", None), "_connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None
