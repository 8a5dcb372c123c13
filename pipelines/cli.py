"""`learning360` command line: sync, models, emulator.

Every failure a user can act on ends as one line on stderr and a non-zero exit code; a
traceback is printed only with --debug.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

# Exit codes (docs/reliability.md): 1 = the run failed but the next one may succeed as is
# (retries exhausted, unusable answers, a load error); 2 = fix the configuration or the
# credentials first; 75 (EX_TEMPFAIL) = another sync of the pipeline holds its lock;
# 130 / 143 = interrupted by SIGINT (Ctrl-C) / SIGTERM (pipelines/interrupts.py).
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 75


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
    from pipelines.cli_parser import SuggestingParser

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
    from pipelines import progress as progress_option

    progress_option.add_arguments(sync)
    from pipelines import tenants as tenants_option

    tenants_option.add_arguments(sync)

    models = commands.add_parser("models", help="rebuild the derived tables only")
    _add_pipeline_arguments(models)
    models.add_argument("--only", default=None, help="comma-separated subset of models")
    models.add_argument("--list", action="store_true", help="list the models and exit")

    from pipelines import report as report_command

    report = commands.add_parser("report", help="write a self-contained HTML report")
    _add_pipeline_arguments(report)
    report_command.add_arguments(report)

    from pipelines import doctor as doctor_command
    from pipelines import status as status_command

    status = commands.add_parser("status", help="last loads, rows, cursors, pending packages")
    _add_pipeline_arguments(status)
    status_command.add_arguments(status)

    doctor = commands.add_parser("doctor", help="check config, credentials and destination")
    _add_pipeline_arguments(doctor)
    doctor_command.add_arguments(doctor)

    from pipelines import webhooks as webhooks_command

    webhooks = commands.add_parser("webhooks", help="the v2 change feed: subscriptions, receiver")
    webhooks_command.add_arguments(webhooks, _add_pipeline_arguments)

    from emulator.cli import add_arguments as add_emulator_arguments

    emulator = commands.add_parser("emulator", help="serve a synthetic 360Learning company locally")
    add_emulator_arguments(emulator)
    return parser


def _pipeline_from(args: argparse.Namespace, progress: Any = None) -> Any:
    from pipelines.run import PIPELINE_NAME, make_pipeline

    return make_pipeline(
        destination=args.destination,
        pipeline_name=args.pipeline_name or PIPELINE_NAME,
        dataset_name=args.dataset_name,  # None: dlt's dataset_name keys, then DATASET_NAME
        pipelines_dir=args.pipelines_dir,
        duckdb_path=args.duckdb_path,
        progress=progress,
    )


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _where(pipeline: Any, destination: str) -> str:
    if destination == "duckdb":
        creds = pipeline.destination_client().config.credentials
        return f"duckdb file {creds.database}, dataset {pipeline.dataset_name}"
    return f"{destination} dataset {pipeline.dataset_name}"


def cmd_sync(args: argparse.Namespace) -> int:
    from pipelines.progress import progress_from_args
    from pipelines.run import run_sync, sync_lock
    from pipelines.summary import print_summary, read_snapshot

    pipeline = _pipeline_from(args, progress=progress_from_args(args))
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
        from pipelines.webhooks import change_feed_line

        print(change_feed_line(result.requests["change_feed"]))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from pipelines.models.runner import list_models
    from pipelines.run import run_models

    if args.list:
        for name, header in list_models().items():
            print(name)
            print("  " + header.replace("\n", "\n  "))
        return 0
    pipeline = _pipeline_from(args)
    pipeline.destination_client()  # missing destination credentials: one line, before any SQL
    built = run_models(pipeline, only=_split(args.only))
    for name, rows in built.items():
        print(f"{name:<32}{rows:>10} rows")
    return 0


def explain(exc: BaseException) -> tuple[int, str]:
    """Finds the actionable cause in an exception chain (dlt wraps source errors twice)."""
    from pipelines import deadline, interrupts
    from pipelines.checks import explain_config_error
    from pipelines.run import SyncAlreadyRunning
    from pipelines.stages import StageFailed
    from sources.learning360.errors import Learning360Error, is_configuration_problem
    from sources.learning360.redaction import redact

    signum = interrupts.signal_of(exc)  # Ctrl-C / SIGTERM, however dlt wrapped it
    if signum == signal.SIGINT and deadline.expired():  # the sync deadline interrupts so
        return EXIT_FAILED, deadline.expired_line()
    if signum is not None:
        return interrupts.exit_code(signum), interrupts.interrupted_line(signum)
    seen: set[int] = set()
    current: BaseException | None = exc
    innermost: BaseException = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SyncAlreadyRunning):
            return EXIT_LOCKED, str(current)
        if isinstance(current, StageFailed):  # explained in the child process already
            return current.code, current.line
        if isinstance(current, Learning360Error):
            code = EXIT_CONFIG if is_configuration_problem(current) else EXIT_FAILED
            return code, current.one_line()
        answer = explain_config_error(current)  # missing keys, bad values, extras, databases
        if answer is not None:
            return answer
        if isinstance(current, ValueError) and str(current).startswith(
            ("unknown resource", "unknown model")
        ):
            return EXIT_CONFIG, str(current)
        innermost = current
        current = current.__cause__ or current.__context__
    # dlt's own wrappers say only "failed at stage extract"; the innermost error says why
    text = redact(str(innermost)).strip()  # may quote a URL or a config value
    first = text.splitlines()[0] if text else ""
    line = f"{type(innermost).__name__}: {first}".rstrip(": ")
    step = getattr(exc, "step", None)
    if step in ("normalize", "load") and getattr(exc, "has_pending_data", False):
        # dlt retries a pending package before extracting anything new: say so, or a user
        # would wonder why every later run fails the same way (docs/reliability.md)
        line += (
            f" ({step} failed; the package stays pending and the next run retries it first; "
            "if it can never load, see `learning360 status` and docs/reliability.md)"
        )
    return EXIT_FAILED, line


def main(argv: Sequence[str] | None = None) -> int:
    from pipelines import interrupts
    from pipelines.cli_parser import parse_with_suggestions

    parser = build_parser()
    args = parse_with_suggestions(parser, argv)
    if args.command == "emulator":
        from emulator.cli import run as run_emulator

        return run_emulator(args)
    restore_signals = interrupts.install()  # SIGTERM: one line and exit 143, as Ctrl-C's 130
    if args.log_level:
        os.environ["RUNTIME__LOG_LEVEL"] = args.log_level.upper()
        if args.log_level.upper() == "DEBUG":  # HTTP request lines too, secrets masked
            from sources.learning360.redaction import enable_http_debug_log

            enable_http_debug_log()
    try:
        if args.command == "sync" and args.tenants:  # each tenant's process checks its own
            from pipelines.tenants import cmd_sync_tenants

            return cmd_sync_tenants(args)
        if args.command != "doctor":  # doctor reports these as checks
            from pipelines.checks import preflight

            preflight(args.destination, source=args.command == "sync")
        if args.command == "report":
            from pipelines import report as report_command

            return report_command.run(args, _pipeline_from(args))
        if args.command in ("status", "doctor"):
            from pipelines import doctor, status

            return (status if args.command == "status" else doctor).run(args)
        if args.command == "webhooks":
            from pipelines import webhooks

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


if __name__ == "__main__":
    sys.exit(main())
