"""Ctrl-C (SIGINT) and SIGTERM end a command with one line and exit 130 / 143, in every stage.

Python turns SIGINT into ``KeyboardInterrupt``; :func:`install` makes SIGTERM raise
:class:`Terminated` the same way (by default it would kill the process with no word and no
cleanup). During normalize and load dlt intercepts both signals itself and stops at its next
checkpoint with ``SignalReceivedException``; in the forked extract the parent stops the child
(``pipelines/stages.py``). :func:`signal_of` finds the signal behind any of these, however
dlt wrapped it, so the CLI says one line instead of a traceback or a generic exit 1.

What an interrupted sync leaves: an extract in progress is dropped; a package being normalized
or loaded stays pending and the next sync loads it first; a models build stops part way, is
reported by ``learning360 status`` and rebuilt by the next sync or ``learning360 models``
(docs/reliability.md).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from dlt.common.exceptions import SignalReceivedException
from dlt.common.runtime import signals as dlt_signals

from pipelines.exit_codes import StageFailed

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal number
_NAMES = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGTERM: "SIGTERM"}


class Terminated(BaseException):
    """SIGTERM, raised in the main thread as ``KeyboardInterrupt`` is for SIGINT. A
    BaseException so no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install() -> Callable[[], None]:
    """SIGTERM raises :class:`Terminated` (main thread only; elsewhere signals stay as they
    are). Returns what puts the previous handler back (``main`` may run inside a test)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    return lambda: signal.signal(signal.SIGTERM, previous)


def signal_of(exc: BaseException) -> int | None:
    """The signal that ended this run, looking through dlt's wrappers; None if not a signal."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SignalReceivedException):  # a KeyboardInterrupt subclass
            return int(current.signal_code)
        if isinstance(current, KeyboardInterrupt):
            return signal.SIGINT
        if isinstance(current, Terminated):
            return current.signum
        if isinstance(current, StageFailed) and current.code in EXIT_CODES.values():
            return next(s for s, code in EXIT_CODES.items() if code == current.code)
        current = current.__cause__ or current.__context__
    return None


def exit_code(signum: int) -> int:
    return EXIT_CODES.get(signal.Signals(signum), 128 + int(signum))


def interrupted_line(signum: int) -> str:
    """The one line: what happened and what the next run does."""
    try:
        name = _NAMES.get(signal.Signals(signum)) or signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return (
        f"interrupted by {name}; the next sync completes what this one started (pending "
        "loads first; derived models also with `learning360 models`)"
    )


@contextmanager
def graceful(pipeline: Any) -> Iterator[None]:
    """Around a dlt load: a first Ctrl-C or SIGTERM asks dlt to stop at its next checkpoint
    (as dlt's own interception does), and is raised again once the step returns. dlt's own
    interception forgets a signal that lands after the load's last checkpoint, and the sync
    then went on through the models and exited 0. A second signal stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if received:
            raise _exception_for(signum)
        received.append(signum)
        dlt_signals.set_received_signal(signum)  # dlt's load raises at its next checkpoint
        dlt_signals.wake_all()

    config = pipeline.runtime_config
    intercept = config.intercept_signals
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    config.intercept_signals = False  # ours instead: dlt would replace on_signal with its own
    try:
        yield
    finally:
        config.intercept_signals = intercept
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        dlt_signals.set_received_signal(0)
    if received:
        raise _exception_for(received[0])


def _exception_for(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)
