"""One sync in its own process, so its peak RSS is its own: prints one JSON line.

``python -m bench.child ours|rest_api|rest_api_v2 --base-url U --company-id C --api-key K
--client-id I --client-secret S --workdir D [--api-version v1|v2]``. Each mode imports what
it runs inside its function, so the peak memory measured is that sync's alone.
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
            "SOURCES__LEARNING360__API_VERSION": args.api_version,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(args.rate),
        }
    )
    if args.api_version == "v2":  # a v2 client only, as a tenant without v1 credentials has
        os.environ["SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID"] = args.client_id
        os.environ["SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET"] = args.client_secret
    else:
        os.environ["SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID"] = args.company_id
        os.environ["SOURCES__LEARNING360__CREDENTIALS__API_KEY"] = args.api_key
        os.environ["SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD"] = "header"
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


def _load_baseline(args: argparse.Namespace, source: Any, name: str) -> dict[str, Any]:
    """Run a baseline source into its own DuckDB file, timed as our syncs are."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name=f"{name}_bench",
        pipelines_dir=os.path.join(args.workdir, "pipelines"),
        destination=dlt.destinations.duckdb(os.path.join(args.workdir, f"{name}.duckdb")),
        dataset_name="rest_api_data",
    )
    started = time.perf_counter()
    info = pipeline.run(source, loader_file_format="parquet")
    info.raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {"seconds": seconds, "rows": {k: v for k, v in counts.items() if not k.startswith("_")}}


def run_rest_api(args: argparse.Namespace) -> dict[str, Any]:
    """dlt's generic REST API source, configured as its docs show: parent-child resources,
    auth headers, no paginator (v1 answers whole arrays), default settings otherwise."""
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
    return _load_baseline(args, source, "rest_api")


def run_rest_api_v2(args: argparse.Namespace) -> dict[str, Any]:
    """dlt's generic REST API source configured plainly for API v2: OAuth2 client credentials,
    the ``Link`` header paginator, parent-child resources for the routes learning360 reads,
    default settings otherwise. One override: 360Learning's token route takes a JSON body
    (reference §2.1) where dlt's ``OAuth2ClientCredentials`` posts a form."""
    from dlt.common.configuration import configspec
    from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
    from dlt.sources.rest_api import rest_api_source

    @configspec
    class JsonClientCredentials(OAuth2ClientCredentials):
        def build_access_token_request(self) -> dict[str, Any]:
            return {
                "json": {
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                }
            }

    def child(name: str, path: str, parent: str) -> dict[str, Any]:
        return {
            "name": name,
            "endpoint": {"path": path.replace("{id}", f"{{resources.{parent}._id}}")},
        }

    source = rest_api_source(
        {
            "client": {
                "base_url": f"{args.base_url}/api/v2/",
                "headers": {"360-api-version": "v2.0"},
                "auth": JsonClientCredentials(
                    access_token_url=f"{args.base_url}/api/v2/oauth2/token",
                    client_id=args.client_id,
                    client_secret=args.client_secret,
                ),
                "paginator": "header_link",
            },
            "resources": [
                "courses",
                {"name": "course_stats", "endpoint": {"path": "courses/stats"}},
                "users",
                child("user_certificates", "users/{id}/certificates", "users"),
                child("user_custom_field_values", "users/{id}/custom-fields/values", "users"),
                "groups",
                child("group_roles", "groups/{id}/roles", "groups"),
                child("catalog_course_ids", "groups/{id}/catalog/course-ids", "groups"),
                child("catalog_path_session_ids", "groups/{id}/catalog/path-session-ids", "groups"),
                "paths",
                {"name": "path_sessions", "endpoint": {"path": "paths/sessions"}},
                {"name": "path_stats", "endpoint": {"path": "paths/stats"}},
                "skills",
                {"name": "custom_fields", "endpoint": {"path": "custom-fields"}},
                "classrooms",
                child("classroom_slots", "classrooms/{id}/slots", "classrooms"),
                child("classroom_registrations", "classrooms/{id}/registrations", "classrooms"),
            ],
        }
    )
    return _load_baseline(args, source, "rest_api_v2")


MODES = {"ours": run_ours, "rest_api": run_rest_api, "rest_api_v2": run_rest_api_v2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("mode", choices=tuple(MODES))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--company-id", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--client-id", default="")
    parser.add_argument("--client-secret", default="")
    parser.add_argument("--api-version", choices=("v1", "v2"), default="v1")
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
    out = MODES[args.mode](args)
    out.update(memory.figures())
    out["peak_rss_mb"] = out["peak_pss_mb"]
    print("BENCH_RESULT " + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
