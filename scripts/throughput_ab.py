"""Throughput A/B of two versions of the source in one run (timings on shared machines are noisy:
only a same-run ratio means something): ``python -m scripts.throughput_ab REV [RUNS]``.

REV (a commit) is checked out in a temporary git worktree; both versions then sync
``user_courses`` alone from one emulator of the medium company with the rate limit and latency
off (the bench's child process, as ``make bench``'s throughput figure), alternating, RUNS times
per API version (default 5). Prints each run and the medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.__main__ import emulator

ROOT = Path(__file__).resolve().parent.parent


def rows_per_second(emu, root: str, api: str) -> float:
    info = emu.info
    cmd = [sys.executable, "-m", "bench.child", "ours", "--base-url", emu.base_url]
    cmd += ["--company-id", info["company_id"], "--api-key", info["api_key"]]
    cmd += ["--client-id", info["client_id"], "--client-secret", info["client_secret"]]
    cmd += ["--workdir", tempfile.mkdtemp(), "--resources", "user_courses"]
    cmd += ["--rate", "1000000", "--api-version", api]
    env = {**os.environ, "PYTHONPATH": root}  # this tree's sources/, not the installed one
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=True)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")][-1]
    result = json.loads(line[len("BENCH_RESULT ") :])
    return result["rows"].get("user_courses", 0) / result["seconds"]


def main(rev: str, runs: int = 5) -> None:
    old = tempfile.mkdtemp(prefix="learning360-ab-")
    subprocess.run(["git", "worktree", "add", "-q", "--detach", old, rev], cwd=ROOT, check=True)
    roots = {rev: old, "HEAD": str(ROOT)}
    figures: dict[tuple[str, str], list[float]] = {}
    try:
        with emulator("medium", rate_limit=1_000_000, faults=False) as emu:
            for run in range(runs):
                for api in ("v1", "v2"):
                    for name, root in roots.items():
                        value = rows_per_second(emu, root, api)
                        figures.setdefault((name, api), []).append(value)
                        print(
                            f"run {run + 1} {api} {name}: {value:,.0f} attempt rows/s", flush=True
                        )
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", old], cwd=ROOT, check=False)
    for api in ("v1", "v2"):
        before, after = (statistics.median(figures[(name, api)]) for name in roots)
        print(
            f"{api}: {rev} {before:,.0f}, HEAD {after:,.0f} rows/s (median), ×{after / before:.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1], *(int(arg) for arg in sys.argv[2:3]))
