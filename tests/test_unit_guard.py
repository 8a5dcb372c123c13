"""The guard behind `make test-unit` (tests/unit_guard.py): it cannot drift unnoticed."""

from __future__ import annotations

import socket
import subprocess

import pytest

from emulator import EmulatorServer
from tests.unit_guard import GUARD, UnitGuardError


def test_a_unit_test_can_neither_connect_nor_start_a_process(request: pytest.FixtureRequest):
    assert request.node.get_closest_marker("unit")
    with pytest.raises(UnitGuardError, match="connected a socket"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with pytest.raises(UnitGuardError, match="started a process"):
        subprocess.run(["true"], check=True)
    opened = request.node.stash[GUARD].opened
    assert opened == ["connected a socket", "started a process"]
    opened.clear()  # else the guard fails this test after it returns, as it should


def test_a_server_fixture_makes_an_integration_test(
    request: pytest.FixtureRequest, emulator: EmulatorServer
) -> None:
    assert request.node.get_closest_marker("integration")
    assert not request.node.get_closest_marker("unit")
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5):
        pass
