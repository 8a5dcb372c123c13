"""Taking over a sync lock whose holder is dead or past its deadline, with a WARNING.

The sync lock is an ``flock`` (``pipelines/run.py``): the OS releases it when its holder exits,
so a crashed sync never blocks the next one. Two cases still would, and every later scheduled
run would exit 75 until someone intervened:

* **the holder is dead but its lock lives on**: a process that inherited the lock's file
  descriptor (a fork of the sync) outlived it. ``/proc/locks`` still names the dead pid. The
  lock file is moved aside (``sync.lock.stale-<pid>``; the orphan keeps its lock on that file)
  and a fresh one is locked.
* **the holder is alive but past its deadline**: the lock file records ``until <deadline>``
  (``pipelines/deadline.py``); a sync past it by more than :data:`GRACE_SECONDS` is stuck where
  its own deadline cannot interrupt it. It is sent SIGTERM (it then stops with one line and
  exit 143), SIGKILL after :data:`TERM_SECONDS`, and the lock is taken once released. Only a
  pid that ``/proc/locks`` shows holding this very lock is ever signalled, never a pid from the
  file alone (it may have been reused by another process).

Where ``/proc/locks`` is unavailable (not Linux), or shows a holder outside this pid namespace
(pid 0: another container sharing the volume), nothing is taken over: the run exits 75.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from dlt.common import logger

GRACE_SECONDS = 60.0  # the holder's own deadline fires first, if it can
TERM_SECONDS = 15.0  # SIGTERM to SIGKILL
KILL_SECONDS = 5.0

_RECORD = re.compile(r"pid (\d+) since (\S+)(?: until (\S+))?")


def record(pid: int, since: datetime, until: datetime) -> str:
    """The lock file's text: who holds it, since when, and until when at most."""
    fmt = "seconds"
    return f"pid {pid} since {since.isoformat(timespec=fmt)} until {until.isoformat(timespec=fmt)}"


def parse_record(text: str) -> tuple[int | None, datetime | None]:
    """(holder pid, deadline) from a lock file's text; None for what it does not say."""
    match = _RECORD.search(text)
    if not match:
        return None, None
    until = None
    if match.group(3):
        with contextlib.suppress(ValueError):
            until = datetime.fromisoformat(match.group(3))
    return int(match.group(1)), until


def flock_holders(fd: int) -> set[int] | None:
    """Pids ``/proc/locks`` shows holding an flock on the file open as ``fd``; None if unknown."""
    st = os.fstat(fd)
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    holders = set()
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 6679 fe:00:2148065 0 EOF" (blocked waiters have "->")
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[2] != "->" and parts[5] == device:
            holders.add(int(parts[4]))
    return holders


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped) holds nothing: its files are closed
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _has_open(pid: int, fd: int) -> bool:
    """Whether live process ``pid`` has the file open as ``fd`` open (a reused pid has not);
    True when its descriptors cannot be read (another user's process: assume it does)."""
    if not _alive(pid):
        return False
    st = os.fstat(fd)
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except PermissionError:
        return True
    except OSError:
        return False
    for entry in entries:
        with contextlib.suppress(OSError):
            other = os.stat(f"/proc/{pid}/fd/{entry}")
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def _locked_within(fd: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() >= end:
                return False
            time.sleep(0.1)


def take_over(path: Path, fd: int, holder_text: str) -> int | None:
    """A file descriptor holding the lock at ``path`` if its holder is dead or past its
    deadline (``fd`` itself, or a new one on a fresh lock file), else None. ``fd`` is never
    closed here."""
    holders = flock_holders(fd)
    if not holders:  # unknown (no /proc/locks), or released meanwhile: let flock decide
        return fd if holders == set() and _locked_within(fd, 0) else None
    if min(holders) <= 0:  # held from another pid namespace (a container): cannot tell
        return None
    pid, until = parse_record(holder_text)
    if not any(_has_open(p, fd) for p in holders):
        stale = path.with_name(f"{path.name}.stale-{min(holders)}")
        logger.warning(
            f"sync lock {path} is held for process {', '.join(map(str, sorted(holders)))}, "
            "which is dead (a process that inherited the lock outlived it): taking the lock "
            f"over; the old lock file is kept as {stale.name}"
        )
        if os.stat(path).st_ino == os.fstat(fd).st_ino:  # not replaced by another taker
            os.replace(path, stale)
        fresh = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if _locked_within(fresh, 0):
            return fresh
        os.close(fresh)
        return None
    overdue = until is not None and (datetime.now(UTC) - until).total_seconds() > GRACE_SECONDS
    if not overdue or pid is None or pid not in holders or not _has_open(pid, fd):
        return None
    logger.warning(
        f"sync lock {path} is held by pid {pid}, past its deadline ({until.isoformat()}): "
        f"stopping it (SIGTERM, SIGKILL after {TERM_SECONDS:g} s) and taking the lock over"
    )
    for sig, wait in ((signal.SIGTERM, TERM_SECONDS), (signal.SIGKILL, KILL_SECONDS)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _locked_within(fd, wait):
            return fd
    return None
