"""The bench report (bench/__main__.py) lays v1 and v2 out side by side with each version's
goals, from the figures a run collects: checked on synthetic figures, so a formatting slip
cannot end an hour-long `make bench` without its tables."""

from __future__ import annotations

from typing import Any

from bench.__main__ import full_figures, report


def _result(requests: int, per_user: int = 0) -> dict[str, Any]:
    by_route = {"GET /api/v2/courses": requests - 2 * per_user}
    if per_user:
        by_route["GET /api/v2/users/{userId}/certificates"] = per_user
        by_route["GET /api/v2/users/{userId}/custom-fields/values"] = per_user
    return {
        "requests": requests,
        "seconds": requests / 45,
        "steps": {"extract": 1.0, "normalize": 0.5, "load": 0.5},
        "models_seconds": 0.3,
        "rate_limited": 1,
        "peak_rss_mb": 250.0,
        "peak_rss_sum_mb": 300.0,
        "peak_rss_per_process_mb": {"sync": 200, "child 12": 150},
        "by_route": by_route,
    }


def _out(apis: list[str]) -> dict[str, Any]:
    results = {"v1": _result(2_682), "v2": _result(4_610, per_user=2_000)}
    sizes = {
        size: {
            "counts": {"attempts": 24_029},
            "full": {api: full_figures(results[api], 2_000) for api in apis},
        }
        for size in ("small", "medium")
    }
    incremental = {
        api: {
            "size": "medium",
            "requests": 300,
            "wall_s": 10.0,
            "requests_pct": 11.2,
            "wall_pct": 16.0,
            "rate_limited": 0,
            "truth": "equal",
            "by_route": {"GET /api/v2/users": 1},
            "user_details_daily": 66.7,
        }
        for api in apis
    }
    run = {"rows": 24_040, "seconds": 2.0, "rows_per_s": 12_020.0, "steps": {}, "peak_rss_mb": 1}
    throughput = {
        api: {"size": "medium", "runs": [run], "median_rows_per_s": 12_020.0} for api in apis
    }
    baseline = {
        api: {"requests": 5_000, "wall_s": 300.0, "rate_limited": 0, "peak_rss_mb": 200.0}
        for api in apis
    }
    machine = {"nproc": 2, "cpu": "x", "ram_gib": 1, "python": "3.11", "kernel": "k"}
    return {
        "machine": machine,
        "sizes": sizes,
        "quick": True,
        "apis": apis,
        "incremental": incremental,
        "throughput": throughput,
        "baseline": baseline,
    }


def test_v1_and_v2_side_by_side_with_their_goals() -> None:
    text = report(_out(["v1", "v2"]), "python -m bench --quick", 60.0)
    assert "| figure | v1 | v1 goal | v2 | v2 goal |" in text
    lines = text.splitlines()
    per_learner = next(line for line in lines if line.startswith("| requests per learner |"))
    assert "≤ 1.3: FAIL" in per_learner and "≤ 2.1: FAIL" in per_learner
    without = next(line for line in lines if "without certificates" in line)
    assert "0.305" in without and "≤ 0.3: FAIL" in without  # (4,610 - 4,000) / 2,000
    incremental = next(line for line in lines if line.startswith("| requests (share"))
    assert "≤ 5 %: FAIL" in incremental and "≤ 10 %: FAIL" in incremental
    assert "| medium | v2 | 2,000 | 24,029 | 4,610 |" in text
    assert "| rest_api v2 | 5,000 |" in text and "| learning360 v2 | 4,610 |" in text


def test_one_version_only() -> None:
    text = report(_out(["v2"]), "python -m bench --api v2", 60.0)
    assert "| figure | v2 | v2 goal |" in text
    assert "v1" not in text.split("### Baseline")[0]
