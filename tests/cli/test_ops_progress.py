"""Progress of `learning360 sync`: plain timestamped lines off a terminal, a live view on one,
quiet with --progress none or log level ERROR; the API requests are one of the counters."""

from __future__ import annotations

import io
import logging
import os
import pty
import re
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from emulator import Company, EmulatorServer
from pipelines.progress import (
    LineCollector,
    RequestStatsCollector,
    StageLineCollector,
    choose_mode,
    make_progress,
)
from sources.learning360.stats import RequestStats
from tests.cli.conftest import where

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ learning360 progress \| (extract|normalize|load) "
    r"(running|done|failed) \| (.+)$"
)


def progress_lines(err: str) -> list[re.Match[str]]:
    return [m for m in map(LINE.match, err.splitlines()) if m]


def assert_no_noise(err: str) -> None:
    """What issue 14 found in a log: CPU lines, float load ids, a resource count that
    contradicts the tables, per-table counters, a WARNING per absorbed 429."""
    assert "CPU usage" not in err
    assert not re.search(r"\d{10}\.\d+", err), err  # a load id as a float
    assert "Resources:" not in err
    assert "user_courses:" not in err
    assert "WARNING" not in err and "429 Too Many" not in err, err


def test_progress_emits_log_lines_when_not_a_terminal(configure, cli) -> None:
    run = cli("sync", "--progress-interval", "0.05", "--no-models")
    assert run.code == 0, run.err
    progress = progress_lines(run.err)
    assert progress, run.err
    assert {m.group(1) for m in progress} == {"extract", "normalize", "load"}
    # one closing line per step, after its running lines
    done = [m.group(1) for m in progress if m.group(2) == "done"]
    assert done == ["extract", "normalize", "load"], run.err
    extract = [m.group(3) for m in progress if m.group(1) == "extract"]
    assert all(re.match(r"[\d,]+ requests \([\d.]+/s\), 429s: \d+", t) for t in extract)
    assert re.search(r"[\d,]+ rows in \d+ tables, took \d+", extract[-1]), extract
    # the extract's request count is the summary's
    total = int(re.search(r"requests: (\d+)", run.out).group(1))  # type: ignore[union-attr]
    assert extract[-1].startswith(f"{total:,} requests"), (extract[-1], run.out)
    # while the per-item calls run, the work left is known: an ETA
    assert any(re.search(r"ETA \d+s \([\d,]+ calls due\)", t) for t in extract), extract
    assert re.search(
        r"files \d+/\d+", [m.group(3) for m in progress if m.group(1) == "normalize"][-1]
    )
    assert_no_noise(run.err)
    # progress goes to stderr, the summary alone to stdout
    assert "learning360 progress" not in run.out
    assert "\x1b[" not in run.err


@pytest.mark.slow
def test_medium_sync_logs_few_lines_with_an_eta(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14: a medium sync used to log ~200 lines; one line per step per interval now."""
    from pipelines.cli import main

    company = Company.generate(seed=7, size="medium")
    with EmulatorServer(company, port=0, rate_limit=250) as server:
        for key, value in {
            "SOURCES__LEARNING360__BASE_URL": server.base_url,
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": server.company_id,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": server.api_key,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "200",
            "RUNTIME__LOG_LEVEL": "WARNING",
        }.items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = main(["sync", *where(tmp_path), "--progress", "log", "--progress-interval", "3"])
        out, err = capsys.readouterr()
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) < 40, err
    progress = progress_lines(err)
    assert len(progress) == len(lines), err  # nothing but progress on stderr
    assert sum(1 for m in progress if m.group(1) == "extract" and m.group(2) == "running") >= 2
    assert any("ETA " in m.group(3) for m in progress if m.group(2) == "running"), err
    assert_no_noise(err)
    assert "learning360 sync: done" in out


def test_retried_429s_are_counted_not_warned(
    emulator: EmulatorServer, configure, cli, caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 the retry absorbs is the API pacing us: INFO in the log, counted in the progress
    line and the summary, no WARNING."""
    emulator.set_faults(burst_429_rate=0.1, seed=3)
    with caplog.at_level(logging.INFO):
        run = cli("sync", "--no-models", "--progress-interval", "30")
    assert run.code == 0, run.err
    limited = int(re.search(r"429 answers: (\d+)", run.out).group(1))  # type: ignore[union-attr]
    assert limited > 0, run.out
    extract_done = [m.group(3) for m in progress_lines(run.err) if m.group(2) == "done"][0]
    assert f"429s: {limited}," in extract_done, (extract_done, run.out)
    assert_no_noise(run.err)


@pytest.mark.parametrize("option", [["--progress", "none"], ["--log-level", "ERROR"]])
def test_no_progress_when_asked_or_quiet(
    configure, cli, option: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI exports --log-level as RUNTIME__LOG_LEVEL: let monkeypatch restore it afterwards
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    run = cli("sync", "--no-models", "--resources", "groups", *option)
    assert run.code == 0, run.err
    assert "learning360 progress" not in run.err
    assert not progress_lines(run.err)


def test_request_counter_totals_match_the_stats() -> None:
    stream = io.StringIO()
    stats = RequestStats()
    collector = RequestStatsCollector(LineCollector(log_period=0, stream=stream))
    collector.attach(stats)
    with collector("Extract learning360"):
        for _ in range(7):
            stats.record_request("GET users/{user_id}")
        stats.add(retries=1, rate_limited=1)
        collector.update("users", inc=3)
    with collector("Normalize learning360"):
        stats.record_request("GET users/{user_id}")  # not an extract step: not counted there
        collector.update("Files", inc=1, total=1)
    text = stream.getvalue()
    assert "| Extract learning360 | API requests: 7 " in text
    assert "[429: 1, retries: 1, busiest: GET users/{user_id} 7]" in text
    assert "| Normalize learning360 | API requests" not in text


def test_stage_lines_eta_and_failure() -> None:
    """The extract's ETA is the calls known to be due at the step's request rate; a step that
    raises ends with ``failed``; dlt's bookkeeping counters and its state table are not shown."""
    stream = io.StringIO()
    stats = RequestStats()
    collector = RequestStatsCollector(StageLineCollector(log_period=0, stream=stream))
    collector.attach(stats)
    with pytest.raises(RuntimeError), collector("Extract learning360"):
        stats.add(calls_planned=10)
        for _ in range(4):
            stats.record_request("GET users/{user_id}")
            stats.add(calls_done=1)
        stats.add(retries=1, rate_limited=1)
        collector.update("Resources", inc=1, total=7)
        collector.update("users", inc=4)
        inner = collector.inner
        assert isinstance(inner, StageLineCollector)
        inner._started -= 2.0  # two seconds in: 4 requests at 2/s, 6 calls due -> 3 s
        running = inner.line()
        raise RuntimeError("the API went away")
    assert running is not None
    assert running.endswith(
        "| extract running | 4 requests (2.0/s), 429s: 1, 4 rows in 1 tables, elapsed 2s, "
        "ETA 3s (6 calls due)"
    ), running
    last = stream.getvalue().splitlines()[-1]
    assert re.search(r"\| extract failed \| 4 requests \([\d.]+/s\), 429s: 1, 4 rows", last), last
    with collector("Extract learning360"):  # dlt's own state: nothing worth a line
        collector.update("_dlt_pipeline_state", inc=1)
    with collector("Load learning360 in 1796130533.2068217"):
        collector.update("Jobs", inc=3, total=4)
    lines = stream.getvalue().splitlines()
    assert lines[-1].endswith("| load done | jobs 3/4, took 0s"), lines
    assert "1796130533" not in stream.getvalue()
    assert len([line for line in lines if "| extract " in line]) == 1  # only the failed one


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
    assert isinstance(make_progress("log").inner, StageLineCollector)
    assert make_progress("log").inner.log_period == 30
    assert make_progress("log", interval=2).inner.log_period == 2


def test_interval_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEARNING360__PROGRESS_INTERVAL", "120")
    assert make_progress("log").inner.log_period == 120


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
