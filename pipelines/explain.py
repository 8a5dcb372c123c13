"""The one line and exit code a failed command ends with, found in its exception chain.

Shared by the CLI, the forked extract (``stages.py``) and each tenant's child process, so all
three word a failure the same way.
"""

from __future__ import annotations

import signal

from pipelines import deadline, interrupts
from pipelines.checks import explain_config_error
from pipelines.exit_codes import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_LOCKED,
    StageFailed,
    SyncAlreadyRunning,
)
from sources.learning360.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    Learning360Error,
    redact,
)


def explain(exc: BaseException) -> tuple[int, str]:
    """Finds the actionable cause in an exception chain (dlt wraps source errors twice)."""
    signum = interrupts.signal_of(exc)  # Ctrl-C / SIGTERM, however dlt wrapped it
    if signum == signal.SIGINT and deadline.expired():  # the sync deadline interrupts so
        return EXIT_FAILED, deadline.expired_line()
    if signum is not None:
        return interrupts.exit_code(signum), interrupts.interrupted_line(signum)
    seen: set[int] = set()
    current: BaseException | None = exc
    innermost: BaseException = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SyncAlreadyRunning):
            return EXIT_LOCKED, str(current)
        if isinstance(current, StageFailed):  # explained in the child process already
            return current.code, current.line
        if isinstance(current, Learning360Error):
            code = EXIT_CONFIG if is_configuration_problem(current) else EXIT_FAILED
            return code, current.one_line()
        answer = explain_config_error(current)  # missing keys, bad values, extras, databases
        if answer is not None:
            return answer
        if isinstance(current, ValueError) and str(current).startswith(
            ("unknown resource", "unknown model")
        ):
            return EXIT_CONFIG, str(current)
        innermost = current
        current = current.__cause__ or current.__context__
    # dlt's own wrappers say only "failed at stage extract"; the innermost error says why
    text = redact(str(innermost)).strip()  # may quote a URL or a config value
    first = text.splitlines()[0] if text else ""
    line = f"{type(innermost).__name__}: {first}".rstrip(": ")
    step = getattr(exc, "step", None)
    if step in ("normalize", "load") and getattr(exc, "has_pending_data", False):
        # dlt retries a pending package before extracting anything new: say so, or a user
        # would wonder why every later run fails the same way (docs/reliability.md)
        line += (
            f" ({step} failed; the package stays pending and the next run retries it first; "
            "if it can never load, see `learning360 status` and docs/reliability.md)"
        )
    return EXIT_FAILED, line


def is_configuration_problem(exc: Learning360Error) -> bool:
    """Exit 2 (only a change of config fixes it) rather than 1 (the next run may succeed)."""
    if isinstance(exc, ConnectionFailedError):
        return not exc.transient
    return isinstance(exc, ConfigurationError | AuthenticationError)
