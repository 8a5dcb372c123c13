"""The model files themselves: headers, dependency order, and one SQL rendered for every engine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from pipelines.models import runner
from pipelines.models.runner import (
    RAW_COLUMNS,
    list_models,
    model_order,
    render_sql,
)
from tests.expected import EXPECTED, KEYS
from tests.models.conftest import REPO_ROOT

DIALECTS = ("duckdb", "postgres", "bigquery")
MODELS = model_order()


def test_every_model_has_expected_rows_keys_and_a_header() -> None:
    assert set(MODELS) == set(EXPECTED) == set(KEYS)
    for name, header in list_models().items():
        assert header.startswith(f"{name}:"), name
        assert "Grain:" in header and "Keys:" in header, name


def test_dependency_order() -> None:
    position = {name: i for i, name in enumerate(MODELS)}
    assert position["learner_visibility_grants"] < position["learner_visibility"]
    for downstream in ("course_stats", "program_session_stats", "group_stats"):
        assert position["learner_visibility"] < position[downstream]
    assert model_order(["learner_course_stats"]) == ["learner_course_stats"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("model", MODELS)
def test_renders_and_reparses(model: str, dialect: str) -> None:
    sql = render_sql(model, dialect, "ds", catalog="proj" if dialect == "bigquery" else None)
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, exp.Query)
    # every raw table is read through the completed-loads filter, from the dataset
    for table in tree.find_all(exp.Table):
        if table.name in RAW_COLUMNS:
            assert table.db == "ds", table.sql()
            select = table.find_ancestor(exp.Select)
            assert "_dlt_loads" in select.sql() and "_dlt_load_id" in select.sql()
    # the key columns come out under their names
    assert set(KEYS[model]) <= set(tree.named_selects)


def test_bigquery_sql_avoids_known_incompatibilities() -> None:
    for model in MODELS:
        sql = render_sql(model, "bigquery", "ds", catalog="proj")
        assert "FILTER (" not in sql and "BOOL_OR" not in sql.upper(), model
        assert not re.search(r"\bUNION\s+(?!ALL|DISTINCT)", sql), model


def test_docs_describe_every_column() -> None:
    docs = (REPO_ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    for model in MODELS:
        assert f"`{model}`" in docs, model
        section = docs.split(f"## `{model}`", 1)[1].split("\n## ", 1)[0]
        columns = sqlglot.parse_one(render_sql(model, "duckdb", "ds"), read="duckdb").named_selects
        missing = [c for c in columns if f"`{c}`" not in section]
        assert not missing, f"{model}: undocumented columns {missing}"


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway models folder in place of pipelines/models."""
    monkeypatch.setattr(runner, "MODELS_DIR", tmp_path)
    runner._load_models.cache_clear()
    yield tmp_path
    runner._load_models.cache_clear()


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT * FROM no_such_table", "unknown table"),
        ("SELECT * FROM other_schema.users", "bare table names"),
        ("SELECT 1; SELECT 2", "exactly one SELECT"),
    ],
)
def test_bad_models_are_rejected(models_dir: Path, sql: str, error: str) -> None:
    (models_dir / "bad.sql").write_text(f"-- bad: a broken model\n{sql}\n")
    with pytest.raises(ValueError, match=error):
        render_sql("bad", "duckdb", "ds")


def test_unknown_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        render_sql("nope", "duckdb", "ds")


def test_fragments_and_counts_are_expanded() -> None:
    """A fragment is inlined (no table of its own); COUNTS zero-fills each count as BIGINT."""
    assert "item_reach" not in list_models()
    sql = render_sql("course_stats", "duckdb", "ds", pretty=False)
    zero_filled = (
        'CAST(COALESCE("r"."learners_with_access", 0) AS BIGINT) AS "learners_with_access"'
    )
    assert zero_filled in sql and "item_reach" not in sql and "COUNTS" not in sql
