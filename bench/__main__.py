"""`python -m bench [--quick] [--api v1|v2|both]`: the performance figures of issues 6 and 16,
API v1 and API v2 measured in one run, side by side.

The emulator runs in its own process (`python -m emulator ... --ready-file`) and serves v1 and
v2 from one company; every sync runs in another (`python -m bench.child`), so the sync's peak
RSS is its own and client and server do not share a GIL. Figures, per API version (goals in
brackets: v1 from issue 6, v2 from issue 16):

1. full sync of the largest size at 50 GET/s, latency 50 ms ± 20 ms: requests, requests per
   learner [v1 ≤ 1.3; v2 ≤ 2.1 with every table, ≤ 0.3 without the per-user certificates and
   custom-field values], wall time, floor (requests ÷ 50/s), ratio [≤ 1.15], 429 share
   [≤ 1 %], peak memory [≤ 500 MB] (PSS summed over the sync's processes: it forks its
   extract), requests by route;
2. incremental sync after `/_emulator/advance` (one simulated day; both versions' warehouses
   are synced the same day, then advanced together): requests [v1 ≤ 5 %, v2 ≤ 10 %] and wall
   [v1 ≤ 10 %, v2 ≤ 15 %] as a share of the full sync, and whether the warehouse equals the
   ground truth;
3. throughput with the rate limit off and no latency: user_courses alone, attempt rows/s from
   HTTP to the loaded DuckDB table [v1 ≥ 10,000/s] (median of repeats);
4. growth: requests, wall and peak memory for small, medium, large;
5. baseline: dlt's generic `rest_api` source on the medium company, same emulator settings,
   configured plainly for v1 (headers, single page) and for v2 (OAuth client credentials,
   `Link` paginator).

`--quick` skips the large company (~10 minutes less per version); the incremental and
throughput figures are then measured on medium. `--api v2` (or v1) measures one version only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines import verify
from pipelines.run import make_pipeline

ROOT = Path(__file__).resolve().parents[1]
RATE = 50.0
LATENCY_MS, JITTER_MS = 50, 20
APIS = ("v1", "v2")
GOALS: dict[str, dict[str, float]] = {
    "v1": {
        "ratio": 1.15,
        "rate_limited_pct": 1.0,
        "requests_per_learner": 1.3,
        "incremental_requests_pct": 5.0,
        "incremental_wall_pct": 10.0,
        "attempt_rows_per_s": 10_000,
        "peak_rss_mb": 500,
    },
    "v2": {
        "ratio": 1.15,
        "rate_limited_pct": 1.0,
        "requests_per_learner": 2.1,
        "requests_per_learner_without_per_user": 0.3,
        "incremental_requests_pct": 10.0,
        "incremental_wall_pct": 15.0,
        "peak_rss_mb": 500,
    },
}
# v2 routes read once per learner (the tables users may leave out: issue 16, goal 1)
PER_USER_V2 = ("/certificates", "/custom-fields/values")


# ---- processes ---------------------------------------------------------------------------


class Emulator:
    def __init__(self, info: dict[str, Any], proc: subprocess.Popen[bytes]):
        self.info, self.proc = info, proc
        self.base_url = info["base_url"]

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"X-Emulator-Admin": self.info["admin_token"]},
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())


@contextmanager
def emulator(
    size: str, rate_limit: float = RATE, faults: bool = True, seed: int = 0
) -> Iterator[Emulator]:
    with tempfile.TemporaryDirectory() as tmp:
        ready = os.path.join(tmp, "ready.json")
        cmd = [sys.executable, "-m", "emulator", "--size", size, "--port", "0"]
        cmd += ["--seed", str(seed)]
        cmd += ["--rate-limit", str(rate_limit), "--ready-file", ready]
        if faults:
            cmd += ["--latency-ms", str(LATENCY_MS), "--jitter-ms", str(JITTER_MS)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            while not os.path.exists(ready):
                if proc.poll() is not None:
                    raise RuntimeError(f"emulator exited with {proc.returncode}: {cmd}")
                time.sleep(0.05)
            with open(ready, encoding="utf-8") as fh:
                info = json.load(fh)
            emu = Emulator(info, proc)
            info["counts"] = emu.admin("GET", "info")["counts"]
            yield emu
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_child(emu: Emulator, mode: str, workdir: str, *extra: str) -> dict[str, Any]:
    """One sync in a child process; the emulator's own request counts are added."""
    emu.admin("POST", "metrics/reset")
    cmd = [sys.executable, "-m", "bench.child", mode, "--base-url", emu.base_url]
    cmd += ["--company-id", emu.info["company_id"], "--api-key", emu.info["api_key"]]
    cmd += ["--client-id", emu.info["client_id"], "--client-secret", emu.info["client_secret"]]
    cmd += ["--workdir", workdir, *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    process_seconds = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    if proc.returncode != 0 or not lines:
        shown = [
            c if c not in (emu.info["api_key"], emu.info["client_secret"]) else "***" for c in cmd
        ]
        raise RuntimeError(f"{' '.join(shown)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(lines[-1][len("BENCH_RESULT ") :])
    metrics = emu.admin("GET", "metrics")
    result["process_seconds"] = process_seconds
    result["requests"] = metrics["total"]
    result["rate_limited"] = metrics["429"]
    result["by_route"] = metrics["requests"]
    return result


# ---- figures -----------------------------------------------------------------------------


def full_figures(result: dict[str, Any], learners: int) -> dict[str, Any]:
    requests = result["requests"]
    floor = requests / RATE
    return {
        "requests": requests,
        "learners": learners,
        "requests_per_learner": requests / learners,
        "wall_s": result["seconds"],
        "extract_s": result["steps"].get("extract"),
        "normalize_s": result["steps"].get("normalize"),
        "load_s": result["steps"].get("load"),
        "models_s": result.get("models_seconds"),
        "floor_s": floor,
        "ratio": result["seconds"] / floor,
        "rate_limited": result["rate_limited"],
        "rate_limited_pct": 100 * result["rate_limited"] / max(1, requests),
        "peak_rss_mb": result["peak_rss_mb"],
        "peak_rss_sum_mb": result.get("peak_rss_sum_mb", result["peak_rss_mb"]),
        "peak_per_process": result.get("peak_rss_per_process_mb", {}),
        "rows": result.get("rows", {}),
        "by_route": result.get("by_route", {}),
    }


def per_user_requests(by_route: dict[str, int]) -> int:
    """v2 requests of the per-learner routes (certificates, custom-field values)."""
    return sum(n for route, n in by_route.items() if route.endswith(PER_USER_V2))


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def check_truth(workdir: str, emu: Emulator, api: str) -> str:
    """Compares the bench warehouse with the emulator's truth, contract columns
    (pipelines/verify.py, as the tests do); v2 first the tables with a change signal (issue
    16's goal), then the ones without (refreshed within a stated bound)."""
    truth = emu.admin("GET", "truth")
    pipeline = make_pipeline(
        pipeline_name="learning360_bench",
        pipelines_dir=os.path.join(workdir, "pipelines"),
        duckdb_path=os.path.join(workdir, "bench.duckdb"),
    )

    def everything() -> None:
        if api == "v2":
            verify.assert_v2_warehouse_equals_truth(pipeline, truth)
        else:
            verify.assert_warehouse_equals_truth(pipeline, truth)

    def signal_only() -> None:
        if api == "v2":
            verify.assert_v2_tables_equal(pipeline, truth, skip=verify.NO_SIGNAL)
        else:
            everything()  # v1 has no tables refreshed within a bound: one comparison

    try:
        signal_only()
    except Exception as exc:  # noqa: BLE001 - a mismatch, or a table that is not there
        return f"DIFFERS: {first_line(exc)}"
    if api == "v2":
        try:
            everything()
        except Exception as exc:  # noqa: BLE001
            return (
                f"equal for every table with a change signal; not yet refreshed: {first_line(exc)}"
            )
    return "equal"


def machine() -> dict[str, Any]:
    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as fh:
        mem_kb = int(next(ln for ln in fh if ln.startswith("MemTotal")).split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# ---- the run -----------------------------------------------------------------------------


def bench(
    quick: bool,
    repeats: int,
    baseline: bool,
    log: Any,
    apis: tuple[str, ...] = APIS,
    only_sizes: list[str] | None = None,
) -> dict[str, Any]:
    sizes = only_sizes or (["small", "medium"] if quick else ["small", "medium", "large"])
    biggest = sizes[-1]
    out: dict[str, Any] = {
        "machine": machine(),
        "sizes": {},
        "quick": quick,
        "apis": list(apis),
        "incremental": {},
        "throughput": {},
        "baseline": {},
    }
    work = tempfile.mkdtemp(prefix="learning360-bench-")
    try:
        for size in sizes:
            log(f"[{size}] starting the emulator (rate {RATE:g}/s, {LATENCY_MS}±{JITTER_MS} ms)")
            with emulator(size) as emu:
                learners = emu.info["counts"]["users"]
                data: dict[str, Any] = {"counts": emu.info["counts"], "full": {}}
                out["sizes"][size] = data
                for api in apis:
                    workdir = os.path.join(work, f"{size}-ours-{api}")
                    log(f"[{size}] {api} full sync ({learners} learners) ...")
                    result = run_child(emu, "ours", workdir, "--models", "--api-version", api)
                    full = data["full"][api] = full_figures(result, learners)
                    log(
                        f"[{size}] {api} full: {full['requests']} requests, "
                        f"{full['wall_s']:.1f} s, ratio {full['ratio']:.3f}, "
                        f"429 {full['rate_limited']}, RSS {full['peak_rss_mb']:.0f} MB"
                    )
                if size == "medium" and baseline:
                    for api in apis:
                        mode = "rest_api" if api == "v1" else "rest_api_v2"
                        log(f"[medium] baseline: dlt rest_api source on {api} ...")
                        base = run_child(emu, mode, os.path.join(work, f"medium-{mode}"))
                        out["baseline"][api] = {
                            "requests": base["requests"],
                            "wall_s": base["seconds"],
                            "rate_limited": base["rate_limited"],
                            "peak_rss_mb": base["peak_rss_mb"],
                            "rows": base["rows"],
                            "by_route": base["by_route"],
                        }
                        log(
                            f"[medium] {api} baseline: {base['requests']} requests, "
                            f"{base['seconds']:.1f} s, 429 {base['rate_limited']}"
                        )
                if size == biggest:
                    advanced = emu.admin("POST", "advance", {"days": 1})
                    log(f"[{size}] advanced one day to {advanced['now']}")
                    for api in apis:
                        full = data["full"][api]
                        workdir = os.path.join(work, f"{size}-ours-{api}")
                        log(f"[{size}] {api} incremental sync ...")
                        inc = run_child(emu, "ours", workdir, "--models", "--api-version", api)
                        truth = check_truth(workdir, emu, api)
                        out["incremental"][api] = {
                            "size": size,
                            "requests": inc["requests"],
                            "wall_s": inc["seconds"],
                            "requests_pct": 100 * inc["requests"] / full["requests"],
                            "wall_pct": 100 * inc["seconds"] / full["wall_s"],
                            "rate_limited": inc["rate_limited"],
                            "peak_rss_mb": inc["peak_rss_mb"],
                            "truth": truth,
                            "by_route": inc["by_route"],
                            "user_details_daily": learners / 30,
                        }
                        log(
                            f"[{size}] {api} incremental: {inc['requests']} requests, "
                            f"{inc['seconds']:.1f} s, warehouse vs truth: {truth}"
                        )
                    emu.admin("POST", "config", {"rate_limit": 0})
                    emu.admin("POST", "faults", {})
                    for api in apis:
                        out["throughput"][api] = throughput(emu, work, size, api, repeats, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def throughput(
    emu: Emulator, work: str, size: str, api: str, repeats: int, log: Any
) -> dict[str, Any]:
    runs = []
    for n in range(repeats):
        log(f"[{size}] {api} throughput run {n + 1}/{repeats} (user_courses, no limit)")
        result = run_child(
            emu,
            "ours",
            os.path.join(work, f"{size}-throughput-{api}-{n}"),
            "--resources",
            "user_courses",
            "--rate",
            "1000000",  # no limit in effect (0 or less is refused)
            "--api-version",
            api,
        )
        rows = result["rows"].get("user_courses", 0)
        runs.append(
            {
                "rows": rows,
                "seconds": result["seconds"],
                "rows_per_s": rows / result["seconds"],
                "steps": result["steps"],
                "peak_rss_mb": result["peak_rss_mb"],
            }
        )
    return {
        "size": size,
        "runs": runs,
        "median_rows_per_s": statistics.median(r["rows_per_s"] for r in runs),
    }


# ---- report ------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def _goal(api: str, key: str, value: float, fmt: str, above: bool = False, unit: str = "") -> str:
    """``≤ goal: pass`` (or ``≥``), or empty when the version has no goal for this figure."""
    goal = GOALS[api].get(key)
    if goal is None:
        return ""
    ok = value >= goal if above else value <= goal
    return f"{'≥' if above else '≤'} {goal:{fmt}}{unit}: {verdict(ok)}"


def _table(apis: list[str], rows: list[tuple[str, dict[str, tuple[str, str]]]]) -> list[str]:
    """A figure per row, (value, goal) per version in columns side by side."""
    head = "| figure | " + " | ".join(f"{api} | {api} goal" for api in apis) + " |"
    lines = [head, "|---|" + "---|---|" * len(apis)]
    for name, cells in rows:
        values = " | ".join(" | ".join(cells.get(api, ("", ""))) for api in apis)
        lines.append(f"| {name} | {values} |")
    return lines


def _routes(by_route: dict[str, int]) -> str:
    return ", ".join(f"`{k}` {v:,}" for k, v in sorted(by_route.items()))


def report(out: dict[str, Any], command: str, total_s: float) -> str:
    m = out["machine"]
    apis: list[str] = out.get("apis", list(APIS))
    lines = [
        f"Command: `{command}` (took {total_s / 60:.1f} min)",
        "",
        f"Machine: {m['nproc']} CPU ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, "
        f"Linux {m['kernel']}. Emulator and sync in separate processes on 127.0.0.1; emulator "
        f"rate limit {RATE:g} GET/s, latency {LATENCY_MS} ms + uniform [0, {JITTER_MS}] ms.",
        "",
    ]
    sizes = out["sizes"]
    biggest = list(sizes)[-1]
    fulls = sizes[biggest]["full"]
    learners = next(iter(fulls.values()))["learners"]
    rows: list[tuple[str, dict[str, tuple[str, str]]]] = []

    def row(name: str, cell: Any) -> None:
        rows.append((name, {api: cell(api, f) for api, f in fulls.items()}))

    row("requests", lambda a, f: (f"{f['requests']:,}", ""))
    row(
        "requests per learner",
        lambda a, f: (
            f"{f['requests_per_learner']:.3f}",
            _goal(a, "requests_per_learner", f["requests_per_learner"], ".1f"),
        ),
    )
    if "v2" in fulls:
        f2 = fulls["v2"]
        without = (f2["requests"] - per_user_requests(f2["by_route"])) / f2["learners"]
        rows.append(
            (
                "requests per learner without certificates and custom-field values",
                {
                    "v2": (
                        f"{without:.3f}",
                        _goal("v2", "requests_per_learner_without_per_user", without, ".1f"),
                    )
                },
            )
        )
    row("wall time (HTTP to loaded tables)", lambda a, f: (f"{f['wall_s']:.1f} s", ""))
    row(f"floor (requests ÷ {RATE:g}/s)", lambda a, f: (f"{f['floor_s']:.1f} s", ""))
    row(
        "ratio wall / floor",
        lambda a, f: (f"{f['ratio']:.3f}", _goal(a, "ratio", f["ratio"], ".2f")),
    )
    row(
        "answered 429",
        lambda a, f: (
            f"{f['rate_limited']} ({f['rate_limited_pct']:.2f} %)",
            _goal(a, "rate_limited_pct", f["rate_limited_pct"], ".0f", unit=" %"),
        ),
    )
    row(
        "peak memory (PSS of the sync's processes, incl. models)",
        lambda a, f: (
            f"{f['peak_rss_mb']:.0f} MB",
            _goal(a, "peak_rss_mb", f["peak_rss_mb"], ".0f", unit=" MB"),
        ),
    )
    row("same, as the sum of RSS", lambda a, f: (f"{f['peak_rss_sum_mb']:.0f} MB", ""))
    row(
        "peak RSS per process",
        lambda a, f: (
            ", ".join(f"{k.split()[0]} {v} MB" for k, v in f["peak_per_process"].items()),
            "",
        ),
    )
    row(
        "steps: extract / normalize / load",
        lambda a, f: (
            f"{f['extract_s'] or 0:.1f} / {f['normalize_s'] or 0:.1f} / {f['load_s'] or 0:.1f} s",
            "",
        ),
    )
    row("derived models (not in the wall time)", lambda a, f: (f"{f['models_s'] or 0:.1f} s", ""))
    lines += [f"### Full sync, {biggest} company ({learners:,} learners)", ""]
    lines += _table(apis, rows) + [""]
    for api, f in fulls.items():
        lines += [f"Requests by route, {api}: " + _routes(f["by_route"]), ""]

    incs = out.get("incremental") or {}
    if incs:
        size = next(iter(incs.values()))["size"]
        rows = []
        for name, cell in (
            (
                "requests (share of the full sync)",
                lambda a, i: (
                    f"{i['requests']:,} = {i['requests_pct']:.1f} %",
                    _goal(a, "incremental_requests_pct", i["requests_pct"], ".0f", unit=" %"),
                ),
            ),
            (
                "wall time (share of the full sync)",
                lambda a, i: (
                    f"{i['wall_s']:.1f} s = {i['wall_pct']:.1f} %",
                    _goal(a, "incremental_wall_pct", i["wall_pct"], ".0f", unit=" %"),
                ),
            ),
            ("answered 429", lambda a, i: (f"{i['rate_limited']}", "")),
            (
                "warehouse vs ground truth (v2 goal: the tables with a change signal)",
                lambda a, i: (
                    i["truth"],
                    f"equal: {verdict(i['truth'].startswith('equal'))}",
                ),
            ),
        ):
            rows.append((name, {api: cell(api, i) for api, i in incs.items()}))
        lines += [f"### Incremental sync after one simulated day ({size})", ""]
        lines += _table(apis, rows) + [""]
        for api, i in incs.items():
            lines += [f"Requests by route, {api}: " + _routes(i["by_route"]), ""]
        if "v1" in incs:
            lines += [
                "The incremental runs minutes after the full sync, so no v1 user's details are "
                "due yet; on a daily schedule with `user_details_refresh_days = 30` add about "
                f"{incs['v1']['user_details_daily']:,.0f} getUser requests per run.",
                "",
            ]

    for api, tp in (out.get("throughput") or {}).items():
        runs = ", ".join(
            f"{r['rows']:,} rows in {r['seconds']:.1f} s = {r['rows_per_s']:,.0f}/s "
            f"(extract {r['steps'].get('extract', 0):.1f}, normalize "
            f"{r['steps'].get('normalize', 0):.1f}, load {r['steps'].get('load', 0):.1f})"
            for r in tp["runs"]
        )
        goal = _goal(
            api, "attempt_rows_per_s", tp["median_rows_per_s"], ",.0f", above=True, unit="/s"
        )
        lines += [
            f"### Throughput {api}, rate limit off, no latency ({tp['size']}, user_courses alone)",
            "",
            f"Median **{tp['median_rows_per_s']:,.0f} attempt rows/s** from HTTP to the loaded "
            f"DuckDB table{f' (goal {goal})' if goal else ''}. Runs: {runs}.",
            "",
        ]

    lines += [
        "### Growth (full sync, rate limit 50/s, latency 50 ± 20 ms)",
        "",
        "| size | api | learners | attempts | requests | req/learner | wall | floor | ratio | "
        "429 | peak memory (PSS) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, data in sizes.items():
        for api, f in data["full"].items():
            lines.append(
                f"| {size} | {api} | {f['learners']:,} | {data['counts']['attempts']:,} | "
                f"{f['requests']:,} | {f['requests_per_learner']:.2f} | {f['wall_s']:.1f} s | "
                f"{f['floor_s']:.1f} s | {f['ratio']:.2f} | {f['rate_limited']} | "
                f"{f['peak_rss_mb']:.0f} MB |"
            )
    lines.append("")

    bases = out.get("baseline") or {}
    if bases and "medium" in sizes:
        lines += [
            "### Baseline: dlt's generic `rest_api` source, medium company",
            "",
            "v1: parent-child resources (users → users/{id}, users/{id}/courses, "
            "users/{id}/programs; groups → groups/{id}, catalog, programs; courses → "
            'courses/{id}; path sessions → stats), auth headers, `"paginator": '
            '"single_page"`. v2: the routes learning360 reads (per-user certificates and '
            "custom-field values, per-group roles and catalogs, per-classroom slots and "
            "registrations as child resources), `OAuth2ClientCredentials` (with a JSON token "
            'body, as 360Learning documents), `"paginator": "header_link"`. Default '
            "settings otherwise.",
            "",
            "| | requests | wall | 429 | peak memory |",
            "|---|---|---|---|---|",
        ]
        for api, base in bases.items():
            ours = sizes["medium"]["full"][api]
            lines += [
                f"| rest_api {api} | {base['requests']:,} | {base['wall_s']:.1f} s | "
                f"{base['rate_limited']:,} | {base['peak_rss_mb']:.0f} MB |",
                f"| learning360 {api} | {ours['requests']:,} | {ours['wall_s']:.1f} s | "
                f"{ours['rate_limited']:,} | {ours['peak_rss_mb']:.0f} MB |",
                f"| ratio rest_api / learning360, {api} | "
                f"{base['requests'] / ours['requests']:.2f}× | "
                f"{base['wall_s'] / ours['wall_s']:.2f}× | | |",
            ]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the large company")
    parser.add_argument(
        "--api", choices=("v1", "v2", "both"), default="both", help="API version(s) to measure"
    )
    parser.add_argument(
        "--sizes",
        default=None,
        metavar="S,S",
        help="only these company sizes, in this order (e.g. medium); overrides --quick",
    )
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs (median)")
    parser.add_argument("--no-baseline", action="store_true", help="skip dlt's rest_api runs")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write raw figures")
    parser.add_argument("--markdown", default=None, metavar="PATH", help="write the report")
    parser.add_argument(
        "--tenants",
        action="store_true",
        help="only the multi-tenant figures: three medium companies in parallel vs one alone",
    )
    args = parser.parse_args(argv)
    if args.tenants:
        from bench.tenants import main as tenants_main

        return tenants_main(args)
    apis = APIS if args.api == "both" else (args.api,)
    command = "python -m bench" + (" --quick" if args.quick else "")
    command += "" if args.api == "both" else f" --api {args.api}"
    only_sizes = args.sizes.split(",") if args.sizes else None
    if only_sizes:
        unknown = set(only_sizes) - {"small", "medium", "large"}
        if unknown:
            parser.error(f"unknown size(s): {', '.join(sorted(unknown))}")
        command += f" --sizes {args.sizes}"
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"{time.perf_counter() - started:7.1f}s  {message}", file=sys.stderr, flush=True)

    out = bench(args.quick, max(1, args.repeats), not args.no_baseline, log, apis, only_sizes)
    if args.json:  # first: an hour of figures survives a slip in the report below
        Path(args.json).write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    text = report(out, command, time.perf_counter() - started)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
