"""The CLI: prints the connection details, writes the ready file, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator.cli import add_arguments, build_parser


@pytest.mark.integration
def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--seed", "3", "--users", "20", "--ready-file", str(ready),
         "--advance-every", "0.2"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert set(info) == {
            "base_url",
            "company_id",
            "api_key",
            "admin_token",
            "client_id",
            "client_secret",
        }
        r = requests.get(
            f"{info['base_url']}/api/v1/users",
            headers={"X-company-id": info["company_id"], "X-apiKey": info["api_key"]},
        )
        assert r.status_code == 200 and len(r.json()) <= 20
        time.sleep(0.5)
        now = requests.get(
            f"{info['base_url']}/_emulator/truth", headers={"X-Emulator-Admin": info["admin_token"]}
        ).json()["now"]
        assert now > "2026-06-01T00:00:00.000Z", "--advance-every moved the clock"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    lines = dict(
        line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("#")
    )
    assert lines["company_id"] == info["company_id"] and lines["admin_token"] == info["admin_token"]


def test_parser_is_mountable() -> None:
    import argparse

    parser = add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(
        ["--size", "medium", "--error-rate", "0.1", "--variants", "--users", "10"]
    )
    assert (args.size, args.fault_error_rate, args.variants, args.users) == (
        "medium",
        0.1,
        True,
        10,
    )
    assert build_parser().parse_args([]).port == 8360
