"""The same models on PostgreSQL: the SQL transpiled by sqlglot runs and gives the same rows.

Uses ``LEARNING360_TEST_POSTGRES_DSN`` when set, otherwise starts a throwaway server from the
PostgreSQL binaries on this machine (as the ``postgres`` user when run as root); skips when
neither is possible.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dlt
import pytest

from pipelines.models.runner import build_models
from tests.expected import diff_rows, expected_models
from tests.models.conftest import execute, load_truth, read_rows

pytestmark = pytest.mark.postgres

PG_BIN_DIRS = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


def _run(cmd: list[str], as_postgres: bool) -> None:
    if as_postgres:
        cmd = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    if dsn := os.environ.get("LEARNING360_TEST_POSTGRES_DSN"):
        yield dsn
        return
    bin_dir = next((d for d in PG_BIN_DIRS if (d / "pg_ctl").exists()), None)
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries and no LEARNING360_TEST_POSTGRES_DSN")
    as_postgres = os.geteuid() == 0  # the server refuses to run as root
    root = Path(tempfile.mkdtemp(prefix="learning360-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"], as_postgres
        )
        # -l: the server must not hold our output pipes open, or run() never returns
        start = ["-o", options, "-l", str(root / "server.log"), "-w", "start"]
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), *start], as_postgres)
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc}")
    try:
        yield f"postgresql://postgres:unused@127.0.0.1:{port}/postgres"
    finally:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], as_postgres)
        shutil.rmtree(root, ignore_errors=True)


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
