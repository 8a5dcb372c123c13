"""The `unit` / `integration` split (`make test-unit`), decided from each test's fixtures so it
cannot drift: a test is `integration` when it is marked so (it starts a server or a process
itself) or uses a fixture in SERVER_FIXTURES, else `unit`. A `unit` test that connects a socket
or starts a process, in its setup or its body, fails in every run (`make test` too)."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# fixtures that start a server (emulator, scripted HTTP, PostgreSQL, BigQuery emulator, webhook
# sink) or a browser / Airflow; those depending on them (configure, cli runs...) follow them
SERVER_FIXTURES = frozenset(
    {
        "emulator",  # tests/conftest.py, tests/source_v2/conftest.py
        "server",  # tests/emulator/, tests/source_v1/ (the scripted FakeServer)
        "api",
        "shared_api",
        "v1",
        "v2",
        "paged",
        "make_client",
        "servers",
        "other_emulator",
        "tenant",
        "sink_url",
        "warehouse",  # tests/report/: a sync against the emulator
        "chromium",
        "postgres_server",
        "bigquery_env",
        "airflow_bin",
    }
)
NOT_UNIT = ("integration", "slow", "bigquery", "airflow")

GUARD = pytest.StashKey["UnitGuard"]()


class UnitGuardError(RuntimeError):
    """Raised to a `unit` test that opens a connection or starts a process."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_server = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if any(item.get_closest_marker(name) for name in NOT_UNIT) or uses_server:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


# what a unit test may not call, wrapped once for the session (so a test's own monkeypatch of
# one of them saves and restores the wrapper, never a half-undone guard)
TARGETS: tuple[tuple[Any, str, str], ...] = (
    (socket.socket, "connect", "connected a socket"),
    (socket.socket, "connect_ex", "connected a socket"),
    (subprocess.Popen, "__init__", "started a process"),
    (os, "fork", "forked"),
    (os, "posix_spawn", "started a process"),
    (os, "posix_spawnp", "started a process"),
    (os, "system", "started a process"),
)
_originals: list[tuple[Any, str, Any]] = []


class UnitGuard:
    """What one unit test tried; threads alive before it (another test's server winding down)
    are left alone."""

    active: UnitGuard | None = None

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.exempt: set[threading.Thread] = set()

    def __enter__(self) -> UnitGuard:
        self.exempt = set(threading.enumerate()) - {threading.current_thread()}
        UnitGuard.active = self
        return self

    def __exit__(self, *exc: object) -> None:
        UnitGuard.active = None


def _refusing(original: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        guard = UnitGuard.active
        if guard is not None and threading.current_thread() not in guard.exempt:
            guard.opened.append(what)
            raise UnitGuardError(
                f"a unit test {what}: mark it @pytest.mark.integration, or add the fixture that "
                "starts the server to SERVER_FIXTURES in tests/unit_guard.py"
            )
        return original(*args, **kwargs)

    return guarded


def pytest_configure(config: pytest.Config) -> None:
    for owner, name, what in TARGETS:
        original = getattr(owner, name)
        _originals.append((owner, name, original))
        setattr(owner, name, _refusing(original, what))


def pytest_unconfigure(config: pytest.Config) -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)


def _guarded(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("unit") is None:
        return (yield)
    guard = item.stash.setdefault(GUARD, UnitGuard())
    with guard:
        result = yield
    if guard.opened:  # also when the code under test caught the error
        pytest.fail(f"{item.nodeid}: a unit test {guard.opened[0]}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))
