"""One sync in its own process, so its peak RSS is its own: prints one JSON line.

``python -m bench.child ours|rest_api --base-url U --company-id C --api-key K --workdir D``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from typing import Any


class TreeMemory:
    """Peak memory of this process and its children together (the sync forks its extract),
    sampled every 50 ms: the sum of PSS (each shared page counted once, split between the
    processes sharing it: what the tree really occupies) and the sum of RSS (shared pages
    counted in every process: an upper bound)."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self._me = psutil.Process()
        self.peak_pss = self.peak_rss = 0
        self.per_process: dict[int, int] = {}
        self._interval = interval
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            pss = rss = 0
            for proc in [self._me, *self._me.children(recursive=True)]:
                try:
                    info = proc.memory_full_info()
                except Exception:  # noqa: BLE001 - a child that just ended
                    continue
                pss += info.pss
                rss += info.rss
                self.per_process[proc.pid] = max(self.per_process.get(proc.pid, 0), info.rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            time.sleep(self._interval)

    def figures(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {
            "peak_pss_mb": self.peak_pss / 2**20,
            "peak_rss_sum_mb": self.peak_rss / 2**20,
            "peak_rss_largest_process_mb": max(own, children),
            "peak_rss_per_process_mb": {
                ("sync" if pid == self._me.pid else f"child {pid}"): round(v / 2**20)
                for pid, v in self.per_process.items()
            },
        }


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    from pipelines.run import make_pipeline, run_models, run_sync

    os.environ.update(
        {
            "SOURCES__LEARNING360__BASE_URL": args.base_url,
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": args.company_id,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": args.api_key,
            "SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD": "header",
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(args.rate),
        }
    )
    for item in args.set or ():
        key, _, value = item.partition("=")
        os.environ[key] = value
    pipeline = make_pipeline(
        pipeline_name="learning360_bench",
        pipelines_dir=os.path.join(args.workdir, "pipelines"),
        duckdb_path=os.path.join(args.workdir, "bench.duckdb"),
    )
    resources = args.resources.split(",") if args.resources else None
    started = time.perf_counter()
    result = run_sync(
        pipeline, resources=resources, build_models=False, isolate=not args.in_process
    )
    pipeline = result.pipeline or pipeline
    sync_seconds = time.perf_counter() - started
    models_seconds = None
    if args.models:
        started = time.perf_counter()
        run_models(pipeline)
        models_seconds = time.perf_counter() - started
    return {
        "seconds": sync_seconds,
        "steps": result.step_seconds,
        "models_seconds": models_seconds,
        "client": result.requests,
        "rows": result.rows_per_table,
    }


def run_rest_api(args: argparse.Namespace) -> dict[str, Any]:
    """dlt's generic REST API source, configured as its docs show: parent-child resources,
    auth headers, no paginator (v1 answers whole arrays), default settings otherwise."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    def child(name: str, path: str, parent: str, whole: bool = False) -> dict[str, Any]:
        endpoint: dict[str, Any] = {"path": path.replace("{id}", f"{{resources.{parent}._id}}")}
        if whole:
            endpoint["data_selector"] = "$"  # a single object, not a list inside it
        return {"name": name, "endpoint": endpoint}

    source = rest_api_source(
        {
            "client": {
                "base_url": f"{args.base_url}/api/v1/",
                "headers": {"X-company-id": args.company_id, "X-apiKey": args.api_key},
                "paginator": "single_page",
            },
            "resources": [
                {"name": "users", "endpoint": {"path": "users", "params": {"deleted": "true"}}},
                child("user_details", "users/{id}", "users", whole=True),
                child("user_courses", "users/{id}/courses", "users"),
                child("user_programs", "users/{id}/programs", "users"),
                "groups",
                child("group_details", "groups/{id}", "groups", whole=True),
                child("group_catalog", "groups/{id}/catalog", "groups", whole=True),
                child("group_programs", "groups/{id}/programs", "groups"),
                "courses",
                child("course_details", "courses/{id}", "courses", whole=True),
                {"name": "program_sessions", "endpoint": {"path": "programs/sessions"}},
                "paths",
                {"name": "path_sessions", "endpoint": {"path": "paths/sessions"}},
                child(
                    "path_session_stats", "paths/sessions/{id}/stats/users", "path_sessions", True
                ),
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="rest_api_bench",
        pipelines_dir=os.path.join(args.workdir, "pipelines"),
        destination=dlt.destinations.duckdb(os.path.join(args.workdir, "rest_api.duckdb")),
        dataset_name="rest_api_data",
    )
    started = time.perf_counter()
    info = pipeline.run(source, loader_file_format="parquet")
    info.raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {"seconds": seconds, "rows": {k: v for k, v in counts.items() if not k.startswith("_")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("mode", choices=("ours", "rest_api"))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--company-id", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--resources", default=None)
    parser.add_argument("--models", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="no forked extract")
    parser.add_argument("--set", action="append", metavar="ENV=VALUE")
    args = parser.parse_args(argv)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    memory = TreeMemory()
    out = run_ours(args) if args.mode == "ours" else run_rest_api(args)
    out.update(memory.figures())
    out["peak_rss_mb"] = out["peak_pss_mb"]
    print("BENCH_RESULT " + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
