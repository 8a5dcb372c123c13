"""The company model: determinism, the documented invariants, change over time."""

from __future__ import annotations

import re
import time

import pytest

from emulator import Company
from emulator.v2_data import V2_TRUTH_TABLES

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
OID = re.compile(r"^[0-9a-f]{24}$")
TABLES = {
    "courses": {"_id", "name", "status", "author", "author_id", "creation_date", "modification_date", "group", "lang", "course_duration"},
    "users": {"_id", "mail", "first_name", "last_name", "primary_group_id", "deleted"},
    "groups": {"_id", "name", "parent", "public"},
    "user_groups": {"user_id", "group_id", "role"},
    "group_catalog": {"group_id", "item_type", "item_id"},
    "group_programs": {"group_id", "program_session_id"},
    "program_sessions": {"_id", "name", "start_date", "end_date", "program_template", "modified_at"},
    "paths": {"_id", "name", "author_id", "group_id", "created_at", "modified_at"},
    "path_sessions": {"_id", "path_id", "name", "group_id", "start_date", "end_date", "created_at", "modified_at"},
    "user_path_sessions": {"user_id", "path_id", "path_session_id", "progress", "score", "completed_at", "total_time_spent_in_seconds"},
    "user_courses": {"_id", "user_id", "course_id", "progress", "score", "completed_at", "first_activity", "last_activity", "global_time", "path", "path_session"},
    "user_programs": {"user_id", "program_session_id", "progress", "total_time_spent_in_seconds", "score", "completed_at"},
}  # fmt: skip


def check_invariants(truth: dict) -> None:
    assert set(truth) == set(TABLES) | set(V2_TRUTH_TABLES) | {"company_id", "now"}
    now = truth["now"]
    for table, columns in TABLES.items():
        for row in truth[table]:
            assert set(row) == columns, table
            for key, value in row.items():
                if isinstance(value, str) and key.endswith(("date", "_at", "activity")):
                    assert ISO.match(value) and value <= now, (table, key, value)
                if key in ("_id", "user_id", "group_id", "course_id") and value is not None:
                    assert OID.match(value), (table, key, value)
    users = {u["_id"]: u for u in truth["users"]}
    mails = [u["mail"] for u in truth["users"]]
    assert len(set(mails)) == len(mails)
    roots = [g for g in truth["groups"] if g["parent"] is None]
    assert len(roots) == 1
    pairs = [(m["user_id"], m["group_id"]) for m in truth["user_groups"]]
    assert len(set(pairs)) == len(pairs), "one role per (user, group)"
    assert {m["role"] for m in truth["user_groups"]} <= {"admin", "author", "coach", "learner"}
    assert all(not users[u]["deleted"] for u, _ in pairs), "deleted users are in no group"
    for a in truth["user_courses"]:
        assert a["first_activity"] <= a["last_activity"]
        assert 0 <= a["progress"] <= 100
        assert a["user_id"] in users
        if a["completed_at"] is None:
            assert a["score"] is None
    # user_programs is the union of direct subscriptions and group programs of memberships
    group_programs: dict[str, set[str]] = {}
    for row in truth["group_programs"]:
        group_programs.setdefault(row["group_id"], set()).add(row["program_session_id"])
    via_groups = {(u, s) for u, g in pairs for s in group_programs.get(g, ())}
    assigned = {(r["user_id"], r["program_session_id"]) for r in truth["user_programs"]}
    assert via_groups <= assigned
    assert len(assigned) == len(truth["user_programs"])


def test_small_company_shape_and_speed() -> None:
    t0 = time.perf_counter()
    company = Company.generate(seed=3, size="small")
    assert time.perf_counter() - t0 < 1.0
    truth = company.truth()
    check_invariants(truth)
    assert truth["now"] == "2026-06-01T00:00:00.000Z"
    assert len(truth["users"]) == 50 and len(truth["groups"]) == 8 and len(truth["courses"]) == 30
    assert len(truth["program_sessions"]) == 5 and len(truth["paths"]) == 6
    assert 150 <= len(truth["user_courses"]) <= 600
    assert any(u["deleted"] for u in truth["users"])
    assert {c["status"] for c in truth["courses"]} == {"draft", "published", "archived"}
    assert any(a["path"] for a in truth["user_courses"])
    assert any(a["completed_at"] is None for a in truth["user_courses"])
    deleted = {u["_id"] for u in truth["users"] if u["deleted"]}
    assert any(a["user_id"] in deleted for a in truth["user_courses"]), (
        "deleted users keep attempts"
    )


def test_names_are_not_ascii_only() -> None:
    names = " ".join(
        u["first_name"] + u["last_name"]
        for u in Company.generate(seed=0, users=300).truth()["users"]
    )
    assert any(ord(ch) > 127 for ch in names)
    assert all(ord(ch) < 128 for u in Company.generate(seed=0).truth()["users"] for ch in u["mail"])


def test_overrides_set_sizes_one_by_one() -> None:
    truth = Company.generate(seed=1, size="small", users=120, groups=3, courses=7, paths=2).truth()
    assert (
        len(truth["users"]),
        len(truth["groups"]),
        len(truth["courses"]),
        len(truth["paths"]),
    ) == (120, 3, 7, 2)
    with pytest.raises(TypeError):
        Company.generate(seed=1, bogus=3)
    with pytest.raises(ValueError):
        Company.generate(seed=1, size="huge")


def test_same_seed_same_truth_also_after_advance() -> None:
    a, b = Company.generate(seed=5), Company.generate(seed=5)
    assert a.truth() == b.truth()
    assert a.truth() != Company.generate(seed=6).truth()
    a.advance(1)
    b.advance(1)
    assert a.truth() == b.truth()
    a.advance(2)
    b.advance(1)
    b.advance(1)
    assert a.truth() == b.truth(), "advance(2) == advance(1) twice"


def test_advance_changes_the_company_and_keeps_invariants() -> None:
    company = Company.generate(seed=2)
    before = company.truth()
    company.advance(days=10)
    after = company.truth()
    check_invariants(after)
    assert after["now"] == "2026-06-11T00:00:00.000Z"
    assert len(after["users"]) > len(before["users"])
    assert sum(u["deleted"] for u in after["users"]) > sum(u["deleted"] for u in before["users"])
    assert {c["_id"] for c in before["courses"]} <= {c["_id"] for c in after["courses"]}, (
        "never hard-deleted"
    )
    assert {a["_id"] for a in before["user_courses"]} <= {a["_id"] for a in after["user_courses"]}
    assert any(c["modification_date"] > before["now"] for c in after["courses"])
    assert any(p["modified_at"] > before["now"] for p in after["paths"])
    assert any(a["last_activity"] > before["now"] for a in after["user_courses"])
    pairs = lambda t: {(m["user_id"], m["group_id"]) for m in t["user_groups"]}  # noqa: E731
    assert pairs(before) - pairs(after) and pairs(after) - pairs(before), "joins and leaves"
    catalog = lambda t: {tuple(r.values()) for r in t["group_catalog"]}  # noqa: E731
    assert catalog(before) != catalog(after)


def test_program_progress_is_kept_per_pair_across_leave_and_rejoin() -> None:
    company = Company.generate(seed=4)
    with company.lock:
        group_id, session_id = next(
            (g, s)
            for g, sessions in company.group_programs.items()
            for s in sessions
            if company.members[g]
        )
        user_id = next(
            u
            for u, _ in company.members[group_id].items()
            if session_id not in company.direct_programs.get(u, {})
        )
        others = [
            g
            for g in company.memberships[user_id]
            if g != group_id and session_id in company.group_programs.get(g, {})
        ]
        for g in others:
            company.leave(user_id, g)
        progress = company.progress_for_update(user_id, session_id)
        progress.progress = 42
        role = company.memberships[user_id][group_id]
        company.leave(user_id, group_id)
    assert (user_id, session_id) not in {
        (r["user_id"], r["program_session_id"]) for r in company.truth()["user_programs"]
    }
    with company.lock:
        company.join(user_id, group_id, role)
    row = next(
        r
        for r in company.truth()["user_programs"]
        if (r["user_id"], r["program_session_id"]) == (user_id, session_id)
    )
    assert row["progress"] == 42


@pytest.mark.parametrize("size", ["medium"])
def test_medium_generation_is_fast(size: str) -> None:
    t0 = time.perf_counter()
    company = Company.generate(seed=0, size=size)
    assert time.perf_counter() - t0 < 3.0
    counts = company.counts()
    assert counts["users"] == 2000 and 20_000 <= counts["attempts"] <= 30_000
