"""Every route against the truth, the reference's shapes and wire details."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from emulator import Company, EmulatorServer
from tests.emulator.emulator_client import Api

NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "http://support.360learning.com/hc/fr/articles/210620943-Guide-technique-API",
}


def attempt_row(attempt: dict, user_id: str, course_id: str) -> dict:
    return {
        "_id": attempt["_id"],
        "user_id": user_id,
        "course_id": course_id,
        "progress": attempt["progress"],
        "score": attempt.get("score"),
        "completed_at": attempt.get("completedAt"),
        "first_activity": attempt["firstActivity"],
        "last_activity": attempt["lastActivity"],
        "global_time": attempt["globalTime"],
        "path": attempt.get("path"),
        "path_session": attempt.get("pathSession"),
    }


def by_id(rows: list[dict], key: str = "_id") -> dict:
    return {r[key]: r for r in rows}


def test_courses_and_course(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()
    mails = {u["_id"]: u["mail"] for u in truth["users"]}
    courses = shared_api.json("/courses")
    assert [c["_id"] for c in courses] == [c["_id"] for c in truth["courses"]]
    for row in truth["courses"]:
        c = shared_api.json(f"/courses/{row['_id']}")
        got = {
            "_id": c["_id"], "name": c["name"], "status": c["status"], "author": c["author"],
            "creation_date": c["creationDate"], "modification_date": c["modificationDate"],
            "group": c["group"], "lang": c["lang"], "course_duration": c["courseDuration"],
        }  # fmt: skip
        # v1 names the author by mail only; truth's author_id is the user with that mail
        assert got == {k: v for k, v in row.items() if k != "author_id"}
        assert mails[row["author_id"]] == c["author"]
    r = shared_api.get("/courses/" + "f" * 24)
    assert (r.status_code, r.json()) == (404, {"error": "course_not_found"})


def test_course_filters_are_strict(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()["courses"]
    pivot = sorted(c["modification_date"] for c in truth)[len(truth) // 2]
    after = {c["_id"] for c in shared_api.json("/courses", modifiedAfter=pivot)}
    before = {c["_id"] for c in shared_api.json("/courses", modifiedBefore=pivot)}
    assert after == {c["_id"] for c in truth if c["modification_date"] > pivot}
    assert before == {c["_id"] for c in truth if c["modification_date"] < pivot}
    created = sorted(c["creation_date"] for c in truth)[5]
    got = {
        c["_id"]
        for c in shared_api.json("/courses", createdAfter=created, createdBefore="2100-01-01")
    }
    assert got == {c["_id"] for c in truth if c["creation_date"] > created}
    bad = shared_api.get("/courses", modifiedAfter="yesterday")
    assert bad.status_code == 400


def test_courses_stats_equal_truth_attempts(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()
    rows = []
    for element in shared_api.json("/courses/stats"):
        assert set(element) == {"course", "stats"} and set(element["course"]) == {"_id", "name"}
        for stat in element["stats"]:
            assert set(stat["user"]) == {"_id", "mail"}
            rows += [
                attempt_row(a, stat["user"]["_id"], element["course"]["_id"])
                for a in stat["attempts"]
            ]
    assert sorted(rows, key=lambda r: r["_id"]) == sorted(
        truth["user_courses"], key=lambda r: r["_id"]
    )
    deleted = {u["_id"] for u in truth["users"] if u["deleted"]}
    assert any(r["user_id"] in deleted for r in rows)
    # per course, and per (course, user)
    course_id = Counter(r["course_id"] for r in rows).most_common(1)[0][0]
    per_course = [
        attempt_row(a, s["user"]["_id"], course_id)
        for s in shared_api.json(f"/courses/{course_id}/stats")
        for a in s["attempts"]
    ]
    assert sorted(per_course, key=lambda r: r["_id"]) == sorted(
        (r for r in rows if r["course_id"] == course_id), key=lambda r: r["_id"]
    )
    user = by_id(truth["users"])[per_course[0]["user_id"]]
    one = shared_api.json(f"/courses/{course_id}/stats/{user['mail']}")
    assert {a["_id"] for a in one["attempts"]} == {
        r["_id"] for r in per_course if r["user_id"] == user["_id"]
    }


def test_courses_stats_filters(shared_api: Api, shared_company: Company) -> None:
    attempts = shared_company.truth()["user_courses"]
    pivot = sorted(a["last_activity"] for a in attempts)[len(attempts) // 2]
    got = {
        a["_id"]
        for e in shared_api.json("/courses/stats", lastActivityAtAfter=pivot)
        for s in e["stats"]
        for a in s["attempts"]
    }
    assert got == {a["_id"] for a in attempts if a["last_activity"] > pivot}
    got = {
        a["_id"]
        for e in shared_api.json("/courses/stats", firstActivityAtBefore=pivot)
        for s in e["stats"]
        for a in s["attempts"]
    }
    assert got == {a["_id"] for a in attempts if a["first_activity"] < pivot}


def test_users(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()["users"]
    active = shared_api.json("/users")
    assert [u["_id"] for u in active] == [u["_id"] for u in truth if not u["deleted"]]
    assert all("deleted" not in u for u in active)
    everyone = shared_api.json("/users", deleted="true")
    got = [
        {"_id": u["_id"], "mail": u["mail"], "first_name": u["firstName"], "last_name": u["lastName"],
         "primary_group_id": u["primaryGroupId"], "deleted": u["deleted"]}
        for u in everyone
    ]  # fmt: skip
    assert got == truth
    gone = next(u for u in truth if u["deleted"])
    assert shared_api.json(f"/users/{gone['_id']}")["deleted"] is True
    r = shared_api.get("/users/nobody@example.com")
    assert (r.status_code, r.json()) == (400, {"error": "user_not_found"})
    assert r.headers["Content-Length"] == "26"


def test_user_groups_roles_and_groups(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()
    memberships = {(m["user_id"], m["group_id"]): m["role"] for m in truth["user_groups"]}
    from_users = {}
    for u in truth["users"]:
        detail = shared_api.json(f"/users/{u['mail']}")
        assert detail["_id"] == u["_id"]
        for g in detail["groups"]:
            from_users[(u["_id"], g["_id"])] = None
        roles = shared_api.json(f"/users/{u['_id']}/roles")
        for r in roles:
            assert memberships[(u["_id"], r["group"])] == r["roles"][0]
    assert set(from_users) == set(memberships)
    groups = shared_api.json("/groups")
    assert [
        {"_id": g["_id"], "name": g["name"], "parent": g.get("parent"), "public": g["public"]}
        for g in groups
    ] == truth["groups"]
    assert sum("parent" not in g for g in groups) == 1
    from_groups = {}
    role_of = {"admins": "admin", "authors": "author", "coaches": "coach", "users": "learner"}
    for g in groups:
        detail = shared_api.json(f"/groups/{g['_id']}")
        for key, role in role_of.items():
            for user_id in detail[key]:
                from_groups[(user_id, g["_id"])] = role
    assert from_groups == memberships
    r = shared_api.get("/groups/" + "a" * 24)
    assert (r.status_code, r.json()) == (404, {"error": "group_not_found"})


def test_catalog_and_group_programs(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()
    kinds = {"courses": "course", "paths": "path", "programs": "program_session"}
    rows, programs = [], []
    for g in truth["groups"]:
        catalog = shared_api.json(f"/groups/{g['_id']}/catalog")
        assert set(catalog) == set(kinds)
        rows += [
            {"group_id": g["_id"], "item_type": kinds[k], "item_id": e["_id"]}
            for k, elems in catalog.items()
            for e in elems
        ]
        programs += [
            {"group_id": g["_id"], "program_session_id": p["_id"]}
            for p in shared_api.json(f"/groups/{g['_id']}/programs")
        ]
    key = lambda r: tuple(r.values())  # noqa: E731
    assert sorted(rows, key=key) == sorted(truth["group_catalog"], key=key)
    assert sorted(programs, key=key) == sorted(truth["group_programs"], key=key)


def test_user_courses_and_programs(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()
    attempts, programs = [], []
    for u in truth["users"]:
        for element in shared_api.json(f"/users/{u['_id']}/courses"):
            attempts += [
                attempt_row(a, u["_id"], element["course"]["_id"]) for a in element["attempts"]
            ]
        for p in shared_api.json(f"/users/{u['_id']}/programs"):
            s = p["stats"]
            programs.append(
                {"user_id": u["_id"], "program_session_id": p["_id"], "progress": s["progress"],
                 "total_time_spent_in_seconds": s["totalTimeSpentInSeconds"], "score": s.get("score"),
                 "completed_at": s.get("completedAt")}
            )  # fmt: skip
    key = lambda r: (r.get("_id"), r["user_id"], r.get("program_session_id"))  # noqa: E731
    assert sorted(attempts, key=key) == sorted(truth["user_courses"], key=key)
    assert sorted(programs, key=key) == sorted(truth["user_programs"], key=key)


def test_program_sessions(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()
    sessions = shared_api.json("/programs/sessions")
    got = [
        {"_id": s["_id"], "name": s["name"], "start_date": s["startDate"], "end_date": s["endDate"],
         "program_template": s["programTemplate"], "modified_at": s["modifiedAt"]}
        for s in sessions
    ]  # fmt: skip
    assert got == truth["program_sessions"]
    assigned = {(r["user_id"], r["program_session_id"]) for r in truth["user_programs"]}
    for s in sessions:
        assert shared_api.json(f"/programs/sessions/{s['_id']}") == s
        users = {u["_id"] for u in shared_api.json(f"/programs/sessions/{s['_id']}/users")}
        assert users == {u for u, sid in assigned if sid == s["_id"]}
        stats = shared_api.json(f"/programs/sessions/{s['_id']}/stats")
        assert stats["registered"] == len(users) == len(stats["usersStats"])
        assert {g for g in s["groups"]} == {
            r["group_id"] for r in truth["group_programs"] if r["program_session_id"] == s["_id"]
        }
    redirect = shared_api.get("/programs", deleted="x")
    assert redirect.history and redirect.history[0].status_code == 301
    assert redirect.history[0].headers["Location"].startswith("/api/v1/programs/sessions?")
    r = shared_api.get("/programs/sessions/" + "b" * 24)
    assert (r.status_code, r.json()) == (404, {"error": "program_session_not_found"})


def test_paths_and_path_sessions(shared_api: Api, shared_company: Company) -> None:
    truth = shared_company.truth()
    paths = shared_api.json("/paths")
    got = [
        {"_id": p["_id"], "name": p["name"], "author_id": p["authorId"], "group_id": p["groupId"],
         "created_at": p["createdAt"], "modified_at": p["modifiedAt"]}
        for p in paths
    ]  # fmt: skip
    assert got == truth["paths"]
    pivot = sorted(p["modified_at"] for p in truth["paths"])[2]
    assert {p["_id"] for p in shared_api.json("/paths", modifiedAfter=pivot)} == {
        p["_id"] for p in truth["paths"] if p["modified_at"] > pivot
    }
    sessions = shared_api.json("/paths/sessions")
    got = [
        {"_id": s["_id"], "path_id": s["pathId"], "name": s["name"], "group_id": s["groupId"], "start_date": s["startDate"],
         "end_date": s["endDate"], "created_at": s["createdAt"], "modified_at": s["modifiedAt"]}
        for s in sessions
    ]  # fmt: skip
    assert got == truth["path_sessions"]
    rows = []
    for s in sessions:
        assert shared_api.json(f"/paths/sessions/{s['_id']}")["pathId"] == s["pathId"]
        stats = shared_api.json(f"/paths/sessions/{s['_id']}/stats/users")
        assert (stats["sessionId"], stats["pathId"]) == (s["_id"], s["pathId"])
        for u in stats["usersStats"]:
            rows.append(
                {"user_id": u["_id"], "path_id": s["pathId"], "path_session_id": s["_id"], "progress": u["progress"],
                 "score": u["score"], "completed_at": u["completedAt"], "total_time_spent_in_seconds": u["totalTimeSpentInSeconds"]}
            )  # fmt: skip
            one = shared_api.json(f"/paths/sessions/{s['_id']}/stats/{u['_id']}")
            assert one["progress"] == u["progress"] and one["completedAt"] == u["completedAt"]
    key = lambda r: (r["user_id"], r["path_session_id"])  # noqa: E731
    assert sorted(rows, key=key) == sorted(truth["user_path_sessions"], key=key)
    done = [r for r in rows if r["completed_at"]]
    if done:
        pivot = sorted(r["completed_at"] for r in done)[0]
        sid = done[0]["path_session_id"]
        got_ids = {
            u["_id"]
            for u in shared_api.json(f"/paths/sessions/{sid}/stats/users", completedAfter=pivot)[
                "usersStats"
            ]
        }
        assert got_ids == {
            r["user_id"] for r in done if r["path_session_id"] == sid and r["completed_at"] > pivot
        }
    # user paths
    enrolled = truth["user_path_sessions"][0]
    mine = shared_api.json(f"/paths/{enrolled['user_id']}/getPaths")
    assert {(p["pathId"], p["sessionId"]) for p in mine} == {
        (r["path_id"], r["path_session_id"])
        for r in truth["user_path_sessions"]
        if r["user_id"] == enrolled["user_id"]
    }
    # not-found errors of path-session stats (S7)
    sid = sessions[0]["_id"]
    for route, error in [
        (f"/paths/sessions/{'c' * 24}/stats/users", "path_session_not_found"),
        (f"/paths/sessions/{sid}/stats/nobody@example.com", "user_not_found"),
        (f"/paths/{'c' * 24}", "path_not_found"),
    ]:
        r = shared_api.get(route)
        assert (r.status_code, r.json()) == (404, {"error": error})
    outsider = next(
        u["_id"]
        for u in truth["users"]
        if u["_id"] not in {r["user_id"] for r in rows if r["path_session_id"] == sid}
    )
    r = shared_api.get(f"/paths/sessions/{sid}/stats/{outsider}")
    assert (r.status_code, r.json()) == (404, {"error": "user_not_enrolled"})


def test_wire_details(shared_api: Api) -> None:
    r = shared_api.get("/groups")
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Etag"].startswith('W/"')
    assert r.headers["Cache-Control"] == "no-cache, no-store, private"
    assert "Content-Length" in r.headers
    big = shared_api.get("/courses/stats")
    assert big.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in big.headers
    assert any(ord(ch) > 127 for ch in shared_api.get("/users").content.decode("utf-8"))
    for route in ("/nope", "/courses/x/y/z/w"):
        r = shared_api.get(route)
        assert (r.status_code, r.json()) == (404, NOT_FOUND)
    assert requests.get(shared_api.server.base_url + "/api/v1/unknown").json() == NOT_FOUND


@pytest.mark.integration
def test_variant_mode_shapes(small_company: Company) -> None:
    """Variants appear for some records; the data they carry stays the truth's."""
    truth = small_company.truth()
    with EmulatorServer(small_company, variants=True, rate_limit=0) as server:
        api = Api(server)
        seen: Counter[str] = Counter()
        for u in truth["users"]:
            for g in api.json(f"/users/{u['_id']}")["groups"]:
                seen[
                    "group:str"
                    if isinstance(g, str)
                    else "group:roles"
                    if "roles" in g
                    else "group:obj"
                ] += 1
            for e in api.json(f"/users/{u['_id']}/courses"):
                seen[
                    "course:"
                    + (
                        "str"
                        if isinstance(e.get("course"), str)
                        else "courseId"
                        if "courseId" in e
                        else "obj"
                    )
                ] += 1
            for p in api.json(f"/users/{u['_id']}/programs"):
                seen[
                    "program:"
                    + (
                        "sessionId"
                        if "sessionId" in p
                        else "flat"
                        if "stats" not in p
                        else "nested"
                    )
                ] += 1
        for g in truth["groups"]:
            detail = api.json(f"/groups/{g['_id']}")
            members = detail["admins"] + detail["authors"] + detail["coaches"] + detail["users"]
            seen["members:" + ("obj" if members and isinstance(members[0], dict) else "ids")] += 1
        r = api.get("/users/nobody@example.com")
        assert (r.status_code, r.json()) == (404, {"error": "user_not_found"})
        for kind in (
            "group:str",
            "group:roles",
            "group:obj",
            "course:str",
            "course:courseId",
            "course:obj",
            "members:obj",
        ):
            assert seen[kind], (kind, seen)
