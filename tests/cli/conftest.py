"""Helpers for the operations commands: run `learning360 ...` in-process against the same
pipelines dir, pipeline name and DuckDB file as the root ``pipeline`` fixture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.cli import main

PIPELINE_NAME = "learning360_test"  # the root conftest's `pipeline` fixture


@dataclass
class CliRun:
    code: int
    out: str
    err: str


def where(tmp_path: Path, pipelines: str = "pipelines") -> list[str]:
    """The CLI options that point at the root ``pipeline`` fixture's pipeline."""
    return [
        "--pipeline-name",
        PIPELINE_NAME,
        "--pipelines-dir",
        str(tmp_path / pipelines),
        "--duckdb-path",
        str(tmp_path / "warehouse.duckdb"),
    ]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Callable[..., CliRun]:
    """``cli("status")`` runs ``learning360 status <where>`` and returns code, stdout, stderr."""

    def _run(command: str, *extra: str, pipelines: str = "pipelines") -> CliRun:
        capsys.readouterr()  # drop anything printed before
        code = main([command, *where(tmp_path, pipelines), *extra])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return _run
