"""The same models on PostgreSQL: the SQL transpiled by sqlglot runs and gives the same rows.

The server is the session's throwaway one (``postgres_dsn`` in tests/destinations/servers.py).
"""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest

from pipelines.models.runner import build_models
from tests.expected import diff_rows, expected_models
from tests.models.conftest import execute, load_truth, read_rows

pytestmark = pytest.mark.postgres


def test_models_match_expected_on_postgres(
    postgres_dsn: str, tmp_path: Path, hand_truth: dict
) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="learning360_models_pg",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.postgres(postgres_dsn),
        dataset_name=f"models_{tmp_path.name[-8:].replace('-', '_').lower()}",
    )
    load_truth(pipeline, hand_truth)
    build_models(pipeline)
    # a dashboard's view and grant on a model survive rebuilds
    schema = pipeline.dataset_name
    execute(pipeline, f"CREATE VIEW {schema}.done AS SELECT * FROM {schema}.learner_visibility")
    execute(pipeline, f"GRANT SELECT ON {schema}.learner_visibility TO PUBLIC")
    build_models(pipeline)

    problems: list[str] = []
    for name, expected in expected_models(hand_truth).items():
        problems += diff_rows(name, expected, read_rows(pipeline, name))
    assert not problems, "\n".join(problems[:40])
    assert len(read_rows(pipeline, "done")) == len(
        expected_models(hand_truth)["learner_visibility"]
    )
    tables = execute(
        pipeline,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'",
    )
    assert not any(t[0].endswith("__new") for t in tables)
