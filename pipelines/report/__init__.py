"""`learning360 report`: one self-contained HTML page on the derived tables.

Headline numbers, completion by course and by program session, weekly activity, time spent,
visibility coverage per group, and sortable tables of courses, program sessions and groups. The
page embeds plotly.js, so it opens offline (a mail attachment, a shared drive, a CI artifact).

The warehouse is read only through the pipeline's ``sql_client()`` with portable SQL, so the same
report runs on DuckDB, PostgreSQL and BigQuery::

    from pipelines.report import write_report
    write_report(pipeline, Path("learning360-report.html"))

The CLI mounts :func:`add_arguments` and :func:`run` as ``learning360 report`` and passes the
pipeline made from its ``--destination/--duckdb-path/--pipelines-dir/--dataset-name`` options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from pipelines.exit_codes import EXIT_CONFIG, EXIT_OK
from pipelines.report.data import ReportData, ReportError, read_report_data

__all__ = [
    "DEFAULT_OUTPUT",
    "DEFAULT_TITLE",
    "DEFAULT_TOP",
    "ReportData",
    "ReportError",
    "add_arguments",
    "read_report_data",
    "render_report",
    "run",
    "write_report",
]

DEFAULT_OUTPUT = "learning360-report.html"
DEFAULT_TITLE = "360Learning report"
DEFAULT_TOP = 15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's own options (the CLI adds the pipeline options next to them)."""
    parser.add_argument(
        "--output",
        "-o",
        default=DEFAULT_OUTPUT,
        help=f"HTML file to write (default: {DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        help=f"courses, program sessions and groups per chart (default: {DEFAULT_TOP})",
    )
    parser.add_argument(
        "--title", default=DEFAULT_TITLE, help=f"page title (default: {DEFAULT_TITLE!r})"
    )


def render_report(
    data: ReportData,
    *,
    title: str = DEFAULT_TITLE,
    top: int = DEFAULT_TOP,
    generated_at: dt.datetime | None = None,
) -> str:
    """The page for already-read data (no database access)."""
    from pipelines.report.page import render_page

    return render_page(data, title=title, top=max(1, top), generated_at=generated_at)


def write_report(
    pipeline: Any,
    output: Path | str,
    *,
    title: str = DEFAULT_TITLE,
    top: int = DEFAULT_TOP,
) -> Path:
    """Reads the derived tables of ``pipeline``'s dataset and writes the HTML page to ``output``
    (atomically: a reader never sees half a file). Returns the path written.

    Raises :class:`ReportError` when the dataset has no derived tables."""
    output = Path(output)
    data = read_report_data(pipeline)
    page = render_report(data, title=title, top=top)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output


def _duckdb_file(pipeline: Any) -> Path | None:
    """The DuckDB file of a duckdb pipeline (None for other destinations)."""
    if pipeline.destination.destination_type.split(".")[-1] != "duckdb":
        return None
    database = pipeline.destination_client().config.credentials.database
    return Path(database) if database and database != ":memory:" else None


def run(args: argparse.Namespace, pipeline: Any) -> int:
    """``learning360 report``: writes the page, prints where; one line and exit code 2 when there
    is nothing to report on (a wrong warehouse, or models never built)."""
    output = Path(getattr(args, "output", None) or DEFAULT_OUTPUT)
    duckdb_file = _duckdb_file(pipeline)
    if duckdb_file is not None and not duckdb_file.exists():
        # opening it would create an empty warehouse next to the real one
        print(
            f"learning360 report failed: no DuckDB file at {duckdb_file}: run `learning360 sync` "
            "first or pass --duckdb-path",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        path = write_report(
            pipeline,
            output,
            title=getattr(args, "title", None) or DEFAULT_TITLE,
            top=getattr(args, "top", None) or DEFAULT_TOP,
        )
    except ReportError as exc:
        print(f"learning360 report failed: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    size_kb = path.stat().st_size / 1024
    print(
        f"learning360 report: wrote {path} ({size_kb:,.0f} KB) from dataset {pipeline.dataset_name}"
    )
    return EXIT_OK
