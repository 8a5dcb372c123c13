"""`learning360` command line: sync, models, report, status, doctor, webhooks, emulator.

Every failure a user can act on ends as one line on stderr and a non-zero exit code; a
traceback is printed only with --debug.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from emulator import cli as emulator_cli
from pipelines import doctor, interrupts, progress, report, status, tenants, webhooks
from pipelines.checks import preflight
from pipelines.cli_parser import SuggestingParser, parse_with_suggestions
from pipelines.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK
from pipelines.explain import explain
from pipelines.models.runner import list_models
from pipelines.run import PIPELINE_NAME, make_pipeline, run_models, run_sync, sync_lock
from pipelines.summary import print_summary, read_snapshot
from sources.learning360.errors import RedactingFilter, install_log_filter

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_LOCKED", "build_parser", "explain", "main"]


def _add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--destination",
        default="duckdb",
        choices=["duckdb", "postgres", "bigquery"],
        help="where to load (credentials from .dlt/secrets.toml or DESTINATION__* env vars)",
    )
    parser.add_argument("--dataset-name", default=None, help="dataset (schema) name")
    parser.add_argument("--pipeline-name", default=None, help="dlt pipeline name")
    parser.add_argument("--pipelines-dir", default=None, help="dlt working directory")
    parser.add_argument(
        "--duckdb-path",
        default=None,
        help="DuckDB file (default: dlt's destination.duckdb.credentials, else <pipeline-name>.duckdb)",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default), ERROR")
    parser.add_argument("--debug", action="store_true", help="print tracebacks on failure")


def build_parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(
        prog="learning360", description="Sync the 360Learning API into a warehouse."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sync = commands.add_parser("sync", help="load the API into the warehouse, then build models")
    _add_pipeline_arguments(sync)
    sync.add_argument("--resources", default=None, help="comma-separated subset of resources")
    sync.add_argument(
        "--full-refresh", action="store_true", help="drop this source's tables and state first"
    )
    sync.add_argument("--no-models", action="store_true", help="skip rebuilding derived tables")
    sync.add_argument(
        "--allow-shrink",
        action="store_true",
        help="load even if a complete listing lost more than max_shrink_share of its rows "
        "(docs/reliability.md)",
    )
    sync.add_argument(
        "--in-process",
        action="store_true",
        help="extract in this process too (default: a child process, so a large sync's "
        "extract memory is gone before the load; docs/operations.md)",
    )
    progress.add_arguments(sync)
    tenants.add_arguments(sync)

    models = commands.add_parser("models", help="rebuild the derived tables only")
    _add_pipeline_arguments(models)
    models.add_argument("--only", default=None, help="comma-separated subset of models")
    models.add_argument("--list", action="store_true", help="list the models and exit")

    report_parser = commands.add_parser("report", help="write a self-contained HTML report")
    _add_pipeline_arguments(report_parser)
    report.add_arguments(report_parser)

    status_parser = commands.add_parser(
        "status", help="last loads, rows, cursors, pending packages"
    )
    _add_pipeline_arguments(status_parser)
    status.add_arguments(status_parser)

    doctor_parser = commands.add_parser("doctor", help="check config, credentials and destination")
    _add_pipeline_arguments(doctor_parser)
    doctor.add_arguments(doctor_parser)

    webhooks_parser = commands.add_parser(
        "webhooks", help="the v2 change feed: subscriptions, receiver"
    )
    webhooks.add_arguments(webhooks_parser, _add_pipeline_arguments)

    emulator = commands.add_parser("emulator", help="serve a synthetic 360Learning company locally")
    emulator_cli.add_arguments(emulator)
    return parser


def _pipeline_from(args: argparse.Namespace, display: Any = None) -> Any:
    return make_pipeline(
        destination=args.destination,
        pipeline_name=args.pipeline_name or PIPELINE_NAME,
        dataset_name=args.dataset_name,  # None: dlt's dataset_name keys, then DATASET_NAME
        pipelines_dir=args.pipelines_dir,
        duckdb_path=args.duckdb_path,
        progress=display,
    )


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _where(pipeline: Any, destination: str) -> str:
    if destination == "duckdb":
        creds = pipeline.destination_client().config.credentials
        return f"duckdb file {creds.database}, dataset {pipeline.dataset_name}"
    return f"{destination} dataset {pipeline.dataset_name}"


def cmd_sync(args: argparse.Namespace) -> int:
    pipeline = _pipeline_from(args, progress.progress_from_args(args))
    with sync_lock(pipeline):  # one sync of a pipeline at a time, summary snapshot included
        previous = read_snapshot(pipeline)
        result = run_sync(
            pipeline,
            resources=_split(args.resources),
            full_refresh=args.full_refresh,
            build_models=not args.no_models,
            isolate=not args.in_process,
            allow_shrink=args.allow_shrink,
        )
        args.sync_result = result  # `sync --tenants` reports each tenant's rows from it
        pipeline = result.pipeline or pipeline
        print_summary(pipeline, result, _where(pipeline, args.destination), previous=previous)
    if result.requests.get("change_feed"):  # the webhook change feed: what it read, its gaps
        print(webhooks.change_feed_line(result.requests["change_feed"]))
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    if args.list:
        for name, header in list_models().items():
            print(name)
            print("  " + header.replace("\n", "\n  "))
        return EXIT_OK
    pipeline = _pipeline_from(args)
    pipeline.destination_client()  # missing destination credentials: one line, before any SQL
    built = run_models(pipeline, only=_split(args.only))
    for name, rows in built.items():
        print(f"{name:<32}{rows:>10} rows")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_with_suggestions(parser, argv)
    if args.command == "emulator":
        return emulator_cli.run(args)
    restore_signals = interrupts.install()  # SIGTERM: one line and exit 143, as Ctrl-C's 130
    if args.log_level:
        os.environ["RUNTIME__LOG_LEVEL"] = args.log_level.upper()
        if args.log_level.upper() == "DEBUG":  # HTTP request lines too, secrets masked
            enable_http_debug_log()
    try:
        if args.command == "sync" and args.tenants:  # each tenant's process checks its own
            return tenants.cmd_sync_tenants(args)
        if args.command != "doctor":  # doctor reports these as checks
            preflight(args.destination, source=args.command == "sync")
        if args.command == "report":
            return report.run(args, _pipeline_from(args))
        if args.command in ("status", "doctor"):
            return (status if args.command == "status" else doctor).run(args)
        if args.command == "webhooks":
            return webhooks.run(args, _pipeline_from)
        return cmd_sync(args) if args.command == "sync" else cmd_models(args)
    except (Exception, KeyboardInterrupt, interrupts.Terminated) as exc:
        if args.debug:
            raise
        code, line = explain(exc)
        print(f"learning360 {args.command} failed: {line}", file=sys.stderr)
        return code
    finally:
        restore_signals()


def enable_http_debug_log(stream: Any = None) -> None:
    """urllib3's request lines to stderr, redacted (``sync --log-level DEBUG``); the filter on
    the handler masks a record from any urllib3 logger before it is written."""
    install_log_filter()
    target = logging.getLogger("urllib3")
    if any(getattr(h, "_learning360", False) for h in target.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s|[%(levelname)s]|%(process)d|%(name)s|%(message)s")
    )
    handler.addFilter(RedactingFilter())
    handler._learning360 = True  # type: ignore[attr-defined]
    target.addHandler(handler)
    target.setLevel(logging.DEBUG)


if __name__ == "__main__":
    sys.exit(main())
