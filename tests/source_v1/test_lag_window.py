"""The lag window drops re-read rows that did not change, and lets late rows through."""

from __future__ import annotations

from sources.learning360.cursors import LagWindow


def test_unchanged_rows_are_dropped_late_and_moved_rows_pass() -> None:
    state: dict = {}
    window = LagWindow(state, "modifiedAt", lag_seconds=3600)
    first = {"_id": "a", "modifiedAt": "2024-01-01T10:00:00.000Z"}
    window.remember(first)
    window.prune()
    again = LagWindow(state, "modifiedAt", lag_seconds=3600)
    assert again.is_unchanged(first)
    assert not again.is_unchanged({"_id": "a", "modifiedAt": "2024-01-01T10:30:00.000Z"})  # moved
    assert not again.is_unchanged({"_id": "late", "modifiedAt": "2024-01-01T09:30:00.000Z"})  # late
    assert not again.is_unchanged({"_id": "b", "modifiedAt": None})


def test_prune_keeps_only_one_lag_window() -> None:
    state: dict = {}
    window = LagWindow(state, "modifiedAt", lag_seconds=3600)
    for row_id, stamp in [
        ("old", "2024-01-01T08:59:59.000Z"),
        ("edge", "2024-01-01T09:00:00.000Z"),
        ("new", "2024-01-01T10:00:00.000Z"),
    ]:
        window.remember({"_id": row_id, "modifiedAt": stamp})
    window.prune()
    assert set(state["lag_window"]) == {"edge", "new"}
