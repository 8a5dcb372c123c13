"""The table registry is the one definition: the README's table list, the routes the generated
resources call and the models' raw columns agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.models.runner import RAW_COLUMNS, READ_TYPES
from sources.learning360.routes import SCOPES, V1_ROUTES, V2_ROUTES
from sources.learning360.tables import V1_FEEDS, V1_PER_USER, V1_TABLES, V2_TABLES
from sources.learning360.v1.api import V1Api

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_tables() -> dict[str, tuple[tuple[str, ...], str]]:
    """``| `name` | `key, key` ... | disposition |`` rows of the README's "Tables" section."""
    section = README.read_text().split("\n## Tables\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[2] in ("merge", "replace"):
            key = re.match(r"`([^`]*)`", cells[1])
            assert key, line
            rows[cells[0].strip("`")] = (tuple(k.strip() for k in key[1].split(",")), cells[2])
    return rows


def test_readme_lists_every_v1_table_with_its_key_and_disposition() -> None:
    expected = {n: (s.primary_key, s.write_disposition) for n, s in V1_TABLES.items()}
    assert readme_tables() == expected


@pytest.mark.parametrize("spec", [*V1_FEEDS.values(), *V1_TABLES.values(), *V1_PER_USER.values()])
def test_v1_rows_name_real_routes_parents_and_api_calls(spec) -> None:
    assert set(spec.routes) <= set(V1_ROUTES)
    if spec.rows is not None:
        assert callable(getattr(V1Api, spec.routes[-1]))
    if spec.parent is not None:
        assert spec.parent in V1_FEEDS or spec.parent in V1_TABLES


def test_v2_rows_name_real_routes_with_scopes() -> None:
    for spec in V2_TABLES.values():
        assert set(spec.routes) <= set(V2_ROUTES) and set(spec.routes) <= set(SCOPES)


def test_raw_columns_the_models_read_are_registry_columns() -> None:
    for table, columns in RAW_COLUMNS.items():
        for column, sql_type in columns.items():
            assert READ_TYPES[V1_TABLES[table].columns[column]] == sql_type
