"""`make demo`: a full (then incremental) sync of a synthetic company into .demo/demo.duckdb.

Starts the emulator as a separate process (as a real API would be), points the pipeline at it
through the same environment variables a user would set, runs `learning360 sync`, prints the
summary and stops the emulator. Each run advances the company by one simulated day, so a second
`make demo` shows an incremental sync.

Everything the demo writes stays under ``.demo/`` (its DuckDB file, dataset, dlt working dir,
report), so ``./learning360.duckdb``, the default of ``learning360 sync``, is the user's own
tenant's: a synthetic company never mixes into it (each dataset records its company too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.cli import main as cli

DEMO_DIR = Path(".demo")
DUCKDB_PATH = str(DEMO_DIR / "demo.duckdb")
DATASET_NAME = "learning360_data"
PIPELINES_DIR = str(DEMO_DIR / "pipelines")
REPORT_PATH = str(DEMO_DIR / "learning360-report.html")
# the demo's own place, whatever the user's dlt configuration says (pipelines/dlt_config.py)
WHERE = ["--duckdb-path", DUCKDB_PATH, "--dataset-name", DATASET_NAME]
WHERE += ["--pipelines-dir", PIPELINES_DIR]
SIZE = os.environ.get("DEMO_SIZE", "medium")
SEED = "42"


def start_emulator(days: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    ready = DEMO_DIR / "emulator.json"
    ready.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "emulator", "--size", SIZE, "--seed", SEED, "--port", "0"]
    cmd += ["--advance-days", str(days), "--ready-file", str(ready)]
    log = open(DEMO_DIR / "emulator.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"demo: the emulator did not start; see {DEMO_DIR / 'emulator.log'}")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())


def main() -> int:
    DEMO_DIR.mkdir(exist_ok=True)
    runs_file = DEMO_DIR / "runs"
    days = int(runs_file.read_text()) if runs_file.exists() and Path(DUCKDB_PATH).exists() else 0
    kind = "incremental" if days else "full"
    print(f"demo: starting the emulator ({SIZE} company, seed {SEED}, day {days})")
    proc, info = start_emulator(days)
    where = WHERE
    try:
        os.environ["SOURCES__LEARNING360__BASE_URL"] = info["base_url"]
        os.environ["SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID"] = info["company_id"]
        os.environ["SOURCES__LEARNING360__CREDENTIALS__API_KEY"] = info["api_key"]
        print(f"demo: {kind} sync from {info['base_url']} into {DUCKDB_PATH}")
        code = cli(["sync", *where])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    if code == 0:
        runs_file.write_text(str(days + 1))
        code = cli(["report", *where, "--output", REPORT_PATH])
        query = f"select * from {DATASET_NAME}.course_stats limit 5"
        print(f"demo: done. Open {REPORT_PATH}, or query the warehouse:")
        print(
            f"  .venv/bin/python -c \"import duckdb; duckdb.connect('{DUCKDB_PATH}').sql('{query}').show()\""
        )
        print("demo: run `make demo` again for an incremental sync one simulated day later;")
        print("  `learning360 sync` with your tenant's credentials writes to ./learning360.duckdb")
    return code


if __name__ == "__main__":
    sys.exit(main())
