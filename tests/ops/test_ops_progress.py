"""Progress of `learning360 sync`: plain timestamped lines off a terminal, a live view on one,
quiet with --progress none or log level ERROR; the API requests are one of the counters."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from emulator import EmulatorServer
from pipelines.progress import LineCollector, RequestStatsCollector, choose_mode, make_progress
from sources.learning360.stats import RequestStats
from tests.ops.conftest import where

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ learning360 progress \| (\w+) [^|]+\| (.+)$")


def test_progress_emits_log_lines_when_not_a_terminal(configure, cli) -> None:
    run = cli("sync", "--progress-interval", "0.05", "--no-models")
    assert run.code == 0, run.err
    lines = [LINE.match(line) for line in run.err.splitlines()]
    progress = [m for m in lines if m]
    assert progress, run.err
    steps = {m.group(1) for m in progress}
    assert {"Extract", "Normalize", "Load"} <= steps
    extract = [m.group(2) for m in progress if m.group(1) == "Extract"]
    assert any(text.startswith("user_courses: ") and "Rate:" in text for text in extract)
    requests = [text for text in extract if text.startswith("API requests: ")]
    assert requests, extract
    assert re.search(r"\[429: 0, retries: 0, busiest: GET [^ ]+ \d+\]", requests[-1])
    # progress goes to stderr, the summary alone to stdout
    assert "learning360 progress" not in run.out
    assert "\x1b[" not in run.err


@pytest.mark.parametrize("option", [["--progress", "none"], ["--log-level", "ERROR"]])
def test_no_progress_when_asked_or_quiet(
    configure, cli, option: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI exports --log-level as RUNTIME__LOG_LEVEL: let monkeypatch restore it afterwards
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    run = cli("sync", "--no-models", "--resources", "groups", *option)
    assert run.code == 0, run.err
    assert "learning360 progress" not in run.err


def test_request_counter_totals_match_the_stats() -> None:
    stream = io.StringIO()
    stats = RequestStats()
    collector = RequestStatsCollector(LineCollector(log_period=0, stream=stream))
    collector.attach(stats)
    with collector("Extract learning360"):
        for _ in range(7):
            stats.record_request("GET users/{user_id}")
        stats.record_retry(rate_limited=True)
        collector.update("users", inc=3)
    with collector("Normalize learning360"):
        stats.record_request("GET users/{user_id}")  # not an extract step: not counted there
        collector.update("Files", inc=1, total=1)
    text = stream.getvalue()
    assert "| Extract learning360 | API requests: 7 " in text
    assert "[429: 1, retries: 1, busiest: GET users/{user_id} 7]" in text
    assert "| Normalize learning360 | API requests" not in text


def test_mode_choice() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert choose_mode("auto", stream=io.StringIO(), log_level="INFO") == "log"
    assert choose_mode("auto", stream=Tty(), log_level="ERROR") == "none"
    assert choose_mode("auto", stream=Tty(), log_level="WARNING") in (
        "live",
        "tqdm",
        "enlighten",
        "alive_progress",
    )
    assert make_progress("none") is None
    assert isinstance(make_progress("log").inner, LineCollector)


def test_live_progress_on_a_terminal(emulator: EmulatorServer, tmp_path: Path) -> None:
    """A real pseudo-terminal on stderr: the progress is redrawn in place (ANSI)."""
    env = {
        **os.environ,
        "SOURCES__LEARNING360__BASE_URL": emulator.base_url,
        "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": emulator.company_id,
        "SOURCES__LEARNING360__CREDENTIALS__API_KEY": emulator.api_key,
        "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "400",
        "RUNTIME__LOG_LEVEL": "WARNING",
    }
    master, slave = pty.openpty()
    chunks: list[bytes] = []
    done = threading.Event()

    def drain() -> None:
        # read while the sync runs (a full pty buffer would block it), then until quiet
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                chunks.append(data)
            elif done.is_set():
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "sync",
                *where(tmp_path),
                "--no-models",
                "--progress-interval",
                "0.05",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
    finally:
        done.set()
        reader.join(timeout=10)
        os.close(slave)
        os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, shown
    if choose_mode("auto", stream=_Tty(), log_level="WARNING") == "live":
        assert "\x1b[" in shown, (shown, proc.stdout)  # cursor movement: redrawn in place
        assert "-- Extract learning360 --" in shown
    assert "API requests" in shown
    assert b"learning360 sync: done" in proc.stdout


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True
