"""Live progress of `learning360 sync`: rows per resource, API requests, rate, 429s and retries.

Built on dlt's progress collectors (``dlt.pipeline(progress=...)``), so extract, normalize and
load report what dlt counts itself (rows per table, files, load jobs) and this module only adds
the source's request counters (:class:`~sources.learning360.quarantine.RequestStats`) as one
more counter, ``API requests``, with the 429s, retries and busiest route as its message.

What is shown where (``--progress auto``, the default):

* **stderr is a terminal**: a live view. dlt's ``tqdm``, ``enlighten`` or ``alive_progress``
  collector if that library is installed (none is a dependency of this project), otherwise
  :class:`LiveCollector`: dlt's ``LogCollector`` redrawn in place every half second (ANSI
  cursor movement, no extra package).
* **stderr is not a terminal** (cron, CI, Airflow): :class:`StageLineCollector`, one
  timestamped line per step (extract, normalize, load) every ``--progress-interval`` seconds
  (default 30, or ``learning360.progress_interval``) and one when the step ends: requests,
  rows, rate, 429s and an ETA where the work left is known (the per-item calls due, dlt's
  files and load jobs). No per-table lines, CPU line or load ids: a one-minute sync logs a
  handful of lines.
* ``[runtime] log_level`` (or ``--log-level``) ``ERROR`` or ``CRITICAL`` turns progress off
  (quiet), as does ``--progress none``.

Progress goes to stderr; the final summary (``pipelines/summary.py``) goes to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import logging
import sys
import threading
import time
from typing import Any, TextIO

import dlt
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.runtime.collector import Collector, LogCollector
from dlt.pipeline.progress import _from_name

MODES = ("auto", "log", "live", "tqdm", "enlighten", "alive_progress", "none")
LIVE_LIBRARIES = ("tqdm", "enlighten", "alive_progress")  # dlt's own collectors, if installed
DEFAULT_LOG_INTERVAL = 30.0  # seconds between progress lines in a log file
DEFAULT_LIVE_INTERVAL = 0.5  # seconds between redraws on a terminal
REQUESTS_COUNTER = "API requests"
QUIET_LEVELS = ("ERROR", "CRITICAL", "FATAL")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--progress`` and ``--progress-interval`` for ``learning360 sync``."""
    parser.add_argument(
        "--progress",
        default="auto",
        choices=MODES,
        help="auto (default): live on a terminal, timestamped log lines otherwise; "
        "log; live; tqdm/enlighten/alive_progress (if installed); none",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=None,
        help=f"seconds between progress lines (default {DEFAULT_LOG_INTERVAL:g} in a log, "
        f"or learning360.progress_interval; {DEFAULT_LIVE_INTERVAL:g} on a terminal)",
    )


def _stderr() -> TextIO:
    return sys.stderr  # looked up at write time, so pytest's capture and redirections apply


def _psutil_available() -> bool:
    return importlib.util.find_spec("psutil") is not None


class LineCollector(LogCollector):
    """dlt's ``LogCollector`` as plain log lines: every line carries a UTC timestamp and the
    step, so ``grep 'Extract'`` on a cron log shows the progress of the extract step."""

    def __init__(self, log_period: float = DEFAULT_LOG_INTERVAL, stream: TextIO | None = None):
        super().__init__(
            log_period=log_period,
            logger="stdout",
            log_level=logging.INFO,
            dump_system_stats=_psutil_available(),
        )
        self._stream = stream

    def _lines(self) -> list[str]:
        now = self._clock()
        lines = [
            self._counter_to_log_line(key, count, self.counter_info[key], now)
            for key, count in self.counters.items()
        ]
        if self.dump_system_stats:
            lines.append(self._system_stats_to_log_line())
        return lines

    def dump_counters(self) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        prefix = f"{stamp} learning360 progress | {self.step} | "
        stream = self._stream or _stderr()
        stream.write("".join(prefix + line + "\n" for line in self._lines()))
        stream.flush()


# dlt counters that are not rows of a table: bookkeeping (extract), work units with a total
# (normalize: files, load: jobs)
_BOOKKEEPING = ("Resources",)
_WORK_UNITS = ("Files", "Jobs")


def _duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class StageLineCollector(Collector):
    """One line per step per interval, for logs: what a person reading a cron or Airflow log
    wants to know (is it moving, how fast, how long still), not dlt's per-table counters.

    ``2026-12-01T13:10:06Z learning360 progress | extract running | 1,110 requests (47.7/s),
    429s: 0, 24,029 rows in 8 tables, elapsed 23s, ETA 33s (1,571 calls due)``

    (``grep 'learning360 progress'`` finds them; ``done`` or ``failed`` closes a step.)

    A background timer writes the line every ``log_period`` seconds, whether or not dlt
    reported anything since (a long request still shows the sync is alive); the step's last
    line is written when it ends. The extract ETA is the per-item calls known to be due
    (``RequestStats.calls_planned`` less ``calls_done``) at the step's request rate; normalize
    and load use dlt's file and job totals.
    """

    def __init__(self, log_period: float = DEFAULT_LOG_INTERVAL, stream: TextIO | None = None):
        self.step: str = ""
        self.log_period = log_period
        self.stats: Any = None
        self._stream = stream
        self._lock = threading.Lock()
        self._stage = ""
        self._rows: dict[str, int] = {}
        self._units: dict[str, list[int]] = {}  # Files / Jobs: [done, total]
        self._started = 0.0
        self._requests_at_start = 0
        self._limited_at_start = 0
        self._timer: threading.Thread | None = None
        self._stopped = threading.Event()
        self._failed = False  # the step is ending with an exception

    def attach(self, stats: Any) -> None:
        """The ``RequestStats`` of the run about to start."""
        self.stats = stats

    def _start(self, step: str) -> None:
        with self._lock:
            self._stage = (step or "").split(" ")[0].lower()  # "Normalize learning360 in <id>"
            self._rows, self._units = {}, {}
            self._started = time.monotonic()
            stats = self.stats
            self._requests_at_start = stats.requests if stats is not None else 0
            self._limited_at_start = stats.rate_limited if stats is not None else 0
        self._stopped = threading.Event()
        if self.log_period > 0:
            self._timer = threading.Thread(
                target=self._tick, args=(self._stopped,), name="learning360-progress", daemon=True
            )
            self._timer.start()

    def _tick(self, stopped: threading.Event) -> None:
        while not stopped.wait(self.log_period):
            self._write()

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        if exc_type is not None:
            self.step_failed()
        super().__exit__(exc_type, exc_val, exc_tb)

    def step_failed(self) -> None:
        """The step is ending with an exception: its last line says ``failed``, not ``done``."""
        self._failed = True

    def _stop(self) -> None:
        self._stopped.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
            self._timer = None
        self._write(final=True)
        self._failed = False

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        if name in _BOOKKEEPING or name.startswith("_dlt") or label:
            return
        with self._lock:
            if name in _WORK_UNITS:
                unit = self._units.setdefault(name, [0, 0])
                unit[0] += inc
                unit[1] = max(unit[1], total or 0) + (inc_total or 0)
            else:
                self._rows[name] = self._rows.get(name, 0) + inc

    def line(self, *, final: bool = False) -> str | None:
        """The progress line of the current step; None when the step has nothing to show
        (dlt's separate extract of its own state table, say)."""
        with self._lock:
            elapsed = time.monotonic() - self._started
            rows, tables = sum(self._rows.values()), len(self._rows)
            units = {k: tuple(v) for k, v in self._units.items()}
            stats = self.stats
            extract = self._stage == "extract"
            requests = (stats.requests - self._requests_at_start) if stats and extract else 0
            limited = (stats.rate_limited - self._limited_at_start) if stats and extract else 0
            to_go = max(0, stats.calls_planned - stats.calls_done) if stats and extract else 0
        parts: list[str] = []
        if requests or (extract and stats is not None and (rows or not final)):
            rate = requests / elapsed if elapsed > 0 else 0.0
            parts += [f"{requests:,} requests ({rate:.1f}/s)", f"429s: {limited}"]
        for name, (done, total) in units.items():
            parts.append(f"{name.lower()} {done}/{total}" if total else f"{name.lower()} {done}")
        if rows:
            parts.append(f"{rows:,} rows in {tables} tables")
        if not parts:
            return None
        parts.append(f"{'took' if final else 'elapsed'} {_duration(elapsed)}")
        if not final:
            eta = self._eta(elapsed, requests, to_go, units)
            if eta:
                parts.append(eta)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        state = ("failed" if self._failed else "done") if final else "running"
        return f"{stamp} learning360 progress | {self._stage} {state} | " + ", ".join(parts)

    @staticmethod
    def _eta(
        elapsed: float, requests: int, to_go: int, units: dict[str, tuple[int, int]]
    ) -> str | None:
        if to_go and requests and elapsed > 0:
            return f"ETA {_duration(to_go / (requests / elapsed))} ({to_go:,} calls due)"
        for done, total in units.values():
            if total and 0 < done < total:
                return f"ETA {_duration(elapsed * (total - done) / done)}"
        return None

    def _write(self, *, final: bool = False) -> None:
        text = self.line(final=final)
        if text is None:
            return
        stream = self._stream or _stderr()
        stream.write(text + "\n")
        stream.flush()


class LiveCollector(LineCollector):
    """The same counters redrawn in place on a terminal (no progress library needed)."""

    def __init__(self, log_period: float = DEFAULT_LIVE_INTERVAL, stream: TextIO | None = None):
        super().__init__(log_period=log_period, stream=stream)
        self._drawn = 0

    def dump_counters(self) -> None:
        stream = self._stream or _stderr()
        lines = [f"-- {self.step} --", *self._lines()]
        # move up over the previous drawing of this step and clear to the end of the screen
        erase = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        stream.write(erase + "\n".join(lines) + "\n")
        stream.flush()
        self._drawn = len(lines)

    def _start(self, step: str) -> None:
        super()._start(step)
        self._drawn = 0


class RequestStatsCollector(Collector):
    """Wraps any dlt collector and adds the source's request counters to it.

    dlt calls ``update`` for every batch of rows; on each call during an extract step this
    pushes the requests made since the last call as the ``API requests`` counter, so the
    wrapped collector shows their total and rate next to the rows per resource.
    """

    def __init__(self, inner: Collector):
        self.inner = inner
        self.step = None
        self.stats: Any = None
        self._pushed = 0
        self._started: float | None = None

    def attach(self, stats: Any) -> None:
        """The ``RequestStats`` of the run about to start (``run_sync`` calls this)."""
        self.stats = stats
        self._pushed = stats.requests if stats is not None else 0
        if isinstance(self.inner, StageLineCollector):
            self.inner.attach(stats)  # reads the counters itself

    def __call__(self, step: str) -> RequestStatsCollector:
        self.step = step
        self.inner(step)
        return self

    def _start(self, step: str) -> None:
        self.inner._start(step)
        self._started = self.inner._clock() if isinstance(self.inner, LogCollector) else None
        if self.stats is not None:
            self._pushed = self.stats.requests  # counts per step; only extract makes requests

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        if exc_type is not None and isinstance(self.inner, StageLineCollector):
            self.inner.step_failed()
        super().__exit__(exc_type, exc_val, exc_tb)

    def _stop(self) -> None:
        self._push()
        self.inner._stop()

    def update(self, name: str, *args: Any, **kwargs: Any) -> None:
        self._push()
        self.inner.update(name, *args, **kwargs)

    def _push(self) -> None:
        stats = self.stats
        if (
            stats is None
            or isinstance(self.inner, StageLineCollector)
            or not str(self.step or "").startswith("Extract")
        ):
            return
        done = stats.requests
        if done <= self._pushed:
            return
        inc, self._pushed = done - self._pushed, done
        inner = self.inner
        if (
            isinstance(inner, LogCollector)
            and self._started is not None
            and inner.counters is not None
            and REQUESTS_COUNTER not in inner.counters
        ):
            # the requests began with the step, not when dlt first reported rows: start the
            # counter at the step's start so its rate is requests per second of the step
            inner.counters[REQUESTS_COUNTER] = 0
            inner.counter_info[REQUESTS_COUNTER] = LogCollector.CounterInfo(
                REQUESTS_COUNTER, self._started, None
            )
            inner.messages[REQUESTS_COUNTER] = None
        inner.update(REQUESTS_COUNTER, inc=inc, message=request_message(stats))

    # dlt's trace hooks, passed through (the stock collectors ignore them)
    def on_start_trace(self, *args: Any, **kwargs: Any) -> None:
        self.inner.on_start_trace(*args, **kwargs)

    def on_start_trace_step(self, *args: Any, **kwargs: Any) -> None:
        self.inner.on_start_trace_step(*args, **kwargs)

    def on_end_trace_step(self, *args: Any, **kwargs: Any) -> None:
        self.inner.on_end_trace_step(*args, **kwargs)

    def on_end_trace(self, *args: Any, **kwargs: Any) -> None:
        self.inner.on_end_trace(*args, **kwargs)


def request_message(stats: Any) -> str:
    """``429: 0, retries: 2, busiest: GET users/{user_id} 50`` from a ``RequestStats``."""
    counters = stats.as_dict()
    routes: dict[str, int] = counters.get("requests") or {}
    text = f"429: {counters.get('429', 0)}, retries: {counters.get('retries', 0)}"
    if routes:
        route, count = max(routes.items(), key=lambda item: item[1])
        text += f", busiest: {route} {count}"
    return text


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _log_level(explicit: str | None) -> str:
    if explicit:
        return explicit.upper()
    try:
        return str(resolve_configuration(RuntimeConfiguration()).log_level or "WARNING").upper()
    except Exception:  # a broken config surfaces in the sync itself, with a proper message
        return "WARNING"


def choose_mode(
    mode: str = "auto", *, stream: TextIO | None = None, log_level: str | None = None
) -> str:
    """The concrete mode for ``auto``: ``none`` when quiet, a live view on a terminal (a dlt
    progress library if installed, else ``live``), ``log`` otherwise."""
    if mode != "auto":
        return mode
    if _log_level(log_level) in QUIET_LEVELS:
        return "none"
    if not _is_terminal(stream or _stderr()):
        return "log"
    for library in LIVE_LIBRARIES:
        if importlib.util.find_spec(library) is not None:
            return library
    return "live"


def make_progress(
    mode: str = "auto",
    *,
    interval: float | None = None,
    stream: TextIO | None = None,
    log_level: str | None = None,
) -> RequestStatsCollector | None:
    """The collector to pass as ``make_pipeline(progress=...)``; None for no progress."""
    chosen = choose_mode(mode, stream=stream, log_level=log_level)
    inner: Collector
    if chosen == "none":
        return None
    if chosen == "log":
        inner = StageLineCollector(interval or configured_interval(), stream=stream)
    elif chosen == "live":
        inner = LiveCollector(interval or DEFAULT_LIVE_INTERVAL, stream=stream)
    else:
        inner = _from_name(chosen)  # raises MissingDependencyException if not installed
    return RequestStatsCollector(inner)


def configured_interval() -> float:
    """``learning360.progress_interval`` (``LEARNING360__PROGRESS_INTERVAL``), seconds between
    progress lines in a log; 30 by default."""
    try:
        value = dlt.config.get("learning360.progress_interval", float)
    except Exception:  # a broken value is not worth failing a sync over: the default
        value = None
    return float(value) if value else DEFAULT_LOG_INTERVAL


def progress_from_args(args: argparse.Namespace) -> RequestStatsCollector | None:
    """``make_progress`` for the CLI's ``--progress``/``--progress-interval``/``--log-level``."""
    return make_progress(
        getattr(args, "progress", None) or "auto",
        interval=getattr(args, "progress_interval", None),
        log_level=getattr(args, "log_level", None),
    )


def attach_request_stats(pipeline: Any, stats: Any) -> None:
    """Let the pipeline's progress (if it is ours) count this run's API requests."""
    collector = getattr(pipeline, "collector", None)
    if isinstance(collector, RequestStatsCollector):
        collector.attach(stats)
