"""Reading warehouse tables back and comparing them with the emulator's ground truth: the
comparison is pipelines/verify.py (the bench uses it too); the derived models' check is here."""

from __future__ import annotations

from typing import Any

import dlt

from pipelines.verify import (
    CONTRACT,
    assert_same_rows,
    assert_warehouse_equals_truth,
    canonical,
    keyed,
    read_table,
)

__all__ = [
    "CONTRACT",
    "assert_models_equal_expected",
    "assert_same_rows",
    "assert_warehouse_equals_truth",
    "canonical",
    "keyed",
    "read_table",
    "table_exists",
]


def table_exists(pipeline: dlt.Pipeline, table: str) -> bool:
    return table in pipeline.default_schema.tables


def assert_models_equal_expected(pipeline: dlt.Pipeline, truth: dict[str, Any]) -> None:
    """Every derived table equals tests/expected.py's independent computation from the truth."""
    from tests.expected import diff_rows, expected_models

    problems: list[str] = []
    for name, expected in expected_models(truth).items():
        rows = read_table(pipeline, name)
        problems += diff_rows(name, expected, rows)
        for row in rows:
            problems += [
                f"{name}.{column} = {value} outside [0, 1]"
                for column, value in row.items()
                if column.endswith("_rate") and value is not None and not 0 <= value <= 1
            ]
    assert not problems, "\n".join(problems[:40])
