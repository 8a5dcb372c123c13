"""`python -m bench --tenants`: many companies in parallel (issue 18).

Each tenant is a `medium` company with its own emulator process (own seed, own rate limit of
50 GET/s, latency 50 ± 20 ms), as real 360Learning companies have their own limits. The sync
is the CLI's multi-tenant mode, `learning360 sync --tenants tenants.toml --parallel N`, into
DuckDB (one file per tenant), timed from outside. Figures (goal in brackets):

1. one tenant alone: wall time;
2. three tenants, `--parallel 3`: wall time, ratio to one alone [≤ 1.3], peak memory (PSS summed
   over the CLI and every process under it);
3. the same three, `--parallel 1`: wall time and peak memory, to show that `--parallel` bounds
   the memory (one tenant's sync at a time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.__main__ import JITTER_MS, LATENCY_MS, RATE, ROOT, Emulator, emulator, machine

SIZE = "medium"
GOAL_RATIO = 1.3


class TreeSampler:
    """Peak PSS (and RSS) summed over a process and all its descendants, every 50 ms."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak_pss = self.peak_rss = 0
        self.peak_processes = 0
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return
            pss = rss = 0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    info = proc.memory_full_info()
                    pss += info.pss
                    rss += info.rss
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_processes = max(self.peak_processes, len(procs))
            self._stop.wait(self._interval)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(5)
        return {
            "peak_pss_mb": self.peak_pss / 2**20,
            "peak_rss_sum_mb": self.peak_rss / 2**20,
            "peak_processes": self.peak_processes,
        }


def tenants_toml(emus: list[tuple[str, Emulator]]) -> tuple[str, dict[str, str]]:
    """The tenants file and the credential variables it names."""
    text, env = [], {}
    for name, emu in emus:
        prefix = name.upper()
        text.append(
            f"[tenants.{name}]\n"
            f'base_url = "{emu.base_url}"\n'
            f'company_id_env = "{prefix}_COMPANY_ID"\n'
            f'api_key_env = "{prefix}_API_KEY"\n'
        )
        env[f"{prefix}_COMPANY_ID"] = emu.info["company_id"]
        env[f"{prefix}_API_KEY"] = emu.info["api_key"]
    return "\n".join(text), env


def run_tenants(emus: list[tuple[str, Emulator]], parallel: int, workdir: Path) -> dict[str, Any]:
    """One `learning360 sync --tenants` run: wall time, peak memory, per-tenant lines."""
    workdir.mkdir(parents=True)
    text, credentials = tenants_toml(emus)
    (workdir / "tenants.toml").write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__LEARNING360__")}
    env.update(credentials)
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "pipelines.cli", "sync", "--tenants", "tenants.toml"]
    cmd += ["--parallel", str(parallel), "--pipelines-dir", "pipelines", "--progress", "none"]
    for _, emu in emus:
        emu.admin("POST", "metrics/reset")
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = TreeSampler(proc.pid)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    memory = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-4000:]}")
    requests = rate_limited = 0
    for _, emu in emus:
        metrics = emu.admin("GET", "metrics")
        requests += metrics["total"]
        rate_limited += metrics["429"]
    return {
        "parallel": parallel,
        "tenants": len(emus),
        "wall_s": wall,
        "lines": [ln for ln in stdout.splitlines() if ln.strip()],
        "requests": requests,
        "rate_limited": rate_limited,
        **memory,
    }


def bench_tenants(log: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine(), "size": SIZE}
    work = Path(tempfile.mkdtemp(prefix="learning360-bench-tenants-"))
    try:
        with contextlib.ExitStack() as stack:
            emus = []
            for seed, name in enumerate(("north", "south", "east"), start=1):
                log(f"starting emulator {name} ({SIZE}, seed {seed}, {RATE:g} GET/s)")
                emus.append((name, stack.enter_context(emulator(SIZE, seed=seed))))
            log("one tenant alone ...")
            out["alone"] = run_tenants(emus[:1], 1, work / "alone")
            log(f"  {out['alone']['wall_s']:.1f} s")
            log("three tenants, --parallel 3 ...")
            out["parallel"] = run_tenants(emus, 3, work / "parallel")
            log(f"  {out['parallel']['wall_s']:.1f} s")
            log("three tenants, --parallel 1 ...")
            out["serial"] = run_tenants(emus, 1, work / "serial")
            log(f"  {out['serial']['wall_s']:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["ratio"] = out["parallel"]["wall_s"] / out["alone"]["wall_s"]
    return out


def report(out: dict[str, Any], command: str, total_s: float) -> str:
    m = out["machine"]
    alone, par, ser = out["alone"], out["parallel"], out["serial"]
    verdict = "pass" if out["ratio"] <= GOAL_RATIO else "FAIL"

    def row(label: str, r: dict[str, Any], ratio: str = "") -> str:
        return (
            f"| {label} | {r['wall_s']:.1f} s | {ratio} | {r['requests']:,} | "
            f"{r['rate_limited']} | {r['peak_pss_mb']:.0f} MB | {r['peak_rss_sum_mb']:.0f} MB | "
            f"{r['peak_processes']} |"
        )

    lines = [
        f"Command: `{command}` (took {total_s / 60:.1f} min)",
        "",
        f"Machine: {m['nproc']} CPU ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, "
        f"Linux {m['kernel']}. One emulator process per tenant ({out['size']} company, own "
        f"seed, rate limit {RATE:g} GET/s, latency {LATENCY_MS} ms + uniform [0, {JITTER_MS}] "
        "ms); `learning360 sync --tenants` into DuckDB, models and cross-tenant tables included.",
        "",
        "| run | wall | ratio to one alone | requests | 429 | peak memory (PSS, whole tree) | "
        "sum of RSS | processes |",
        "|---|---|---|---|---|---|---|---|",
        row("one tenant alone", alone),
        row(
            "three tenants, `--parallel 3`",
            par,
            f"**{out['ratio']:.2f}** (≤ {GOAL_RATIO}: {verdict})",
        ),
        row("three tenants, `--parallel 1`", ser, f"{ser['wall_s'] / alone['wall_s']:.2f}"),
        "",
        "Per-tenant lines of the `--parallel 3` run: "
        + "; ".join(f"`{' '.join(line.split())}`" for line in par["lines"]),
        "",
    ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"{time.perf_counter() - started:7.1f}s  {message}", file=sys.stderr, flush=True)

    out = bench_tenants(log)
    text = report(out, "python -m bench --tenants", time.perf_counter() - started)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")
    return 0
