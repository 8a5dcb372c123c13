"""`python -m emulator.bench`: how fast the emulator answers, measured against a server in its
own process (so client and server do not share a GIL) on 127.0.0.1.

1. small requests: getUser on the medium company, N client threads with keep-alive sessions,
   rate limit off, no faults, for a fixed time;
2. streaming: `/courses/stats` on the large company (time, bytes, server peak RSS)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests


@contextmanager
def serve(
    size: str, seed: int = 0
) -> Iterator[tuple[dict[str, Any], subprocess.Popen[bytes], float]]:
    with tempfile.TemporaryDirectory() as tmp:
        ready = os.path.join(tmp, "ready.json")
        cmd = [sys.executable, "-m", "emulator", "--port", "0", "--size", size, "--seed", str(seed)]
        cmd += ["--rate-limit", "0", "--ready-file", ready]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        try:
            while not os.path.exists(ready):
                if proc.poll() is not None:
                    raise RuntimeError(f"emulator exited with {proc.returncode}")
                time.sleep(0.02)
            startup = time.perf_counter() - t0
            with open(ready, encoding="utf-8") as fh:
                yield json.load(fh), proc, startup
        finally:
            proc.terminate()
            proc.wait(10)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def small_requests(threads: int, seconds: float) -> dict[str, Any]:
    with serve("medium") as (info, proc, startup):
        auth = {"X-company-id": info["company_id"], "X-apiKey": info["api_key"]}
        base = info["base_url"] + "/api/v1"
        admin = requests.get(
            info["base_url"] + "/_emulator/truth", headers={"X-Emulator-Admin": info["admin_token"]}
        )
        user_ids = [u["_id"] for u in admin.json()["users"] if not u["deleted"]]
        latencies: list[list[float]] = [[] for _ in range(threads)]
        errors = [0] * threads
        stop_at = time.perf_counter() + seconds

        def worker(i: int) -> None:
            with requests.Session() as session:
                n = i
                while time.perf_counter() < stop_at:
                    t = time.perf_counter()
                    r = session.get(f"{base}/users/{user_ids[n % len(user_ids)]}", headers=auth)
                    latencies[i].append(time.perf_counter() - t)
                    if r.status_code != 200:
                        errors[i] += 1
                    n += threads

        t0 = time.perf_counter()
        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - t0
        flat = sorted(x for lst in latencies for x in lst)
        return {
            "company": "medium",
            "startup_s": round(startup, 2),
            "threads": threads,
            "requests": len(flat),
            "errors": sum(errors),
            "req_per_s": round(len(flat) / elapsed, 1),
            "p50_ms": round(statistics.median(flat) * 1000, 2),
            "p99_ms": round(flat[int(len(flat) * 0.99)] * 1000, 2),
            "server_peak_rss_mb": round(peak_rss_mb(proc.pid), 1),
        }


def stream_stats(size: str) -> dict[str, Any]:
    with serve(size) as (info, proc, startup):
        rss_idle = peak_rss_mb(proc.pid)
        params = {"company": info["company_id"], "apiKey": info["api_key"]}
        t0 = time.perf_counter()
        first = None
        size_bytes = 0
        with requests.get(
            info["base_url"] + "/api/v1/courses/stats", params=params, stream=True
        ) as r:
            r.raise_for_status()
            for chunk in r.iter_content(1 << 16):
                if first is None:
                    first = time.perf_counter() - t0
                size_bytes += len(chunk)
            chunked = r.headers.get("Transfer-Encoding") == "chunked"
        elapsed = time.perf_counter() - t0
        return {
            "company": size,
            "startup_s": round(startup, 2),
            "bytes": size_bytes,
            "chunked": chunked,
            "time_to_first_byte_s": round(first or 0.0, 3),
            "total_s": round(elapsed, 2),
            "mb_per_s": round(size_bytes / elapsed / 1e6, 1),
            "server_peak_rss_mb_before": round(rss_idle, 1),
            "server_peak_rss_mb_after": round(peak_rss_mb(proc.pid), 1),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.bench")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--stream-size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--skip-stream", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps({"small_requests": small_requests(args.threads, args.seconds)}), flush=True)
    if not args.skip_stream:
        print(json.dumps({"stream_courses_stats": stream_stats(args.stream_size)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
