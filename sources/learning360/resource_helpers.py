"""What both API versions' resources share: the row type, a table's cursor, the lag window's
filter and row chunking, so a resource says only what is particular to its table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

import dlt

from .lag_window import LagWindow

Row = dict[str, Any]


def incremental(cursor: str, lag: float | None) -> dlt.sources.incremental[Any]:
    """dlt's cursor on ``cursor``, sent ``lag`` seconds early; rows without a value pass."""
    return dlt.sources.incremental(cursor, lag=lag, on_cursor_value_missing="include")


def only_changed(rows: Iterable[Any], window: LagWindow) -> list[Row]:
    """The rows the lag window has not seen unchanged (non-objects dropped), remembered."""
    fresh = [row for row in rows if isinstance(row, Mapping) and not window.is_unchanged(row)]
    for row in fresh:
        window.remember(row)
    return fresh


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items; keeps listings and fan-out rows bounded in memory."""
    iterator = iter(items)
    return iter(lambda: list(islice(iterator, size)), [])
