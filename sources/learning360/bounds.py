"""Bounds on one answer and one listing, so a misbehaving server never hangs a sync: a body
trickling a byte at a time passes ``request_timeout`` (per read) but not ``response_deadline``
(for a streamed listing: the time without progress). docs/reliability.md."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import defaults
from .errors import ApiError, ConfigurationError, config_key

IDLE_SECONDS = 30.0  # a watchdog thread with nothing to watch for this long ends


class ListingOutOfBounds(ApiError):
    """A listing that never ends, or loops: not retried (the same server would do it again)."""


@dataclass(frozen=True)
class Bounds:
    response_deadline: float = defaults.DEFAULT_RESPONSE_DEADLINE
    max_listing_elements: int = defaults.DEFAULT_MAX_LISTING_ELEMENTS
    max_listing_pages: int = defaults.DEFAULT_MAX_LISTING_PAGES

    @classmethod
    def from_settings(cls, **settings: Any) -> Bounds:
        values = {}
        for name, value in settings.items():
            with contextlib.suppress(TypeError, ValueError):
                values[name] = type(getattr(cls, name))(value)
            if isinstance(value, bool) or not values.get(name, 0) > 0:  # NaN too
                raise ConfigurationError(
                    f"{name} {value!r} is not a positive number: set {config_key(name)} "
                    f"(default {getattr(cls, name):g})"
                )
        return cls(**values)

    def too_large(self, label: str, unit: str) -> ListingOutOfBounds:
        """A listing past ``max_listing_<unit>`` (``unit``: "elements" or "pages")."""
        verb, culprit = ("sent", "a body") if unit == "elements" else ("spans", "a next link")
        return ListingOutOfBounds(
            f"360Learning {label} {verb} more than {getattr(self, f'max_listing_{unit}')} {unit}, "
            f"the bound for one listing ({culprit} that never ends?); not read further: raise "
            f"{config_key(f'max_listing_{unit}')} if the company is really that large",
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


class ResponseWatchdog:
    """Shuts down (not closes: urllib3 owns the fd) the socket of an answer still being read when
    its deadline passes; one daemon thread per client and process (a few dozen sockets at most)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[int, tuple[socket.socket, float]] = {}  # handle -> socket, deadline
        self._expired: set[int] = set()
        self._ids = itertools.count()
        self._owner_pid = -1

    def watch(self, response: Any, seconds: float) -> int | None:
        """A handle for a streamed response; None when its socket is out of reach."""
        connection = getattr(getattr(response, "raw", None), "_connection", None)
        sock = getattr(connection, "sock", None)  # urllib3 2 keeps it until the body is read
        if not isinstance(sock, socket.socket):
            return None
        with self._cond:
            if self._owner_pid != os.getpid():  # no thread yet, an idle end, or a fork
                self._owner_pid = os.getpid()
                threading.Thread(
                    target=self._run, name="learning360-deadlines", daemon=True
                ).start()
            handle = next(self._ids)
            self._watched[handle] = (sock, time.monotonic() + max(0.0, seconds))
            self._cond.notify()
            return handle

    def extend(self, handle: int | None, seconds: float) -> None:
        with self._cond:
            if handle in self._watched:
                sock = self._watched[handle][0]
                self._watched[handle] = (sock, time.monotonic() + max(0.0, seconds))

    def release(self, handle: int | None) -> bool:
        """Stops watching; True when the deadline had passed (the socket was shut down)."""
        with self._cond:
            self._watched.pop(handle, None)
            expired = handle in self._expired
            self._expired.discard(handle)
            return expired

    def _run(self) -> None:
        with self._cond:
            while True:
                for handle, (sock, due) in list(self._watched.items()):
                    if due <= time.monotonic():
                        del self._watched[handle]
                        self._expired.add(handle)
                        with contextlib.suppress(OSError):  # already closed by the reader
                            # the plain socket's shutdown: SSLSocket's would drop its TLS state
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
                if self._watched:
                    self._cond.wait(
                        min(due for _, due in self._watched.values()) - time.monotonic()
                    )
                elif not self._cond.wait(IDLE_SECONDS) and not self._watched:
                    self._owner_pid = -1  # idle: the next watch() starts a new thread
                    return
