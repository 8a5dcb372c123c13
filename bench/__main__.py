"""`python -m bench [--quick]`: the performance figures of issue 6, measured in one run.

The emulator runs in its own process (`python -m emulator ... --ready-file`), and every sync in
another (`python -m bench.child`), so the sync's peak RSS is its own and client and server do
not share a GIL. Figures (goal in brackets):

1. full sync of the largest size at 50 GET/s, latency 50 ms ± 20 ms: requests, requests per
   learner [≤ 1.3], wall time, floor (requests ÷ 50/s), ratio [≤ 1.15], 429 share [≤ 1 %],
   peak memory [≤ 500 MB] (PSS summed over the sync's processes: it forks its extract);
2. incremental sync after `/_emulator/advance` (one simulated day): requests [≤ 5 %] and wall
   [≤ 10 %] as a share of the full sync, and whether the warehouse equals the ground truth;
3. throughput with the rate limit off and no latency: user_courses alone, attempt rows/s from
   HTTP to the loaded DuckDB table [≥ 10,000/s] (median of repeats);
4. growth: requests, wall and peak RSS for small, medium, large;
5. baseline: dlt's generic `rest_api` source on the medium company, same emulator settings.

`--quick` skips the large company (~10 minutes less); the incremental and throughput figures
are then measured on medium.
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

ROOT = Path(__file__).resolve().parents[1]
RATE = 50.0
LATENCY_MS, JITTER_MS = 50, 20
GOALS = {
    "ratio": 1.15,
    "rate_limited_pct": 1.0,
    "requests_per_learner": 1.3,
    "incremental_requests_pct": 5.0,
    "incremental_wall_pct": 10.0,
    "attempt_rows_per_s": 10_000,
    "peak_rss_mb": 500,
}


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
    cmd += ["--workdir", workdir, *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    process_seconds = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
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


def check_truth(workdir: str, emu: Emulator) -> str:
    """Compare the bench warehouse with the emulator's truth (admin route), contract columns."""
    code = (
        "import json,sys,urllib.request\n"
        "from pipelines.run import make_pipeline\n"
        "from tests.warehouse import assert_warehouse_equals_truth\n"
        f"r=urllib.request.Request({emu.base_url + '/_emulator/truth'!r},"
        f"headers={{'X-Emulator-Admin':{emu.info['admin_token']!r}}})\n"
        "truth=json.loads(urllib.request.urlopen(r,timeout=600).read())\n"
        "p=make_pipeline(pipeline_name='learning360_bench',"
        f"pipelines_dir={os.path.join(workdir, 'pipelines')!r},"
        f"duckdb_path={os.path.join(workdir, 'bench.duckdb')!r})\n"
        "assert_warehouse_equals_truth(p,truth)\nprint('EQUAL')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if "EQUAL" in proc.stdout:
        return "equal"
    return "DIFFERS: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:300]


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


def bench(quick: bool, repeats: int, baseline: bool, log: Any) -> dict[str, Any]:
    sizes = ["small", "medium"] if quick else ["small", "medium", "large"]
    biggest = sizes[-1]
    out: dict[str, Any] = {"machine": machine(), "sizes": {}, "quick": quick}
    work = tempfile.mkdtemp(prefix="learning360-bench-")
    try:
        for size in sizes:
            log(f"[{size}] starting the emulator (rate {RATE:g}/s, {LATENCY_MS}±{JITTER_MS} ms)")
            with emulator(size) as emu:
                learners = emu.info["counts"]["users"]
                workdir = os.path.join(work, f"{size}-ours")
                log(f"[{size}] full sync ({learners} learners) ...")
                full = full_figures(run_child(emu, "ours", workdir, "--models"), learners)
                out["sizes"][size] = {"counts": emu.info["counts"], "full": full}
                log(
                    f"[{size}] full: {full['requests']} requests, {full['wall_s']:.1f} s, "
                    f"ratio {full['ratio']:.3f}, 429 {full['rate_limited']}, "
                    f"RSS {full['peak_rss_mb']:.0f} MB"
                )
                if size == "medium" and baseline:
                    log("[medium] baseline: dlt rest_api source ...")
                    base = run_child(emu, "rest_api", os.path.join(work, "medium-rest-api"))
                    out["baseline"] = {
                        "requests": base["requests"],
                        "wall_s": base["seconds"],
                        "rate_limited": base["rate_limited"],
                        "peak_rss_mb": base["peak_rss_mb"],
                        "rows": base["rows"],
                    }
                    log(
                        f"[medium] baseline: {base['requests']} requests, "
                        f"{base['seconds']:.1f} s, 429 {base['rate_limited']}"
                    )
                if size == biggest:
                    advanced = emu.admin("POST", "advance", {"days": 1})
                    log(f"[{size}] advanced one day to {advanced['now']}; incremental sync ...")
                    inc = run_child(emu, "ours", workdir, "--models")
                    truth = check_truth(workdir, emu)
                    out["incremental"] = {
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
                        f"[{size}] incremental: {inc['requests']} requests, "
                        f"{inc['seconds']:.1f} s, warehouse vs truth: {truth}"
                    )
                    emu.admin("POST", "config", {"rate_limit": 0})
                    emu.admin("POST", "faults", {})
                    runs = []
                    for n in range(repeats):
                        log(f"[{size}] throughput run {n + 1}/{repeats} (user_courses, no limit)")
                        result = run_child(
                            emu,
                            "ours",
                            os.path.join(work, f"{size}-throughput-{n}"),
                            "--resources",
                            "user_courses",
                            "--rate",
                            "1000000",  # no limit in effect (0 or less is refused)
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
                    out["throughput"] = {
                        "size": size,
                        "runs": runs,
                        "median_rows_per_s": statistics.median(r["rows_per_s"] for r in runs),
                    }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


# ---- report ------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def report(out: dict[str, Any], command: str, total_s: float) -> str:
    m = out["machine"]
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
    full = sizes[biggest]["full"]
    lines += [
        f"### Full sync, {biggest} company ({full['learners']:,} learners)",
        "",
        "| figure | value | goal | |",
        "|---|---|---|---|",
        f"| requests | {full['requests']:,} | | |",
        f"| requests per learner | {full['requests_per_learner']:.3f} | ≤ 1.3 | "
        f"{verdict(full['requests_per_learner'] <= GOALS['requests_per_learner'])} |",
        f"| wall time (HTTP to loaded tables) | {full['wall_s']:.1f} s | | |",
        f"| floor (requests ÷ {RATE:g}/s) | {full['floor_s']:.1f} s | | |",
        f"| ratio wall / floor | {full['ratio']:.3f} | ≤ 1.15 | "
        f"{verdict(full['ratio'] <= GOALS['ratio'])} |",
        f"| answered 429 | {full['rate_limited']} ({full['rate_limited_pct']:.2f} %) | ≤ 1 % | "
        f"{verdict(full['rate_limited_pct'] <= GOALS['rate_limited_pct'])} |",
        f"| peak memory of the sync (PSS of its processes, incl. derived models) | "
        f"{full['peak_rss_mb']:.0f} MB | ≤ 500 MB | "
        f"{verdict(full['peak_rss_mb'] <= GOALS['peak_rss_mb'])} |",
        f"| same, as the sum of RSS (shared pages counted twice) | "
        f"{full['peak_rss_sum_mb']:.0f} MB | | |",
        "| peak RSS per process | "
        + ", ".join(f"{k.split()[0]} {v} MB" for k, v in full["peak_per_process"].items())
        + " | | |",
        f"| steps: extract / normalize / load | {full['extract_s']:.1f} / "
        f"{full['normalize_s']:.1f} / {full['load_s']:.1f} s | | |",
        f"| derived models (not in the wall time) | {full['models_s'] or 0:.1f} s | | |",
        "",
        "Requests by route: "
        + ", ".join(f"`{k}` {v:,}" for k, v in sorted(full["by_route"].items())),
        "",
    ]
    inc = out.get("incremental")
    if inc:
        lines += [
            f"### Incremental sync after one simulated day ({inc['size']})",
            "",
            "| figure | value | goal | |",
            "|---|---|---|---|",
            f"| requests | {inc['requests']:,} = {inc['requests_pct']:.1f} % of full | ≤ 5 % | "
            f"{verdict(inc['requests_pct'] <= GOALS['incremental_requests_pct'])} |",
            f"| wall time | {inc['wall_s']:.1f} s = {inc['wall_pct']:.1f} % of full | ≤ 10 % | "
            f"{verdict(inc['wall_pct'] <= GOALS['incremental_wall_pct'])} |",
            f"| answered 429 | {inc['rate_limited']} | | |",
            f"| warehouse vs ground truth | {inc['truth']} | equal | "
            f"{verdict(inc['truth'] == 'equal')} |",
            "",
            "Requests by route: "
            + ", ".join(f"`{k}` {v:,}" for k, v in sorted(inc["by_route"].items())),
            "",
            f"The incremental runs minutes after the full sync, so no user's details are due "
            f"yet; on a daily schedule with `user_details_refresh_days = 30` add about "
            f"{inc['user_details_daily']:,.0f} getUser requests per run.",
            "",
        ]
    tp = out.get("throughput")
    if tp:
        runs = ", ".join(
            f"{r['rows']:,} rows in {r['seconds']:.1f} s = {r['rows_per_s']:,.0f}/s "
            f"(extract {r['steps'].get('extract', 0):.1f}, normalize "
            f"{r['steps'].get('normalize', 0):.1f}, load {r['steps'].get('load', 0):.1f})"
            for r in tp["runs"]
        )
        lines += [
            f"### Throughput, rate limit off, no latency ({tp['size']}, user_courses alone)",
            "",
            f"Median **{tp['median_rows_per_s']:,.0f} attempt rows/s** from HTTP to the loaded "
            f"DuckDB table (goal ≥ 10,000/s: "
            f"{verdict(tp['median_rows_per_s'] >= GOALS['attempt_rows_per_s'])}). Runs: {runs}.",
            "",
        ]
    lines += [
        "### Growth (full sync, rate limit 50/s, latency 50 ± 20 ms)",
        "",
        "| size | learners | attempts | requests | req/learner | wall | floor | ratio | 429 | "
        "peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, data in sizes.items():
        f = data["full"]
        lines.append(
            f"| {size} | {f['learners']:,} | {data['counts']['attempts']:,} | "
            f"{f['requests']:,} | {f['requests_per_learner']:.2f} | {f['wall_s']:.1f} s | "
            f"{f['floor_s']:.1f} s | {f['ratio']:.2f} | {f['rate_limited']} | "
            f"{f['peak_rss_mb']:.0f} MB |"
        )
    lines.append("")
    base = out.get("baseline")
    if base and "medium" in sizes:
        ours = sizes["medium"]["full"]
        lines += [
            "### Baseline: dlt's generic `rest_api` source, medium company",
            "",
            "Configured as dlt's docs show: parent-child resources (users → users/{id}, "
            "users/{id}/courses, users/{id}/programs; groups → groups/{id}, catalog, programs; "
            "courses → courses/{id}; path sessions → stats), auth headers, "
            '`"paginator": "single_page"`, default settings otherwise.',
            "",
            "| | requests | wall | 429 | peak RSS |",
            "|---|---|---|---|---|",
            f"| rest_api | {base['requests']:,} | {base['wall_s']:.1f} s | "
            f"{base['rate_limited']:,} | {base['peak_rss_mb']:.0f} MB |",
            f"| learning360 | {ours['requests']:,} | {ours['wall_s']:.1f} s | "
            f"{ours['rate_limited']:,} | {ours['peak_rss_mb']:.0f} MB |",
            f"| ratio rest_api / ours | {base['requests'] / ours['requests']:.2f}× | "
            f"{base['wall_s'] / ours['wall_s']:.2f}× | | |",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the large company")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs (median)")
    parser.add_argument("--no-baseline", action="store_true", help="skip dlt's rest_api run")
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
    command = "python -m bench" + (" --quick" if args.quick else "")
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"{time.perf_counter() - started:7.1f}s  {message}", file=sys.stderr, flush=True)

    out = bench(args.quick, max(1, args.repeats), not args.no_baseline, log)
    text = report(out, command, time.perf_counter() - started)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
