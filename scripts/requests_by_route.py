"""Requests by route of a full sync and of an incremental sync one simulated day later, on an
emulator company (issue 16): ``python scripts/requests_by_route.py medium v2 [RATE] [ENV=VALUE…]``.

The emulator runs in this process (rate limit RATE GET/s, default 50; the client is set to 90 %
of it); between the two syncs the company advances one day and so does the clock of the
sources' refresh schedules (v1 getUser details, v2 per-user / per-group data), as a daily
schedule would see it. Extra ``ENV=VALUE`` arguments set source settings, e.g.
``SOURCES__LEARNING360__V2_SKIP_TABLES=user_certificates,user_custom_fields``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import sources.learning360.refresh as refresh
from emulator import Company, EmulatorServer
from pipelines.run import make_pipeline, run_sync


def _day_later() -> float:
    return time.time() + 86_400


def main(size: str, version: str, rate: float = 50.0, *settings: str) -> None:
    company = Company.generate(seed=7, size=size)
    work = tempfile.mkdtemp(prefix="learning360-requests-")
    with EmulatorServer(company, port=0, rate_limit=rate) as emu:
        env = {
            "SOURCES__LEARNING360__BASE_URL": emu.base_url,
            "SOURCES__LEARNING360__API_VERSION": version,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": str(rate * 0.9),
        }
        if version == "v2":
            env["SOURCES__LEARNING360__CREDENTIALS__CLIENT_ID"] = emu.client_id
            env["SOURCES__LEARNING360__CREDENTIALS__CLIENT_SECRET"] = emu.client_secret
        else:
            env["SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID"] = emu.company_id
            env["SOURCES__LEARNING360__CREDENTIALS__API_KEY"] = emu.api_key
            env["SOURCES__LEARNING360__CREDENTIALS__AUTH_METHOD"] = "oauth"
        env.update(setting.split("=", 1) for setting in settings)
        os.environ.update(env)
        pipeline = make_pipeline(
            pipeline_name="requests", pipelines_dir=f"{work}/p", duckdb_path=f"{work}/w.duckdb"
        )
        learners, totals = len(company.users), {}
        for label in ("full", "incremental"):
            if label == "incremental":
                company.advance(days=1)
                refresh.clock = _day_later
            started = time.time()
            requests = run_sync(pipeline, build_models=False).requests
            totals[label] = requests["total"]
            print(
                f"{label}: {requests['total']} requests ({requests['total'] / learners:.3f} per "
                f"learner), {time.time() - started:.1f} s"
            )
            for route, count in sorted(requests["requests"].items(), key=lambda kv: -kv[1]):
                print(f"  {count:7d}  {route}")
        print(f"incremental / full = {totals['incremental'] / totals['full']:.3f}")


if __name__ == "__main__":
    size, version, *rest = sys.argv[1:]
    main(size, version, float(rest[0]) if rest else 50.0, *rest[1:])
