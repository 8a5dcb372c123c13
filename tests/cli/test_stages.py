"""The forked extract stage (pipelines.stages): results, errors and deaths reach the parent."""

from __future__ import annotations

import os
import signal

import pytest

from pipelines import stages
from pipelines.stages import StageFailed, run_in_child
from sources.learning360.errors import ConfigurationError

# each test forks the stage's child process
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not stages.available(), reason="needs fork (Linux)"),
]


def test_the_child_result_comes_back_and_the_work_is_not_in_the_parent() -> None:
    parent = os.getpid()
    result = run_in_child(lambda: {"pid": os.getpid(), "rows": {"users": 3}})
    assert result["rows"] == {"users": 3}
    assert result["pid"] != parent


def test_an_error_in_the_child_is_the_clis_one_line_with_its_exit_code() -> None:
    def fail() -> dict:
        raise ConfigurationError("set sources.learning360.base_url")

    with pytest.raises(StageFailed) as caught:
        run_in_child(fail)
    assert caught.value.code == 2  # EXIT_CONFIG
    assert "base_url" in caught.value.line


def test_a_child_killed_by_a_signal_fails_the_sync_with_a_line() -> None:
    def die() -> dict:
        os.kill(os.getpid(), signal.SIGKILL)
        return {}

    with pytest.raises(StageFailed, match="killed by SIGKILL"):
        run_in_child(die)


def test_what_the_child_prints_reaches_in_memory_streams(capsys: pytest.CaptureFixture) -> None:
    def talk() -> dict:
        print("hello from the extract")
        return {}

    run_in_child(talk)
    assert "hello from the extract" in capsys.readouterr().out


def test_the_child_closes_its_copy_of_the_lock(tmp_path) -> None:  # noqa: ANN001
    import fcntl

    path = tmp_path / "sync.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def lock_fd_is_closed() -> dict:
        try:
            os.fstat(fd)
        except OSError:
            return {"closed": True}
        return {"closed": False}

    try:
        assert run_in_child(lock_fd_is_closed, close_fds=(fd,)) == {"closed": True}
    finally:
        os.close(fd)
