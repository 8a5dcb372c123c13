"""Every command's exit codes, and the errors that carry one (docs/reliability.md).

A leaf module: the CLI, the forked stages, the tenants' children and the checks import it, and
it imports none of them.
"""

from __future__ import annotations

EXIT_OK = 0
# the run failed but the next one may succeed as is (retries exhausted, a load error)
EXIT_FAILED = 1
EXIT_CONFIG = 2  # fix the configuration or the credentials first: a rerun will not help
EXIT_LOCKED = 75  # EX_TEMPFAIL: another sync of the pipeline holds its lock
# 130 / 143: interrupted by SIGINT / SIGTERM (pipelines/interrupts.py)

# `learning360 status`: something needs a look / the pipeline never synced
EXIT_ATTENTION = 1
EXIT_NEVER_SYNCED = 2


class StageFailed(RuntimeError):
    """A forked stage failed; ``line`` is its one-line reason, ``code`` the CLI exit code."""

    def __init__(self, code: int, line: str):
        super().__init__(line)
        self.code = code
        self.line = line


class SyncAlreadyRunning(RuntimeError):
    """Another process holds the pipeline's sync lock; ``str(exc)`` is the one-line reason."""
