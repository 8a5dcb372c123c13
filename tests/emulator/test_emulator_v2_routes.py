"""API v2 routes: shapes per the OpenAPI, Link pagination, filters, 404 bodies, and agreement
with the truth and with API v1 (one company, two renderings)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from emulator import Company, EmulatorServer, v2_data
from emulator.v2_routes import PAGE_SIZES, ROLE_NAMES
from tests.emulator.emulator_client import Api, client_of
from tests.emulator.emulator_v2_client import LINK, SPEC, V2, problems

SEED = 11
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
PAGE = 2


@pytest.fixture(scope="module")
def company() -> Company:
    """Read-only: never advanced (tests that change the company build their own)."""
    return Company.generate(seed=SEED, size="small")


@pytest.fixture(scope="module")
def v2(company: Company) -> Iterator[V2]:
    """Documented page sizes: every list of the small company fits one page."""
    with client_of(company, V2) as api:
        yield api


@pytest.fixture(scope="module")
def paged(company: Company) -> Iterator[V2]:
    with client_of(company, V2, v2_page_size=PAGE) as api:
        yield api


@pytest.fixture(scope="module")
def v1(company: Company) -> Iterator[Api]:
    with client_of(company) as api:
        yield api


def by_id(rows: list[dict[str, Any]], key: str = "_id") -> dict[str, dict[str, Any]]:
    out = {r[key]: r for r in rows}
    assert len(out) == len(rows), "duplicate ids"
    return out


def list_routes(company: Company) -> dict[str, str]:
    """Every paginated route (PAGE_SIZES keys) with its placeholders filled in."""
    path = next(p for p in company.paths.values() if p.session_ids and company.enrolments.get(
        p.session_ids[0]))  # fmt: skip
    session = path.session_ids[0]
    group = max(company.catalog, key=lambda g: len(company.catalog[g]["course"]))
    user = max(company.memberships, key=lambda u: len(company.memberships[u]))
    cert_user = max(
        company.users,
        key=lambda u: sum(e.completed_at is not None for e in company.enrolments_by_user.get(
            u, {}).values()),
    )  # fmt: skip
    room = next(p for p in company.paths.values() if any(s[1] == "classroom" for s in p.steps))
    room_id = next(s[0] for s in room.steps if s[1] == "classroom")
    classroom = v2_data.find_classroom(company, room_id)
    assert classroom is not None
    slot = v2_data.slots_of(company, classroom)[0]
    fill = {
        "{userId}": user,
        "{groupId}": group,
        "{pathId}": path.id,
        "{sessionId}": session,
        "{classroomId}": room_id,
        "{classroomSlotId}": slot.id,
    }
    out = {}
    for name in PAGE_SIZES:
        route = name
        for k, v in fill.items():
            route = route.replace(k, v)
        if name == "/users/{userId}/certificates":
            route = f"/users/{cert_user}/certificates"
        out[name] = route
    return out


# ---------------------------------------------------------------------- shapes
def test_routes_and_filters_match_the_openapi(v2: V2) -> None:
    """The emulator's v2 routes and their filters are exactly the OpenAPI's."""
    routes = {r.name: r for r in v2.server._v2.routes}
    assert set(routes) == set(SPEC["routes"])
    for name, route in routes.items():
        mine = {f: sorted(spec.ops) for f, spec in route.filters.items()}
        assert mine == SPEC["routes"][name]["filters"], name


def test_every_route_matches_its_schema(company: Company, v2: V2, paged: V2) -> None:
    lists = list_routes(company)
    session = company.path_sessions[lists["/paths/{pathId}/sessions/{sessionId}/user-stats"]
                                    .split("/")[4]]  # fmt: skip
    singles = {
        "/courses/{courseId}": f"/courses/{next(c.id for c in company.courses.values() if c.status != 'draft')}",
        "/users/{userId}": f"/users/{next(u.id for u in company.users.values() if u.deleted)}",
        "/users/{userId}/custom-fields/values": f"/users/{next(iter(company.users))}/custom-fields/values",
        "/groups/{groupId}": f"/groups/{company.root_group_id}",
        "/paths/{pathId}": f"/paths/{session.path_id}",
        "/paths/{pathId}/sessions/{sessionId}": f"/paths/{session.path_id}/sessions/{session.id}",
        "/paths/{pathId}/sessions/{sessionId}/user-statuses":
            f"/paths/{session.path_id}/sessions/{session.id}/user-statuses",
        "/certificate-outlines": "/certificate-outlines",
        "/custom-fields/{customFieldId}/authorized-values":
            f"/custom-fields/{v2.json('/custom-fields')[0]['_id']}/authorized-values",
        "/classrooms/{classroomId}": "/classrooms/" + lists["/classrooms/{classroomId}/slots"].split("/")[2],
        "/groups/{groupId}/roles": lists["/groups/{groupId}/roles"],
    }  # fmt: skip
    assert set(singles) | set(lists) == set(SPEC["routes"])
    for name, route in {**lists, **singles}.items():
        body = v2.json(route)
        assert body, f"{route} is empty: pick a richer record"
        bad = problems(body, SPEC["routes"][name]["schema"])
        assert not bad, (route, bad[:5])


def test_404_bodies(v2: V2, company: Company) -> None:
    missing = "0" * 24
    path = next(iter(company.paths.values()))
    other = next(s for s in company.path_sessions.values() if s.path_id != path.id)
    draft = next(c.id for c in company.courses.values() if c.status == "draft")
    cases = {
        f"/courses/{missing}": (404, "courseNotFound"),
        f"/courses/{draft}": (404, "courseNotFound"),
        f"/users/{missing}": (404, "userNotFound"),
        f"/users/{missing}/roles": (404, "userNotFound"),
        f"/users/{missing}/certificates": (404, "userNotFound"),
        f"/users/{company.users[next(iter(company.users))].mail}": (404, "userNotFound"),
        f"/groups/{missing}": (404, "groupNotFound"),
        f"/groups/{missing}/roles": (404, "groupNotFound"),
        f"/groups/{missing}/catalog/course-ids": (404, "groupNotFound"),
        f"/paths/{missing}": (404, "pathNotFound"),
        f"/paths/{missing}/sessions": (404, "pathNotFound"),
        f"/paths/{missing}/enrollments": (404, "pathNotFound"),
        f"/paths/{path.id}/sessions/{missing}": (404, "sessionNotFound"),
        f"/paths/{missing}/sessions/{other.id}": (404, "pathNotFound"),
        f"/paths/{path.id}/sessions/{other.id}": (400, "sessionNotBelongToPath"),
        f"/paths/{path.id}/sessions/{other.id}/user-stats": (400, "sessionNotBelongToPath"),
        f"/classrooms/{missing}": (404, "classroomNotFound"),
        f"/classrooms/{missing}/slots": (404, "classroomNotFound"),
        f"/classroom-slots/{missing}/registrations": (404, "classroomSlotNotFound"),
        f"/custom-fields/{missing}/authorized-values": (404, "customFieldNotFound"),
    }
    for route, (status, code) in cases.items():
        r = v2.get(route)
        assert r.status_code == status, route
        assert set(r.json()) == {"error"} and set(r.json()["error"]) == {"code", "message"}
        assert r.json()["error"]["code"] == code, route
    r = v2.get(f"/groups/{company.root_group_id}/catalog/program-ids")
    assert r.status_code == 404 and r.json()["message"] == "Not Found"  # no such route


# ---------------------------------------------------------------------- pagination
def test_every_list_paginates_without_gaps_or_repeats(company: Company, v2: V2, paged: V2) -> None:
    for route in list_routes(company).values():
        whole = v2.pages(route)
        assert len(whole) == 1, f"{route}: the small company fits the documented page size"
        pages = paged.pages(route)
        assert all(len(p) == PAGE for p in pages[:-1]) and 0 < len(pages[-1]) <= PAGE, route
        union = [item for page in pages for item in page]
        assert union == whole[0], route  # same items, same order, none twice
        keys = [
            i if isinstance(i, str)
            else f"{i['userId']}:{i['skillId']}" if route == "/skills/powers"
            else i.get("_id", i.get("groupId", i.get("userId")))
            for i in union
        ]  # fmt: skip
        assert keys == sorted(keys) and len(set(keys)) == len(keys), route
    # a list of exactly one page has no Link; an empty one neither
    r = v2.get("/courses/stats", **{"userId[eq]": "0" * 24})
    assert r.json() == [] and "Link" not in r.headers


def test_link_is_absolute_opaque_and_keeps_the_filters(company: Company, paged: V2) -> None:
    since = "2025-06-01T00:00:00.000Z"
    r = paged.get("/courses/stats", **{"completedAt[gte]": since})
    m = LINK.match(r.headers["Link"])
    assert m
    split = urlsplit(m.group(1))
    assert f"{split.scheme}://{split.netloc}" == paged.server.base_url
    assert list(parse_qs(split.query)) == ["next"], "filters travel inside the token"
    got = paged.all("/courses/stats", **{"completedAt[gte]": since})
    want = [a for a in company.truth()["user_courses"] if (a["completed_at"] or "") >= since]
    assert sorted(a["_id"] for a in got) == sorted(a["_id"] for a in want)
    # with `next`, other parameters are ignored; a token is bound to its route
    again = paged.session.get(
        m.group(1) + "&completedAt[gte]=1999-01-01", headers=paged.headers
    ).json()
    assert again == paged.session.get(m.group(1), headers=paged.headers).json()
    token = parse_qs(split.query)["next"][0]
    for bad in (token[:-2] + "AA", "garbage", ""):
        r = paged.get("/courses/stats", next=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalidNextToken"
    r = paged.get("/users", next=token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalidNextToken"


@pytest.mark.integration
def test_per_route_page_sizes(company: Company) -> None:
    with EmulatorServer(company, rate_limit=0, v2_page_sizes={"/users": 4}) as server:
        api = V2(server)
        assert [len(p) for p in api.pages("/users")][:2] == [4, 4]
        assert len(api.pages("/groups")) == 1
    with pytest.raises(ValueError):
        EmulatorServer(company, v2_page_sizes={"/nope": 4})


@pytest.mark.integration
def test_pages_follow_a_changing_company(small_company: Company) -> None:
    """Keyset paging: records present throughout are served exactly once even if the company
    changes between pages."""
    with EmulatorServer(small_company, rate_limit=0, v2_page_size=25) as server:
        api = V2(server)
        before = {a["_id"] for a in small_company.truth()["user_courses"]}
        r = api.get("/courses/stats")
        seen = [a["_id"] for a in r.json()]
        small_company.advance(days=3)
        link = LINK.match(r.headers["Link"])
        while link:
            r = api.session.get(link.group(1), headers=api.headers)
            seen += [a["_id"] for a in r.json()]
            link = LINK.match(r.headers.get("Link", ""))
        assert len(seen) == len(set(seen)) and before <= set(seen)


# ---------------------------------------------------------------------- filters
def test_filter_ops(company: Company, v2: V2) -> None:
    truth = company.truth()["user_courses"]
    users = sorted({a["user_id"] for a in truth})
    u1, u2 = users[0], users[1]

    def ids(**params: str) -> set[str]:
        return {a["_id"] for a in v2.json("/courses/stats", **params)}

    def want(keep: Any) -> set[str]:
        return {a["_id"] for a in truth if keep(a)}

    assert ids(**{"userId[eq]": u1}) == want(lambda a: a["user_id"] == u1)
    assert ids(**{"userId[ne]": u1}) == want(lambda a: a["user_id"] != u1)
    assert ids(**{"userId[in]": f"{u1},{u2}"}) == want(lambda a: a["user_id"] in (u1, u2))
    repeated = v2.session.get(
        f"{v2.server.base_url}/api/v2/courses/stats",
        params=[("userId[in]", u1), ("userId[in]", u2)],
        headers=v2.headers,
    ).json()
    assert {a["_id"] for a in repeated} == want(lambda a: a["user_id"] in (u1, u2))
    assert ids(**{"userId[nin]": f"{u1},{u2}"}) == want(lambda a: a["user_id"] not in (u1, u2))
    assert ids(**{"userId[in]": u1.upper()}) == want(lambda a: a["user_id"] == u1)
    course = truth[0]["course_id"]
    both = ids(**{"courseId[eq]": course, "userId[ne]": u1})
    assert both == want(lambda a: a["course_id"] == course and a["user_id"] != u1)
    # dates: lt / gte, full ISO or bare date; attempts without completedAt never match
    assert ids(**{"completedAt[gte]": "2025-01-01"}) == want(
        lambda a: a["completed_at"] and a["completed_at"] >= "2025-01-01"
    )
    assert ids(**{"completedAt[lt]": "2025-01-01T00:00:00.000Z"}) == want(
        lambda a: a["completed_at"] and a["completed_at"] < "2025-01-01"
    )
    # "the milliseconds are always set to 0": gte .999 of the same second still includes it
    done = next(a for a in truth if a["completed_at"] and not a["completed_at"].endswith("999Z"))
    assert done["_id"] in ids(**{"completedAt[gte]": done["completed_at"][:20] + "999Z"})
    assert done["_id"] not in ids(**{"completedAt[lt]": done["completed_at"][:20] + "999Z"})
    # users: status and mail
    users_truth = company.truth()["users"]
    active = {u["_id"] for u in v2.json("/users", **{"status[eq]": "active"})}
    assert active == {u["_id"] for u in users_truth if not u["deleted"]}
    deleted = {u["_id"] for u in v2.json("/users", **{"status[ne]": "active"})}
    assert deleted == {u["_id"] for u in users_truth if u["deleted"]} and deleted
    mail = users_truth[3]["mail"]
    assert [u["_id"] for u in v2.json("/users", **{"mail[eq]": mail.upper()})] == [
        users_truth[3]["_id"]
    ]


def test_modified_at_filters(company: Company, v2: V2) -> None:
    since = "2025-09-01T00:00:00.000Z"
    courses = company.truth()["courses"]
    got = {c["_id"] for c in v2.json("/courses", **{"modifiedAt[gte]": since})}
    assert got == {
        c["_id"] for c in courses if c["modification_date"] >= since and c["status"] != "draft"
    }
    paths = company.truth()["paths"]
    got = {p["_id"] for p in v2.json("/paths", **{"modifiedAt[gte]": since})}
    assert got == {p["_id"] for p in paths if p["modified_at"] >= since}
    sessions = company.truth()["path_sessions"]
    got = {s["_id"] for s in v2.json("/paths/sessions", **{"modifiedAt[gte]": since})}
    assert got == {s["_id"] for s in sessions if s["modified_at"] >= since}
    path = next(p for p in company.paths.values() if len(p.session_ids) > 1)
    got = v2.json(f"/paths/{path.id}/enrollments", **{"modifiedAt[gte]": since})
    assert {(e["userId"], e["sessionId"]) for e in got} == {
        (r["user_id"], r["path_session_id"])
        for r in company.truth()["user_path_sessions"]
        if r["path_id"] == path.id and company.enrolments[r["path_session_id"]][
            r["user_id"]].enrolled_at >= 1_756_684_800_000
    }  # fmt: skip


def test_bad_queries_are_400(v2: V2) -> None:
    cases = [
        ("/courses", {"foo[eq]": "x"}),
        ("/courses", {"modifiedAt[eq]": "2025-01-01"}),  # op not allowed there
        ("/courses", {"modifiedAt[gte]": "yesterday"}),
        ("/courses", {"modifiedAfter": "2025-01-01"}),  # a v1 filter
        ("/courses/stats", {"userId[eq]": "not-an-id"}),
        ("/courses/stats", {"completedAt": "2025-01-01"}),
        ("/users", {"status[eq]": "gone"}),
        ("/groups", {"name[eq]": "x"}),  # groups have no filter
        ("/classroom-slots/" + "0" * 24 + "/registrations", {"hasAttended[eq]": "yes"}),
    ]
    for route, params in cases:
        r = v2.get(route, **params)
        assert r.status_code == 400, (route, params)
        assert r.json()["error"]["code"] == "invalidParameter" and r.json()["error"]["message"]


# ---------------------------------------------------------------------- truth and v1
def test_lists_equal_the_truth(company: Company, paged: V2) -> None:
    truth = company.truth()
    courses = by_id(paged.all("/courses"))
    assert set(courses) == {c["_id"] for c in truth["courses"] if c["status"] != "draft"}
    for c in truth["courses"]:
        if c["_id"] in courses:
            v = courses[c["_id"]]
            assert (v["name"], v["status"], v["createdAt"], v["modifiedAt"], v["groupId"]) == (
                c["name"], c["status"], c["creation_date"], c["modification_date"], c["group"])  # fmt: skip
            assert (v["duration"], v["sourceLang"]) == (c["course_duration"], c["lang"])
            assert company.users[v["authorId"]].mail == c["author"]
    users = by_id(paged.all("/users"))
    assert set(users) == {u["_id"] for u in truth["users"]}
    for u in truth["users"]:
        v = users[u["_id"]]
        assert (v["mail"], v["firstName"], v["lastName"], v.get("primaryGroupId")) == (
            u["mail"], u["first_name"], u["last_name"], u["primary_group_id"])  # fmt: skip
        assert (v["status"] == "deleted") == u["deleted"] == ("deletedAt" in v)
    groups = by_id(paged.all("/groups"))
    assert {g: (v["name"], v.get("parentId"), v["public"]) for g, v in groups.items()} == {
        g["_id"]: (g["name"], g["parent"], g["public"]) for g in truth["groups"]
    }
    paths = by_id(paged.all("/paths"))
    assert {p: (v["name"], v["authorId"], v["groupId"], v["createdAt"], v["modifiedAt"])
            for p, v in paths.items()} == {
        p["_id"]: (p["name"], p["author_id"], p["group_id"], p["created_at"], p["modified_at"])
        for p in truth["paths"]
    }  # fmt: skip
    sessions = by_id(paged.all("/paths/sessions"))
    assert {s: (v["pathId"], v["name"], v["groupId"], v["startDate"], v.get("endDate"),
                v["createdAt"], v["modifiedAt"]) for s, v in sessions.items()} == {
        s["_id"]: (s["path_id"], s["name"], s["group_id"], s["start_date"], s["end_date"],
                   s["created_at"], s["modified_at"])
        for s in truth["path_sessions"]
    }  # fmt: skip
    stats = by_id(paged.all("/courses/stats"))
    assert set(stats) == {a["_id"] for a in truth["user_courses"]}
    for a in truth["user_courses"]:
        v = stats[a["_id"]]
        assert (v["userId"], v["courseId"], v["progress"], v.get("score"), v.get("completedAt"),
                v["firstActivityAt"], v["lastActivityAt"], v["timeSpent"], v.get("pathId"),
                v.get("pathSessionId")) == (
            a["user_id"], a["course_id"], a["progress"], a["score"], a["completed_at"],
            a["first_activity"], a["last_activity"], a["global_time"], a["path"],
            a["path_session"])  # fmt: skip
    path_stats = paged.all("/paths/stats")
    assert {(s["userId"], s["sessionId"]): (s["pathId"], s["progress"], s.get("score"),
            s.get("completedAt"), s["timeSpent"]) for s in path_stats} == {
        (r["user_id"], r["path_session_id"]): (r["path_id"], r["progress"], r["score"],
            r["completed_at"], round(r["total_time_spent_in_seconds"] * 1000))
        for r in truth["user_path_sessions"]
    }  # fmt: skip
    assert len(path_stats) == len(truth["user_path_sessions"])
    enrolments = [e for p in company.paths for e in paged.all(f"/paths/{p}/enrollments")]
    assert {e["_id"] for e in enrolments} == {s["_id"] for s in path_stats}
    assert len(enrolments) == len(path_stats)


def test_memberships_and_catalogs_equal_the_truth(company: Company, paged: V2) -> None:
    truth = company.truth()
    assert ROLE_NAMES == {
        "admin": "admin",
        "author": "editor",
        "coach": "coach",
        "learner": "learner",
    }
    want = {(m["user_id"], m["group_id"], ROLE_NAMES[m["role"]]) for m in truth["user_groups"]}
    assert {m["role"] for m in truth["user_groups"]} == set(ROLE_NAMES)
    by_group = {(r["userId"], g, r["role"]) for g in company.groups
                for r in paged.all(f"/groups/{g}/roles")}  # fmt: skip
    by_user = {(u, r["groupId"], r["role"]) for u in company.users
               for r in paged.all(f"/users/{u}/roles")}  # fmt: skip
    assert by_group == by_user == want
    enum = SPEC["routes"]["/groups/{groupId}/roles"]["schema"]["items"]["properties"]["role"]
    assert {r for _, _, r in by_group} <= set(enum["enum"])
    courses = {(g, i) for g in company.groups for i in paged.all(f"/groups/{g}/catalog/course-ids")}
    assert courses == {
        (c["group_id"], c["item_id"]) for c in truth["group_catalog"] if c["item_type"] == "course"
    }
    sessions = {
        (g, i) for g in company.groups for i in paged.all(f"/groups/{g}/catalog/path-session-ids")
    }
    assert sessions == {
        (c["group_id"], s)
        for c in truth["group_catalog"]
        if c["item_type"] == "path"
        for s in company.paths[c["item_id"]].session_ids
    }
    assert sessions, "some catalog lists a path"


def test_v2_only_tables_equal_the_truth(company: Company, paged: V2) -> None:
    truth = company.truth()
    skills = by_id(paged.all("/skills"))
    assert {s: (v["name"], v["status"], v["libraryId"]) for s, v in skills.items()} == {
        s["_id"]: (s["name"], s["status"], s["library_id"]) for s in truth["skills"]
    }
    assert {k for c in company.courses.values() for k in c.skills} <= set(skills)
    powers = by_id(paged.all("/skills/powers"))
    assert {p: (v["skillId"], v["userId"], v["status"]) for p, v in powers.items()} == {
        p["_id"]: (p["skill_id"], p["user_id"], p["status"]) for p in truth["skill_powers"]
    }
    assert {p["status"] for p in truth["skill_powers"]} == {"toAssess", "pendingValidation",
                                                            "validated"}  # fmt: skip
    outlines = by_id(paged.all("/certificate-outlines"))
    assert set(outlines) == {o["_id"] for o in truth["certificate_outlines"]}
    certs = [c for u in company.users for c in paged.all(f"/users/{u}/certificates")]
    assert {c["_id"]: (c["pathId"], c["pathSessionId"], c["deliveryDate"], c.get(
        "expirationDate"), c["certificateOutlineId"]) for c in certs} == {
        c["_id"]: (c["path_id"], c["path_session_id"], c["delivery_date"], c["expiration_date"],
                   c["certificate_outline_id"]) for c in truth["user_certificates"]
    }  # fmt: skip
    assert len(certs) == sum(r["completed_at"] is not None for r in truth["user_path_sessions"])
    fields = by_id(paged.all("/custom-fields"))
    assert set(fields) == {f["_id"] for f in truth["custom_fields"]}
    values = {(u, v["customFieldId"], v["value"]) for u in company.users
              for v in paged.json(f"/users/{u}/custom-fields/values")}  # fmt: skip
    assert values == {
        (r["user_id"], r["custom_field_id"], r["value"]) for r in truth["user_custom_fields"]
    }
    for f in fields:
        allowed = set(paged.json(f"/custom-fields/{f}/authorized-values"))
        assert {v for _, fid, v in values if fid == f} <= allowed
    rooms = by_id(paged.all("/classrooms"))
    assert set(rooms) == {r["_id"] for r in truth["classrooms"]} and rooms
    slots = [s for r in rooms for s in paged.all(f"/classrooms/{r}/slots")]
    assert {s["_id"] for s in slots} == {s["_id"] for s in truth["classroom_slots"]}
    regs = [r for s in slots for r in paged.all(f"/classroom-slots/{s['_id']}/registrations")]
    by_room = [r for room in rooms for r in paged.all(f"/classrooms/{room}/registrations")]
    assert (
        {r["_id"] for r in regs}
        == {r["_id"] for r in by_room}
        == {r["_id"] for r in truth["classroom_slot_registrations"]}
    )
    assert len(regs) == len(by_room) == len(truth["classroom_slot_registrations"])
    attended = paged.all(
        f"/classroom-slots/{slots[0]['_id']}/registrations", **{"hasAttended[eq]": "true"}
    )
    assert all(r["hasAttended"] for r in attended)


def test_v1_and_v2_agree(company: Company, v1: Api, v2: V2) -> None:
    # every v1 attempt is a v2 course stat with the same values
    stats = by_id(v2.json("/courses/stats"))
    n = 0
    for entry in v1.json("/courses/stats"):
        for user in entry["stats"]:
            for a in user["attempts"]:
                v = stats[a["_id"]]
                n += 1
                assert (v["courseId"], v["userId"]) == (entry["course"]["_id"], user["user"]["_id"])
                assert (v["progress"], v.get("score"), v.get("completedAt"), v["firstActivityAt"],
                        v["lastActivityAt"], v["timeSpent"], v.get("pathId")) == (
                    a["progress"], a.get("score"), a.get("completedAt"), a["firstActivity"],
                    a["lastActivity"], a["globalTime"], a.get("path"))  # fmt: skip
    assert n == len(stats)
    # group members: v1 getGroup lists == v2 group roles
    keys = {"admins": "admin", "authors": "author", "coaches": "coach", "users": "learner"}
    for group_id in company.groups:
        group = v1.json(f"/groups/{group_id}")
        v1_roles = {(u, ROLE_NAMES[role]) for k, role in keys.items() for u in group[k]}
        v2_roles = {(r["userId"], r["role"]) for r in v2.json(f"/groups/{group_id}/roles")}
        assert v1_roles == v2_roles
        v2_group = v2.json(f"/groups/{group_id}")
        assert (v2_group["name"], v2_group.get("parentId"), v2_group["custom"]) == (
            group["name"], group.get("parent"), group["custom"])  # fmt: skip
        catalog = v1.json(f"/groups/{group_id}/catalog")
        assert {c["_id"] for c in catalog["courses"]} == set(
            v2.json(f"/groups/{group_id}/catalog/course-ids")
        )
        assert {s for p in catalog["paths"] for s in company.paths[p["_id"]].session_ids} == set(
            v2.json(f"/groups/{group_id}/catalog/path-session-ids")
        )
    for user_id in list(company.users)[:15]:
        roles = {
            (r["group"], ROLE_NAMES[r["roles"][0]]) for r in v1.json(f"/users/{user_id}/roles")
        }
        assert roles == {(r["groupId"], r["role"]) for r in v2.json(f"/users/{user_id}/roles")}
        custom = {
            (c["customFieldId"], c["value"]) for c in v1.json(f"/users/{user_id}")["customFields"]
        }
        assert custom == {
            (c["customFieldId"], c["value"])
            for c in v2.json(f"/users/{user_id}/custom-fields/values")
        }  # fmt: skip
    # path session stats: same people, progress, score, time (s → ms) and status
    for session_id, session in list(company.path_sessions.items())[:6]:
        old = v1.json(f"/paths/sessions/{session_id}/stats/users")["usersStats"]
        new = v2.json(f"/paths/{session.path_id}/sessions/{session_id}/user-stats")
        assert {(u["_id"], u["progress"], u["score"], round(u["totalTimeSpentInSeconds"] * 1000),
                 u["detailedStatus"]["type"]) for u in old} == {
            (u["userId"], u["progress"], u.get("score"), u["timeSpent"], u["status"]["type"])
            for u in new
        }  # fmt: skip
    # courses: v2 has the v1 courses minus drafts, same names and skill ids exist in v2
    v1_courses = {c["_id"]: c for c in v1.json("/courses")}
    v2_courses = by_id(v2.json("/courses"))
    assert set(v2_courses) == {i for i, c in v1_courses.items() if c["status"] != "draft"}
    skills = {s["_id"] for s in v2.json("/skills")}
    assert {k for c in v1_courses.values() for k in c["skills"]} <= skills


@pytest.mark.integration
def test_v2_follows_the_company_over_time(small_company: Company) -> None:
    """After advancing, v2 still equals the truth, and `modifiedAt[gte]` sees every change."""
    with EmulatorServer(small_company, rate_limit=0, v2_page_size=50) as server:
        api = V2(server)
        before = {c["_id"]: c for c in api.all("/courses")}
        now = small_company.truth()["now"]
        small_company.advance(days=5)
        truth = small_company.truth()
        after = {c["_id"]: c for c in api.all("/courses")}
        changed = {c["_id"] for c in api.all("/courses", **{"modifiedAt[gte]": now})}
        assert changed == {i for i, c in after.items() if before.get(i) != c} and changed
        assert {a["_id"] for a in api.all("/courses/stats")} == {
            a["_id"] for a in truth["user_courses"]
        }
        assert {(r["userId"], r["sessionId"]) for r in api.all("/paths/stats")} == {
            (r["user_id"], r["path_session_id"]) for r in truth["user_path_sessions"]
        }
        certs = {c["_id"] for u in small_company.users for c in api.all(f"/users/{u}/certificates")}
        assert certs == {c["_id"] for c in truth["user_certificates"]}


def test_v2_truth_tables_are_deterministic() -> None:
    a = Company.generate(seed=4, users=40)
    b = Company.generate(seed=4, users=40)
    a.advance(2)
    b.advance(1)
    b.advance(1)
    ta, tb = a.truth(), b.truth()
    for name in v2_data.V2_TRUTH_TABLES:
        assert ta[name] == tb[name] and ta[name], name
        for row in ta[name]:
            for key, value in row.items():
                if key == "_id" or key.endswith("_id"):
                    assert value is None or re.match(r"^[0-9a-f]{24}$", value), (name, key)
                if key.endswith(("_at", "_date")):
                    assert value is None or re.match(ISO, value), (name, key, value)
