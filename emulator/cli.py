"""`learning360 emulator` / `python -m emulator`: serve a synthetic company until SIGINT/SIGTERM.
Prints `base_url=`, `company_id=`, `api_key=`, `admin_token=`, `client_id=`, `client_secret=`
lines (and, with --ready-file, writes them as JSON once the port is open) so scripts can pick
them up. `api_key` is the v1 credential, `client_id`/`client_secret` the v2 one."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .company import Company
from .faults import FaultSettings
from .server import EmulatorServer

SIZE_OVERRIDES = ("users", "groups", "courses", "program_sessions", "paths")


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the emulator's options to a parser (the project CLI mounts it as a subcommand)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8360, help="port (0 = any free port)")
    parser.add_argument("--size", choices=("small", "medium", "large"), default="small")
    parser.add_argument("--seed", type=int, default=0)
    for name in SIZE_OVERRIDES:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None, metavar="N")
    parser.add_argument("--attempts-per-user", type=float, default=None, metavar="X")
    parser.add_argument("--rate-limit", type=float, default=50.0, help="GET/s per company, 0 = off")
    parser.add_argument("--token-ttl", type=float, default=3600, help="token lifetime, seconds")
    parser.add_argument(
        "--api-key", default=None, help="tenant API key (default: derived from seed)"
    )
    parser.add_argument("--admin-token", default=None, help="admin token (default: random)")
    parser.add_argument(
        "--client-id", default=None, help="API v2 client id (default: derived from seed)"
    )
    parser.add_argument(
        "--client-secret", default=None, help="API v2 client secret (default: derived from seed)"
    )
    parser.add_argument(
        "--v2-scopes",
        default=None,
        metavar="S1,S2",
        help="scopes of the v2 credential, comma-separated (default: all)",
    )
    parser.add_argument(
        "--v2-page-size",
        type=int,
        default=None,
        metavar="N",
        help="one page size for every paginated v2 route (default: the documented sizes)",
    )
    parser.add_argument("--variants", action="store_true", help="emit the reference §12 variants")
    parser.add_argument(
        "--fractional-numbers",
        action="store_true",
        help="serve fractions in spec `number` fields (timeSpent, duration, validityPeriod)",
    )
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After on 429")
    parser.add_argument(
        "--advance-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="advance one simulated day every SECONDS",
    )
    parser.add_argument(
        "--advance-days",
        type=int,
        default=0,
        metavar="N",
        help="start the company N simulated days after generation (make demo uses it)",
    )
    parser.add_argument(
        "--ready-file", default=None, metavar="PATH", help="write connection details as JSON here"
    )
    parser.add_argument(
        "--webhook-retention-hours",
        type=float,
        default=7 * 24,
        help="how long the Webhook API's event logs keep events (emulator/webhooks.py)",
    )
    faults = parser.add_argument_group("faults (all off by default)")
    for name in FaultSettings.__dataclass_fields__:
        faults.add_argument(
            f"--{'fault-seed' if name == 'seed' else name.replace('_', '-')}",
            dest=f"fault_{name}",
            type=int if name == "seed" else float,
            default=None,
        )
    return parser


def build_parser() -> argparse.ArgumentParser:
    return add_arguments(
        argparse.ArgumentParser(
            prog="python -m emulator", description="A local 360Learning API v1 + v2 emulator."
        )
    )


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {name: getattr(args, name) for name in SIZE_OVERRIDES}
    overrides["attempts_per_user"] = args.attempts_per_user
    company = Company.generate(
        seed=args.seed,
        size=args.size,
        fractional_numbers=getattr(args, "fractional_numbers", False),
        **overrides,
    )
    for _ in range(args.advance_days):
        company.advance(1)
    faults = {
        name: getattr(args, f"fault_{name}")
        for name in FaultSettings.__dataclass_fields__
        if getattr(args, f"fault_{name}") is not None
    }
    server = EmulatorServer(
        company,
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit or None,
        token_ttl=args.token_ttl,
        variants=args.variants,
        api_key=args.api_key,
        admin_token=args.admin_token,
        retry_after=args.retry_after,
        faults=faults,
        client_id=args.client_id,
        client_secret=args.client_secret,
        v2_scopes=(
            [s.strip() for s in args.v2_scopes.split(",") if s.strip()]
            if args.v2_scopes is not None
            else None
        ),
        v2_page_size=args.v2_page_size,
        webhook_retention_seconds=args.webhook_retention_hours * 3600,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    try:
        details = {
            "base_url": server.base_url,
            "company_id": server.company_id,
            "api_key": server.api_key,
            "admin_token": server.admin_token,
            "client_id": server.client_id,
            "client_secret": server.client_secret,
        }
        for key, value in details.items():
            print(f"{key}={value}")
        counts = " ".join(f"{k}={v}" for k, v in company.counts().items())
        print(f"# size={args.size} seed={args.seed} {counts}", flush=True)
        if args.ready_file:
            tmp = f"{args.ready_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(details, fh)
            os.replace(tmp, args.ready_file)  # atomic: readers never see half a file
        while not stop.is_set():
            if args.advance_every:
                if stop.wait(args.advance_every):
                    break
                company.advance(1)
            else:
                stop.wait(3600)
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
