"""The `unit` / `integration` split (`make test-unit`), decided from each test's fixtures so it
cannot drift: a test is `integration` when it is marked so (it starts a server or a process
itself) or uses a fixture in SERVER_FIXTURES, else `unit`. A `unit` test that connects a socket
or starts a process, in its setup or its body, fails in every run (`make test` too)."""

from __future__ import annotations

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


class UnitGuard:
    """Refuses sockets' connects and child processes to the test's threads; threads alive before
    (another test's server winding down) are left alone."""

    TARGETS: tuple[tuple[Any, str, str], ...] = (
        (socket.socket, "connect", "connected a socket"),
        (socket.socket, "connect_ex", "connected a socket"),
        (subprocess.Popen, "__init__", "started a process"),
        (os, "fork", "forked"),
        (os, "posix_spawn", "started a process"),
        (os, "posix_spawnp", "started a process"),
        (os, "system", "started a process"),
    )

    def __init__(self) -> None:
        self.opened: list[str] = []
        self._patch = pytest.MonkeyPatch()

    def _refuse(self, what: str, original: Callable[..., Any], exempt: set[Any]) -> Callable:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() in exempt:
                return original(*args, **kwargs)
            self.opened.append(what)
            raise UnitGuardError(
                f"a unit test {what}: mark it @pytest.mark.integration, or add the fixture that "
                "starts the server to SERVER_FIXTURES in tests/unit_guard.py"
            )

        return guarded

    def __enter__(self) -> UnitGuard:
        exempt = set(threading.enumerate()) - {threading.current_thread()}
        for owner, name, what in self.TARGETS:
            self._patch.setattr(owner, name, self._refuse(what, getattr(owner, name), exempt))
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.undo()


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
