"""Unit tests of the reliability pieces: the row guard, the emulator's data faults, the lock,
the exit-code mapping."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from emulator.data_faults import DataFaults
from emulator.responses import Reply, json_reply
from pipelines.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, explain
from pipelines.run import SyncAlreadyRunning, make_pipeline, sync_lock
from sources.learning360.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    connection_error,
)
from sources.learning360.row_guard import RowGuard
from sources.learning360.stats import RequestStats


def test_row_guard_drops_missing_and_repeated_keys_of_a_replace_table() -> None:
    stats = RequestStats()
    guard = RowGuard("user_groups", ["user_id", "group_id"], "replace", stats)
    first = guard([{"user_id": "u1", "group_id": "g1"}, {"user_id": None, "group_id": "g1"}])
    second = guard([{"user_id": "u1", "group_id": "g1"}, {"user_id": "u2", "group_id": " "}])
    assert first == [{"user_id": "u1", "group_id": "g1"}]
    assert second is None  # nothing left of that batch
    assert stats.dropped == {
        "user_groups without user_id": 1,
        "user_groups with a duplicate user_id, group_id": 1,
        "user_groups without group_id": 1,
    }


def test_row_guard_dedupes_merge_tables_per_batch_only() -> None:
    guard = RowGuard("user_courses", ["_id"], "merge", RequestStats())
    assert guard([{"_id": "a"}, {"_id": "a"}]) == [{"_id": "a"}]
    assert guard([{"_id": "a"}]) == [{"_id": "a"}]  # a later batch: dlt's merge handles it
    assert guard({"_id": "b"}) == {"_id": "b"} and guard({"x": 1}) is None


def test_row_guard_passes_clean_arrow_batches_and_unpacks_bad_ones() -> None:
    guard = RowGuard("user_courses", ["_id"], "merge", RequestStats(), {"score": "double"})
    clean = pa.table({"_id": ["a", "b"], "score": [1.0, None]})
    assert guard(clean) is clean
    wrong_type = pa.table({"_id": ["a", "b"], "score": ["1.0", "n/a"]})
    assert guard(wrong_type) == [{"_id": "a", "score": "1.0"}, {"_id": "b", "score": "n/a"}]
    no_key = pa.table({"_id": ["a", None], "score": [1.0, 2.0]})
    assert guard(no_key) == [{"_id": "a", "score": 1.0}]


def _body(reply: Reply) -> object:
    return json.loads(reply.body or b"null")


def test_data_faults_set_drop_duplicate_nested_and_limited() -> None:
    faults = DataFaults()
    body = [{"course": {"_id": "c"}, "stats": [{"attempts": [{"_id": "a1"}, {"_id": "a2"}]}]}]
    faults.configure(
        [
            {"route": "R", "at": "*.stats.*.attempts", "action": "set", "fields": {"s": "x"},
             "match": {"_id": "a2"}},
            {"route": "R", "at": "*.stats.*.attempts", "action": "duplicate", "limit": 1},
            {"route": "R", "at": "*.course", "action": "drop", "fields": ["_id"]},
        ]
    )  # fmt: skip
    out = _body(faults.apply("R", json_reply(body)))
    assert out == [
        {
            "course": {},
            "stats": [{"attempts": [{"_id": "a1"}, {"_id": "a1"}, {"_id": "a2", "s": "x"}]}],
        }
    ]
    assert _body(faults.apply("other route", json_reply(body))) == body
    assert faults.apply("R", json_reply({"error": "x"}, 404)).status == 404  # errors untouched
    faults.configure([{"route": "R", "action": "malformed"}])
    with pytest.raises(ValueError):
        json.loads(faults.apply("R", json_reply(body)).body or b"")
    with pytest.raises(ValueError, match="action"):
        faults.configure([{"route": "R", "action": "explode"}])


def test_lock_is_reentrant_in_a_thread_and_refused_to_another(tmp_path: Path) -> None:
    pipeline = make_pipeline(pipeline_name="lock_test", pipelines_dir=str(tmp_path))
    refused: list[BaseException] = []

    def other() -> None:
        try:
            with sync_lock(pipeline):
                pass
        except SyncAlreadyRunning as exc:
            refused.append(exc)

    with sync_lock(pipeline), sync_lock(pipeline):  # nested: fine
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(refused) == 1 and "another sync of pipeline lock_test" in str(refused[0])
    with sync_lock(pipeline):  # released
        pass


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigurationError("x"), EXIT_CONFIG),
        (AuthenticationError("x"), EXIT_CONFIG),
        (connection_error("http://h", "host name resolution failed", transient=False), 2),
        (connection_error("http://h", "connection refused, 8 attempts"), EXIT_FAILED),
        (ApiError("x"), EXIT_FAILED),
        (MalformedResponseError("x"), EXIT_FAILED),
        (SyncAlreadyRunning("x"), EXIT_LOCKED),
    ],
)
def test_exit_codes(error: Exception, code: int) -> None:
    wrapped = RuntimeError("failed at stage extract")
    wrapped.__cause__ = error
    assert explain(wrapped)[0] == code
