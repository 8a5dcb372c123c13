"""Variant columns: values dlt could not store in a column's type.

When a value does not coerce to its column's type (``"n/a"`` in a bigint, ``12.5`` in a
bigint), dlt keeps the row but puts that value in a *variant column* next to it, named
``<column>__v_<type>`` (``global_time__v_double``), and leaves the contract column NULL. Every
reader of the contract column (the derived models, dashboards) then sees NULL for that row and
a total silently drops it. The hints follow the official API spec so that valid data never
lands there (tests/source_v2/test_spec_types.py); this module finds the variant columns that exist in
the pipeline's dlt schema so the sync warns when it creates one and ``status`` and ``doctor``
flag every one until the table is reloaded (docs/reliability.md, "Bad data").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dlt.common import logger

from pipelines.column_types import VARIANT_MARK, double_columns
from pipelines.models.runner import RAW_COLUMNS


@dataclass(frozen=True, order=True)
class VariantColumn:
    table: str
    column: str  # the contract column the values belonged in
    variant: str  # the variant column that holds them
    column_type: str | None  # the contract column's type (None: dlt never saw it non-null)
    variant_type: str | None

    @property
    def copied_back(self) -> bool:
        """A variant of the column's own type: made while the column was narrower (a bigint
        ``global_time`` before the hints followed the spec); pipelines/column_types.py widened
        the column and copied these values back into it (DuckDB, PostgreSQL)."""
        return self.column_type is not None and self.column_type == self.variant_type

    def describe(self) -> str:
        line = (
            f"{self.table}.{self.column} ({self.column_type or 'no type yet'}) has values of "
            f"type {self.variant_type} in {self.variant}"
        )
        if self.copied_back:
            line += " (from before the column was widened; copied back into it)"
        return line


def variant_columns(schema: Any) -> list[VariantColumn]:
    """Every variant column of a dlt schema's data tables (none when there is no schema)."""
    if schema is None:
        return []
    found = []
    for table in schema.data_tables():
        columns = table.get("columns", {})
        for name, column in columns.items():
            if VARIANT_MARK not in name:
                continue
            base = name.rsplit(VARIANT_MARK, 1)[0]
            base_type = columns.get(base, {}).get("data_type")
            found.append(
                VariantColumn(table["name"], base, name, base_type, column.get("data_type"))
            )
    return sorted(found)


def pipeline_variants(pipeline: Any) -> list[VariantColumn]:
    """The variant columns of a pipeline's default schema whose values its readers miss (none
    before its first sync; the ones copied back into their widened column are left out)."""
    if not getattr(pipeline, "default_schema_name", None):
        return []
    return unresolved(variant_columns(pipeline.default_schema))


def unresolved(found: Iterable[VariantColumn]) -> list[VariantColumn]:
    """Leaves out the variants pipelines/column_types.py copies back into a widened column."""
    widened = double_columns()
    return [v for v in found if not (v.copied_back and v.column in widened.get(v.table, ()))]


def model_inputs(found: Iterable[VariantColumn]) -> list[VariantColumn]:
    """The variants whose contract column a derived model reads (it reads NULL for them)."""
    return [v for v in found if v.column in RAW_COLUMNS.get(v.table, {})]


def describe(found: list[VariantColumn]) -> list[str]:
    """One line per variant column, saying what a reader of the contract column misses."""
    read = set(model_inputs(found))
    return [
        v.describe() + ("; the models read NULL for those rows" if v in read else "") for v in found
    ]


def warn_new_variants(before: Iterable[VariantColumn], pipeline: Any) -> list[VariantColumn]:
    """Logs a WARNING for each variant column the sync created; returns them."""
    seen = {(v.table, v.variant) for v in before}
    new = [v for v in pipeline_variants(pipeline) if (v.table, v.variant) not in seen]
    for line in describe(new):
        logger.warning(
            f"pipeline {pipeline.pipeline_name}: a value did not fit its column's type: {line} "
            "(docs/reliability.md, 'Bad data')"
        )
    return new
