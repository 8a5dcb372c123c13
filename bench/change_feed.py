"""`python -m bench.change_feed [--size medium]`: requests of an incremental v2 sync after one
simulated day, with and without the webhook change feed (issue 17), by route.

One emulated company (rate limit 50 GET/s, client at 50/s), two DuckDB pipelines: A without the
feed, B with it (`webhooks setup`, a full read, a run that starts the cursors). Then one
simulated day, and one incremental sync of each. Prints a Markdown table for BENCHMARKS.md."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from typing import Any

from emulator import Company, EmulatorServer
from emulator.webhooks import accepting_url
from pipelines.cli import main as cli
from pipelines.run import make_pipeline, run_sync


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="medium")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--user-courses-full-read-hours",
        type=float,
        default=0,
        help="the default v2 policy's knob, for both pipelines (0 = /courses/stats read in full)",
    )
    args = parser.parse_args()
    company = Company.generate(seed=args.seed, size=args.size)
    work = tempfile.mkdtemp(prefix="bench-change-feed-")
    with contextlib.ExitStack() as stack, EmulatorServer(company, port=0, rate_limit=50) as server:
        os.environ.update(
            {
                "SOURCES__LEARNING360__BASE_URL": server.base_url,
                "SOURCES__LEARNING360__API_VERSION": "v2",
                "SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID": server.client_id,
                "SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET": server.client_secret,
                "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "50",
                "SOURCES__LEARNING360__USER_COURSES_FULL_READ_HOURS": str(
                    args.user_courses_full_read_hours
                ),
            }
        )

        def pipeline(name: str) -> Any:
            return make_pipeline(
                pipeline_name=name,
                pipelines_dir=f"{work}/pipelines",
                duckdb_path=f"{work}/{name}.duckdb",
            )

        def sync(name: str, feed: bool) -> dict[str, Any]:
            os.environ["SOURCES__LEARNING360__CHANGE_FEED"] = "webhooks" if feed else "off"
            t0 = time.monotonic()
            result = run_sync(pipeline(name), build_models=False)
            out = dict(result.requests)
            out["seconds"] = time.monotonic() - t0
            return out

        full = sync("without_feed", feed=False)
        dirs = ["--pipelines-dir", f"{work}/pipelines", "--duckdb-path", f"{work}/with_feed.duckdb"]
        url = stack.enter_context(accepting_url())
        cli(["webhooks", "setup", "--url", url, "--pipeline-name", "with_feed", *dirs])
        sync("with_feed", feed=True)  # full read
        sync("with_feed", feed=True)  # cursors start
        company.advance(days=1)
        without = sync("without_feed", feed=False)
        with_feed = sync("with_feed", feed=True)
    routes = sorted(set(full["requests"]) | set(without["requests"]) | set(with_feed["requests"]))
    print(
        f"\n{args.size} company ({len(company.users)} users), one simulated day, "
        f"user_courses_full_read_hours = {args.user_courses_full_read_hours:g}\n"
    )
    print("| route | full v2 sync | incremental, no feed | incremental, feed |")
    print("|---|---:|---:|---:|")
    for route in routes:
        cells = [str(r["requests"].get(route, 0)) for r in (full, without, with_feed)]
        print(f"| `{route}` | " + " | ".join(cells) + " |")
    totals = [r["total"] for r in (full, without, with_feed)]
    print("| **total** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    print("| seconds | " + " | ".join(f"{r['seconds']:.0f}" for r in (full, without, with_feed)))
    share = 100 * with_feed["total"] / full["total"]
    print(f"\nwith the feed: {share:.1f} % of a full v2 sync's requests")
    print(f"feed: {with_feed.get('change_feed')}")


if __name__ == "__main__":
    main()
