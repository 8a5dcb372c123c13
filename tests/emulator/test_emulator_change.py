"""Change over time, seen through HTTP: what `advance` does must show in the routes."""

from __future__ import annotations

from emulator import Company, EmulatorServer
from tests.emulator.emulator_client import Api


def test_changes_show_in_the_routes(
    server: EmulatorServer, api: Api, small_company: Company
) -> None:
    before = small_company.truth()
    small_company.advance(days=10)
    after = small_company.truth()

    # membership leaves and joins, through getUser and getGroup
    old = {(m["user_id"], m["group_id"]) for m in before["user_groups"]}
    new = {(m["user_id"], m["group_id"]) for m in after["user_groups"]}
    left = [p for p in old - new if p[0] in {u["_id"] for u in after["users"] if not u["deleted"]}]
    joined = list(new - old)
    assert left and joined
    for user_id, group_id in left:
        assert group_id not in {g["_id"] for g in api.json(f"/users/{user_id}")["groups"]}
        members = api.json(f"/groups/{group_id}")
        assert (
            user_id
            not in members["admins"] + members["authors"] + members["coaches"] + members["users"]
        )
    for user_id, group_id in joined:
        assert group_id in {g["_id"] for g in api.json(f"/users/{user_id}")["groups"]}
        members = api.json(f"/groups/{group_id}")
        assert (
            user_id
            in members["admins"] + members["authors"] + members["coaches"] + members["users"]
        )

    # modified courses show up under modifiedAfter (strictly after the old now)
    changed = {c["_id"] for c in after["courses"] if c["modification_date"] > before["now"]}
    assert changed
    assert {c["_id"] for c in api.json("/courses", modifiedAfter=before["now"])} == changed
    assert {p["_id"] for p in api.json("/paths", modifiedAfter=before["now"])} == {
        p["_id"] for p in after["paths"] if p["modified_at"] > before["now"]
    }

    # deleted users vanish from getUsers but stay with deleted=true
    gone = {u["_id"] for u in after["users"] if u["deleted"]} - {
        u["_id"] for u in before["users"] if u["deleted"]
    }
    assert gone
    assert not gone & {u["_id"] for u in api.json("/users")}
    flagged = {u["_id"]: u["deleted"] for u in api.json("/users", deleted="true")}
    assert all(flagged[u] is True for u in gone)

    # catalog removals disappear from getGroupCatalog
    kinds = {"course": "courses", "path": "paths", "program_session": "programs"}
    removed = {tuple(r.values()) for r in before["group_catalog"]} - {
        tuple(r.values()) for r in after["group_catalog"]
    }
    for group_id, item_type, item_id in removed:
        assert item_id not in {
            e["_id"] for e in api.json(f"/groups/{group_id}/catalog")[kinds[item_type]]
        }

    # new activity is reachable by lastActivityAtAfter
    fresh = {a["_id"] for a in after["user_courses"] if a["last_activity"] > before["now"]}
    assert fresh
    got = {
        a["_id"]
        for e in api.json("/courses/stats", lastActivityAtAfter=before["now"])
        for s in e["stats"]
        for a in s["attempts"]
    }
    assert got == fresh

    # user_programs stays the union, through getUserPrograms
    rows = set()
    for u in after["users"]:
        rows |= {(u["_id"], p["_id"]) for p in api.json(f"/users/{u['_id']}/programs")}
    assert rows == {(r["user_id"], r["program_session_id"]) for r in after["user_programs"]}
