"""Several emulated 360Learning companies (one emulator server each, own seed and rate limit), a
tenants file naming their credential variables, and per-tenant checks against ground truth."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt

from emulator import Company, EmulatorServer
from pipelines.run import make_pipeline
from tests.conftest import TEST_RATE
from tests.expected import diff_rows, expected_models
from tests.warehouse import (
    assert_models_equal_expected,
    assert_warehouse_equals_truth,
    read_table,
)

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipelines.cli"]


@dataclass
class EmulatedTenant:
    name: str
    api_version: str
    company: Company
    server: EmulatorServer
    wrong_key: bool = False

    def credentials(self) -> dict[str, str]:
        """Tenant credential variable -> value (a wrong API key when ``wrong_key``)."""
        prefix = self.name.upper()
        if self.api_version == "v2":
            return {
                f"{prefix}_CLIENT_ID": self.server.client_id,
                f"{prefix}_CLIENT_SECRET": self.server.client_secret,
            }
        key = "not-the-key" if self.wrong_key else self.server.api_key
        return {f"{prefix}_COMPANY_ID": self.server.company_id, f"{prefix}_API_KEY": key}

    def toml(self) -> str:
        prefix = self.name.upper()
        lines = [
            f"[tenants.{self.name}]",
            f'api_version = "{self.api_version}"',
            f'base_url = "{self.server.base_url}"',
            f"max_requests_per_second = {TEST_RATE}",
        ]
        if self.api_version == "v2":
            lines += [
                f'client_id_env = "{prefix}_CLIENT_ID"',
                f'client_secret_env = "{prefix}_CLIENT_SECRET"',
            ]
        else:
            lines += [
                f'company_id_env = "{prefix}_COMPANY_ID"',
                f'api_key_env = "{prefix}_API_KEY"',
            ]
        return "\n".join(lines) + "\n"

    def truth(self) -> dict[str, Any]:
        return self.company.truth()

    def pipeline(self, destination: str, tmp_path: Path) -> dlt.Pipeline:
        """The tenant's pipeline as the CLI made it (own name, dataset and DuckDB file)."""
        name = f"learning360_{self.name}"
        return make_pipeline(
            destination=destination,
            pipeline_name=name,
            dataset_name=name,
            pipelines_dir=str(tmp_path / "pipelines"),
            duckdb_path=str(tmp_path / f"learning360-{self.name}.duckdb"),
        )

    def assert_loaded(self, pipeline: dlt.Pipeline) -> None:
        """Raw tables and derived models equal this company's ground truth, row for row."""
        truth = self.truth()
        if self.api_version == "v2":
            from tests.source_v2.truth import assert_v2_warehouse_equals_truth, v2_view

            assert_v2_warehouse_equals_truth(pipeline, truth)
            assert_models_equal_expected(pipeline, v2_view(truth))
        else:
            assert_warehouse_equals_truth(pipeline, truth)
            assert_models_equal_expected(pipeline, truth)

    def expected_models(self) -> dict[str, Any]:
        truth = self.truth()
        if self.api_version == "v2":
            from tests.source_v2.truth import v2_view

            truth = v2_view(truth)
        return expected_models(truth)


@contextlib.contextmanager
def emulated_tenants(
    specs: list[tuple[str, str, int]],
    *,
    wrong_key: str | None = None,
    size: str = "small",
    faults: dict[str, float] | None = None,
) -> Iterator[list[EmulatedTenant]]:
    """One emulator per (name, api_version, seed), each with its own rate limit."""
    with contextlib.ExitStack() as stack:
        tenants = []
        for name, version, seed in specs:
            company = Company.generate(seed=seed, size=size)
            server = stack.enter_context(
                EmulatorServer(company, port=0, rate_limit=TEST_RATE * 1.25, faults=faults)
            )
            tenants.append(EmulatedTenant(name, version, company, server, name == wrong_key))
        yield tenants


def write_tenants_file(path: Path, tenants: list[EmulatedTenant], extra: str = "") -> Path:
    path.write_text("\n".join(t.toml() for t in tenants) + extra, encoding="utf-8")
    return path


def tenant_env(tenants: list[EmulatedTenant], **more: str) -> dict[str, str]:
    """The environment of a multi-tenant run: each tenant's credential variables, no global
    source credentials, fast retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__LEARNING360__")}
    for tenant in tenants:
        env.update(tenant.credentials())
    env["RUNTIME__REQUEST_BACKOFF_FACTOR"] = "0.05"
    env.update(more)
    return env


def assert_cross_tenant_models(all_pipeline: dlt.Pipeline, tenants: list[EmulatedTenant]) -> None:
    """learning360_all.<model> holds, per tenant column value, exactly that tenant's model."""
    problems: list[str] = []
    expected_by_tenant = {t.name: t.expected_models() for t in tenants}
    models = next(iter(expected_by_tenant.values())).keys()
    for model in models:
        rows = read_table(all_pipeline, model)
        by_tenant: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            row = dict(row)
            by_tenant.setdefault(row.pop("tenant"), []).append(row)
        assert set(by_tenant) <= set(expected_by_tenant), f"{model}: tenants {sorted(by_tenant)}"
        for name, expected in expected_by_tenant.items():
            got = by_tenant.get(name, [])
            assert got or not expected[model], f"{model}: no rows for tenant {name}"
            problems += [f"[{name}] {p}" for p in diff_rows(model, expected[model], got)]
    assert not problems, "\n".join(problems[:40])
