"""Extract and normalize in a forked child process, load and models in the parent.

Why: the memory a Python process takes while extracting (20,000 users' details, 250,000
attempts, ~300 MB of mostly freed but fragmented small objects) is never given back to the OS,
and DuckDB then adds its own ~200 MB to load and build the models. Run in one process, a large
tenant's sync peaked at ~600-970 MB; with extract + normalize in a child that exits before the
load starts, the two never add up (BENCHMARKS.md, "Where the memory goes").

The child is a ``fork`` of the sync: it shares the configured pipeline, source arguments and
progress display, and hands back only a small JSON result (request counts, rows per table) or
the one-line error the CLI would print. It dies with its parent (``PR_SET_PDEATHSIG``), so a
killed sync never leaves an orphan extracting, and it drops its copy of the sync lock at once,
so the lock is released the moment the parent dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from pipelines import interrupts
from pipelines.exit_codes import EXIT_FAILED, StageFailed
from pipelines.explain import explain

__all__ = ["StageFailed", "available", "die_with_parent", "run_in_child"]

PR_SET_PDEATHSIG = 1


def available() -> bool:
    """Forking is how stages are isolated; not on platforms without ``fork``."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """This process gets ``signum`` when its parent dies (``PR_SET_PDEATHSIG``, Linux), so no
    orphan goes on extracting or syncing; it exits at once if the parent is already gone."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() == 1:  # the parent died before prctl
        os._exit(EXIT_FAILED)


def run_in_child(
    stage: Callable[[], dict[str, Any]], close_fds: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Runs ``stage`` in a forked child and returns its JSON-able result, or raises
    :class:`StageFailed` with the line :func:`pipelines.explain.explain` gives for its error."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read_end)
            die_with_parent()
            for fd in close_fds:  # the sync lock: held by the parent's copy only
                os.close(fd)
            captured = _capture_unless_real_files()
            try:
                payload: dict[str, Any] = {"ok": True, "result": stage()}
            except BaseException as exc:  # noqa: BLE001 - everything goes to the parent
                code, line = explain(exc)
                payload = {"ok": False, "code": code, "line": line}
            if captured:
                payload["stdout"], payload["stderr"] = (buf.getvalue() for buf in captured)
            # the parent may be gone (Ctrl-C, SIGTERM): then nobody reads, and nothing to say
            with contextlib.suppress(OSError), os.fdopen(write_end, "w", encoding="utf-8") as out:
                json.dump(payload, out, default=str)
            status = 0
        except (KeyboardInterrupt, interrupts.Terminated, OSError):
            pass  # interrupted while reporting: the parent decides
        except BaseException:  # noqa: BLE001
            traceback.print_exc(file=sys.__stderr__)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, encoding="utf-8") as answer:
            text = answer.read()
    except BaseException:  # Ctrl-C, SIGTERM, the sync deadline: the extract goes too, at once
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    _, wait_status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(wait_status):
        signum = os.WTERMSIG(wait_status)
        if signum in (signal.SIGINT, signal.SIGTERM):  # sent to the extract alone
            raise StageFailed(interrupts.exit_code(signum), interrupts.interrupted_line(signum))
        sig = signal.Signals(signum).name
        raise StageFailed(
            EXIT_FAILED, f"the extract process was killed by {sig}; the next sync resumes"
        )
    try:
        payload = json.loads(text)
    except ValueError:
        raise StageFailed(EXIT_FAILED, "the extract process ended without a result") from None
    for name in ("stdout", "stderr"):  # what the child wrote to in-memory streams
        if payload.get(name):
            stream = getattr(sys, name)
            stream.write(payload[name])
            stream.flush()
    if not payload.get("ok"):
        raise StageFailed(int(payload.get("code", EXIT_FAILED)), str(payload.get("line", "failed")))
    return payload["result"]


def _capture_unless_real_files() -> tuple[io.StringIO, io.StringIO] | None:
    """A child writes progress and logs straight to the inherited stdout/stderr when they are
    files; when they are in-memory streams (an embedding application, pytest's capture) its
    writes would be lost, so they are collected and handed to the parent instead."""
    try:
        sys.stdout.fileno()
        sys.stderr.fileno()
        return None
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    captured = (io.StringIO(), io.StringIO())
    sys.stdout, sys.stderr = captured
    for handler in logging.root.handlers + [
        h for lg in logging.root.manager.loggerDict.values() for h in getattr(lg, "handlers", [])
    ]:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.stream = sys.stderr  # not setStream: it flushes the old, maybe closed one
    return captured
