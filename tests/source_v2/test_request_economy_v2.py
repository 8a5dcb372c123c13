"""v2 request economy (issue 16, goals 1-2): the requests a full and an incremental v2 sync
spend, route by route, on the small company, and the warehouse they leave: equal to the
truth for every table with a change signal after one simulated day, and for every table once
the refresh period of the tables without one has passed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import sources.learning360.refresh as refresh
from emulator import Company
from emulator import v2_data as d2
from pipelines.cli import EXIT_CONFIG, explain
from pipelines.run import make_pipeline, run_sync
from pipelines.verify import NO_SIGNAL
from pipelines.verify import assert_v2_tables_equal as _assert_tables_equal
from sources.learning360.defaults import DEFAULT_V2_GROUP_REFRESH_DAYS, DEFAULT_V2_USER_REFRESH_DAYS
from sources.learning360.refresh import user_bucket
from sources.learning360.tables import USER_BUCKETS
from tests.source_v2.truth import assert_v2_warehouse_equals_truth, v2_view
from tests.warehouse import assert_models_equal_expected, read_table

DAY = 86_400
PER_PARENT = {
    "GET users/{user_id}/custom-fields/values": "users",
    "GET users/{user_id}/certificates": "certificate holders",
    "GET groups/{group_id}/roles": "groups",
    "GET groups/{group_id}/catalog/course-ids": "groups",
    "GET groups/{group_id}/catalog/path-session-ids": "groups",
    "GET classrooms/{classroom_id}/slots": "classrooms",
    "GET classrooms/{classroom_id}/registrations": "classrooms",
}
LISTINGS = (
    "GET users",
    "GET groups",
    "GET courses",
    "GET courses/stats",
    "GET paths",
    "GET paths/sessions",
    "GET skills",
    "GET custom-fields",
    "GET classrooms",
)


@pytest.fixture
def move_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[Company, int], None]:
    """Advance the company by N simulated days and the source's refresh clock with it."""
    offset = [0.0]
    monkeypatch.setattr(refresh, "clock", lambda: time.time() + offset[0])

    def _advance(company: Company, days: int) -> None:
        company.advance(days=days)
        offset[0] += days * DAY

    return _advance


def _due(ids: set[str], days: int, period: float, buckets: int = refresh.GROUP_BUCKETS):
    """The parents whose refresh falls due within ``days`` of the first run: bucket ``b`` is
    due ``period * (b + 1) / buckets`` days after it (refresh.py)."""
    return {i for i in ids if period * (user_bucket(i, buckets) + 1) / buckets <= days}


def _holders(company: Company) -> set[str]:
    return {e.user_id for e in d2.all_enrolments(company) if e.completed_at is not None}


def test_full_and_incremental_requests_by_route(
    configure_v2, new_pipeline, company: Company, move_clock
) -> None:
    configure_v2()
    pipeline = new_pipeline()
    users, groups = len(company.users), len(company.groups)
    rooms, holders = len(d2.classrooms(company)), len(_holders(company))
    full = run_sync(pipeline).requests["requests"]
    # one request per user (custom-field values), one per certificate holder, per group and
    # per classroom; every listing fits one page; author mails come from the user listing
    assert full == {
        "POST /api/v2/oauth2/token": 1,
        **dict.fromkeys(LISTINGS, 1),
        "GET paths/stats": 2,  # user_path_sessions, and the certificate holders
        "GET users/{user_id}/custom-fields/values": users,
        "GET users/{user_id}/certificates": holders,
        "GET groups/{group_id}/roles": groups,
        "GET groups/{group_id}/catalog/course-ids": groups,
        "GET groups/{group_id}/catalog/path-session-ids": groups,
        "GET classrooms/{classroom_id}/slots": rooms,
        "GET classrooms/{classroom_id}/registrations": rooms,
    }
    assert holders < users / 2
    assert_v2_warehouse_equals_truth(pipeline, company.truth())

    before_users, before_holders = set(company.users), _holders(company)
    before_deleted = {u.id for u in company.users.values() if u.deleted}
    days = 0
    while days < 10:  # days until a new learner and a new path completion
        move_clock(company, 1)
        days += 1
        if set(company.users) - before_users and _holders(company) - before_holders:
            break
    else:
        pytest.fail("10 simulated days brought no new learner and no path completion")
    new_users = set(company.users) - before_users
    changed = new_users | ({u.id for u in company.users.values() if u.deleted} - before_deleted)
    incremental = run_sync(pipeline).requests["requests"]
    truth = company.truth()
    # every table with a change signal equals the truth, new users' custom fields included
    _assert_tables_equal(pipeline, truth, skip=NO_SIGNAL)
    loaded = {r["user_id"] for r in read_table(pipeline, "user_custom_fields")}
    assert new_users <= loaded
    # the fan-outs read only what changed or is due: certificates of the new completions
    # (and of the lag window), custom fields of new / changed users and ~1/30 of the rest,
    # groups: new / changed ones and ~1/7 of the rest; the listings once each
    assert (
        incremental["GET users/{user_id}/certificates"]
        <= len(_holders(company) - before_holders) + 2
    )
    due_users = _due(before_users, days, DEFAULT_V2_USER_REFRESH_DAYS, USER_BUCKETS)
    read = incremental.get("GET users/{user_id}/custom-fields/values", 0)
    assert len(changed | due_users) <= read <= len(changed | due_users) + 2, (read, days)
    due_groups = _due(set(company.groups), days, DEFAULT_V2_GROUP_REFRESH_DAYS)
    for route in ("roles", "catalog/course-ids", "catalog/path-session-ids"):
        read = incremental.get(f"GET groups/{{group_id}}/{route}", 0)
        assert len(due_groups) <= read <= len(due_groups) + 1, (route, read, days)
    assert "GET users/{user_id}" not in incremental
    assert all(incremental[route] == 1 for route in LISTINGS)
    assert incremental["GET paths/stats"] == 2


@pytest.mark.parametrize(
    "destination", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_refresh_period_bounds_the_tables_without_a_signal(
    destination: str,
    configure_v2,
    new_pipeline,
    company: Company,
    move_clock,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """Once ``v2_user_refresh_days`` / ``v2_group_refresh_days`` have passed, every user and
    every group was re-read: the whole warehouse and the models equal the truth (the merge
    key's delete-insert on DuckDB and on PostgreSQL)."""
    configure_v2(
        SOURCES__LEARNING360__V2_USER_REFRESH_DAYS=4,
        SOURCES__LEARNING360__V2_GROUP_REFRESH_DAYS=2,
    )
    if destination == "postgres":
        request.getfixturevalue("postgres_env")
        pipeline = make_pipeline(
            destination="postgres",
            pipeline_name="learning360_v2_pg",
            pipelines_dir=str(tmp_path / "pipelines"),
            dataset_name=f"v2_refresh_{tmp_path.name[-8:].lower().replace('-', '_')}",
        )
    else:
        pipeline = new_pipeline()
    run_sync(pipeline)
    read_users: set[str] = set()
    for _ in range(5):  # daily syncs: each reads a slice of the users' custom fields
        move_clock(company, 1)
        routes = run_sync(pipeline).requests["requests"]
        per_user = routes.get("GET users/{user_id}/custom-fields/values", 0)
        assert per_user < len(company.users) / 2, per_user
        read_users |= {r["user_id"] for r in read_table(pipeline, "user_custom_fields")}
    truth = company.truth()
    assert_v2_warehouse_equals_truth(pipeline, truth)
    assert_models_equal_expected(pipeline, v2_view(truth))
    assert set(company.users) <= read_users


def test_every_run_policy_reads_every_parent(configure_v2, new_pipeline, company: Company) -> None:
    """``0`` days: every user's custom fields and every group's members each run (as before)."""
    configure_v2(
        SOURCES__LEARNING360__V2_USER_REFRESH_DAYS=0,
        SOURCES__LEARNING360__V2_GROUP_REFRESH_DAYS=0,
    )
    pipeline = new_pipeline()
    run_sync(pipeline, build_models=False)
    company.advance(days=1)
    routes = run_sync(pipeline, build_models=False).requests["requests"]
    assert routes["GET users/{user_id}/custom-fields/values"] == len(company.users)
    assert routes["GET groups/{group_id}/roles"] == len(company.groups)
    _assert_tables_equal(pipeline, company.truth())


def test_refresh_days_must_be_a_number(configure_v2, new_pipeline) -> None:
    configure_v2(SOURCES__LEARNING360__V2_GROUP_REFRESH_DAYS="weekly")
    with pytest.raises(Exception) as failure:
        run_sync(new_pipeline(), build_models=False)
    code, line = explain(failure.value)
    assert code == EXIT_CONFIG and "sources.learning360.v2_group_refresh_days" in line
