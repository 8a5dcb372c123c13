"""The overall sync deadline: no sync (or models rebuild) holds its pipeline's lock for longer.

Every answer and every listing is bounded (``sources/learning360/bounds.py``), but a sync is
many of them, and a load or a model can hang too. ``learning360.sync_deadline`` (seconds,
env ``LEARNING360__SYNC_DEADLINE``, default 6 h, which a large company never nears) starts when
the sync lock is taken. When it passes, a timer thread interrupts the main thread the way
Ctrl-C does, so the same path stops every stage (the forked extract is killed, dlt's load
stops at its next checkpoint, models stop between statements); the CLI then says one line and
exits 1, and the lock is released. The lock file records the deadline, so if the run is stuck
where no interrupt reaches (inside a C call), the next sync takes the lock over
(``pipelines/lock_takeover.py``).

Enforced only when the lock is taken on the main thread (signals go to the main thread); in
another thread the recorded deadline still lets the next sync take over.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import dlt

from sources.learning360.errors import ConfigurationError
from sources.learning360.validation import positive_number_problem

DEFAULT_SYNC_DEADLINE = 6 * 3600.0
SETTING = "learning360.sync_deadline"
SETTING_HINT = f"{SETTING} (env LEARNING360__SYNC_DEADLINE)"

_expired = threading.Event()
_limit_seconds: list[float] = [DEFAULT_SYNC_DEADLINE]


def sync_deadline_seconds() -> float:
    """The configured deadline; a value that is not a positive number is a configuration error."""
    value = dlt.config.get(SETTING)
    if value is None:
        return DEFAULT_SYNC_DEADLINE
    problem = f"is {value!r}, not a number" if isinstance(value, bool) else None
    problem = problem or positive_number_problem(value)
    if problem:
        raise ConfigurationError(
            f"{SETTING_HINT} {problem} (seconds; default {DEFAULT_SYNC_DEADLINE:g})"
        )
    return float(value)


@contextmanager
def enforced(seconds: float) -> Iterator[datetime]:
    """Interrupts the main thread once ``seconds`` have passed; yields the deadline (UTC)."""
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    _expired.clear()
    _limit_seconds[0] = seconds
    if threading.current_thread() is not threading.main_thread():
        yield until
        return
    main = threading.main_thread().ident
    assert main is not None

    def expire() -> None:
        _expired.set()
        signal.pthread_kill(main, signal.SIGINT)  # a real signal: it wakes a blocking read too

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.name = "learning360-sync-deadline"
    timer.start()
    try:
        yield until
    finally:
        timer.cancel()


def expired() -> bool:
    """True when the interruption being handled came from the deadline, not from a user."""
    return _expired.is_set()


def expired_line() -> str:
    return (
        f"the sync ran past its deadline of {_limit_seconds[0]:g} s and was stopped; the next "
        "sync completes what this one started: if the company really needs longer, raise "
        f"{SETTING_HINT}"
    )
