"""The response watchdog and the bounds' settings (sources/learning360/bounds.py), on real
sockets; the end-to-end cases are in tests/reliability/test_bounds.py."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest

from sources.learning360 import bounds as bounds_module
from sources.learning360.bounds import Bounds, ResponseWatchdog
from sources.learning360.errors import ConfigurationError


def _response(sock: socket.socket) -> SimpleNamespace:
    """What the watchdog reads of a streamed requests.Response: raw._connection.sock."""
    return SimpleNamespace(raw=SimpleNamespace(_connection=SimpleNamespace(sock=sock)))


def test_a_blocked_read_ends_at_the_deadline() -> None:
    reader, writer = socket.socketpair()
    reader.settimeout(10)  # the per-read timeout: far longer than the deadline
    watchdog = ResponseWatchdog()
    handle = watchdog.watch(_response(reader), 0.3)
    started = time.monotonic()
    assert reader.recv(10) == b""  # EOF: the socket was shut down under the read
    assert 0.25 <= time.monotonic() - started < 5
    assert watchdog.release(handle) is True
    reader.close()
    writer.close()


def test_an_answer_read_in_time_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounds_module, "IDLE_SECONDS", 0.2)
    reader, writer = socket.socketpair()
    watchdog = ResponseWatchdog()
    handle = watchdog.watch(_response(reader), 0.3)
    writer.sendall(b"ok")
    assert reader.recv(10) == b"ok"
    assert watchdog.release(handle) is False
    time.sleep(0.6)  # past the deadline it had, and past the idle time: the thread ended
    writer.sendall(b"still open")
    assert reader.recv(20) == b"still open"
    assert watchdog._owner_pid == -1
    again = watchdog.watch(_response(reader), 0.1)  # a new thread watches again
    assert reader.recv(10) == b""
    assert watchdog.release(again) is True
    reader.close()
    writer.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [("response_deadline", 0), ("max_listing_elements", -1), ("max_listing_pages", "many")],
)
def test_a_bound_that_is_not_a_positive_number_is_a_configuration_error(
    name: str, value: object
) -> None:
    settings = {"response_deadline": 300, "max_listing_elements": 10, "max_listing_pages": 10}
    settings[name] = value
    with pytest.raises(ConfigurationError, match=f"sources.learning360.{name}"):
        Bounds.from_settings(**settings)


def test_progress_moves_the_deadline() -> None:
    """A streamed listing extends its deadline as elements arrive (client.iter_array)."""
    reader, writer = socket.socketpair()
    reader.settimeout(10)
    watchdog = ResponseWatchdog()
    started = time.monotonic()
    handle = watchdog.watch(_response(reader), 0.4)
    for _ in range(3):  # 0.6 s of progress: past the first deadline
        time.sleep(0.2)
        writer.sendall(b"x")
        assert reader.recv(1) == b"x"
        watchdog.extend(handle, 0.4)
    assert reader.recv(10) == b""  # no progress for 0.4 s: cut
    assert time.monotonic() - started >= 0.9
    assert watchdog.release(handle) is True
    reader.close()
    writer.close()
