"""A small hand-made truth (the `company.truth()` form) holding the models' edge cases.

Cast: u1 is in g1 and g2 (both grant course c1), has several attempts per course and two
sessions of path p1; u2 is in g1 with no activity; u3 is deleted but keeps attempts; u4 is in g2
with only a null-score attempt; ux is a member of g1 missing from users. g1's catalog lists a path
session (s3, of path p2) and a course that does not exist; g2 is invited to a program session
that does not exist; g3 has no members.
"""

from __future__ import annotations

from typing import Any


def _attempt(
    _id: str,
    user: str,
    course: str,
    progress: int,
    score: int | None,
    first: str | None,
    last: str | None,
    ms: int,
    completed: str | None = None,
) -> dict[str, Any]:
    return {
        "_id": _id,
        "user_id": user,
        "course_id": course,
        "progress": progress,
        "score": score,
        "completed_at": completed,
        "first_activity": first,
        "last_activity": last,
        "global_time": ms,
        "path": None,
        "path_session": None,
    }


def _course(_id: str, name: str, status: str) -> dict[str, Any]:
    return {
        "_id": _id,
        "name": name,
        "status": status,
        "author": "author@example.com",
        "creation_date": "2024-01-01T00:00:00.000Z",
        "modification_date": "2024-01-02T00:00:00.000Z",
        "group": "g0",
        "lang": "en",
        "course_duration": 15,
    }


def _user(_id: str, deleted: bool = False) -> dict[str, Any]:
    return {
        "_id": _id,
        "mail": f"{_id}@example.com",
        "first_name": _id.upper(),
        "last_name": "Test",
        "primary_group_id": "g1",
        "deleted": deleted,
    }


def _program(
    user: str, session: str, progress: int, seconds: float, score: int | None, completed: str | None
) -> dict[str, Any]:
    return {
        "user_id": user,
        "program_session_id": session,
        "progress": progress,
        "total_time_spent_in_seconds": seconds,
        "score": score,
        "completed_at": completed,
    }


def _session(_id: str, path: str) -> dict[str, Any]:
    return {
        "_id": _id,
        "path_id": path,
        "name": f"Session {_id}",
        "group_id": "g0",
        "start_date": "2024-01-01T00:00:00.000Z",
        "end_date": "2024-12-31T00:00:00.000Z",
        "created_at": "2023-12-01T00:00:00.000Z",
        "modified_at": "2023-12-02T00:00:00.000Z",
    }


def hand_made_truth() -> dict[str, Any]:
    """A fresh copy each call (tests mutate it)."""
    return {
        "company_id": "0" * 24,
        "now": "2024-03-01T00:00:00.000Z",
        "users": [_user("u1"), _user("u2"), _user("u3", deleted=True), _user("u4")],
        "groups": [
            {"_id": "g0", "name": "Company", "parent": None, "public": False},
            {"_id": "g1", "name": "Sales", "parent": "g0", "public": True},
            {"_id": "g2", "name": "Support", "parent": "g0", "public": False},
            {"_id": "g3", "name": "Empty", "parent": "g0", "public": False},
        ],
        "user_groups": [
            {"user_id": "u1", "group_id": "g1", "role": "learner"},
            {"user_id": "u1", "group_id": "g2", "role": "admin"},
            {"user_id": "u2", "group_id": "g1", "role": "learner"},
            {"user_id": "u3", "group_id": "g1", "role": "learner"},
            {"user_id": "u4", "group_id": "g2", "role": "coach"},
            {"user_id": "ux", "group_id": "g1", "role": "learner"},
        ],
        "courses": [
            _course("c1", "Welcome", "published"),
            _course("c2", "Security", "published"),
            _course("c3", "Old course", "archived"),
        ],
        "group_catalog": [
            {"group_id": "g1", "item_type": "course", "item_id": "c1"},
            {"group_id": "g1", "item_type": "path_session", "item_id": "s3"},
            {"group_id": "g1", "item_type": "course", "item_id": "c_missing"},
            {"group_id": "g1", "item_type": "program_session", "item_id": "ps2"},
            {"group_id": "g2", "item_type": "course", "item_id": "c1"},
            {"group_id": "g2", "item_type": "path", "item_id": "p1"},
            {"group_id": "g3", "item_type": "course", "item_id": "c2"},
        ],
        "group_programs": [
            {"group_id": "g1", "program_session_id": "ps1"},
            {"group_id": "g2", "program_session_id": "ps_missing"},
        ],
        "program_sessions": [
            {
                "_id": ps,
                "name": f"Program {ps}",
                "start_date": "2024-01-01T00:00:00.000Z",
                "end_date": "2024-06-30T00:00:00.000Z",
                "program_template": "t1",
                "modified_at": "2024-01-01T00:00:00.000Z",
            }
            for ps in ("ps1", "ps2", "ps3")
        ],
        "paths": [
            {
                "_id": p,
                "name": f"Path {p}",
                "author_id": "u1",
                "group_id": "g0",
                "created_at": "2023-12-01T00:00:00.000Z",
                "modified_at": "2023-12-02T00:00:00.000Z",
            }
            for p in ("p1", "p2")
        ],
        "path_sessions": [_session("s1", "p1"), _session("s2", "p1"), _session("s3", "p2")],
        "user_path_sessions": [
            {
                "user_id": "u1",
                "path_id": "p1",
                "path_session_id": "s1",
                "progress": 100,
                "score": 90,
                "completed_at": "2024-02-01T00:00:00.000Z",
                "total_time_spent_in_seconds": 300.0,
            },
            {
                "user_id": "u1",
                "path_id": "p1",
                "path_session_id": "s2",
                "progress": 100,
                "score": 70,
                "completed_at": "2024-01-15T08:30:00.000Z",
                "total_time_spent_in_seconds": 96.455,
            },
            {
                "user_id": "u4",
                "path_id": "p2",
                "path_session_id": "s3",
                "progress": 10,
                "score": None,
                "completed_at": None,
                "total_time_spent_in_seconds": 30.5,
            },
        ],
        "user_courses": [
            # u1 in c1: three attempts; best 100/80, the latest (a3) at 30, first completion a2
            _attempt(
                "a1",
                "u1",
                "c1",
                40,
                None,
                "2024-01-01T10:00:00.000Z",
                "2024-01-02T10:00:00.000Z",
                1000,
            ),
            _attempt(
                "a2",
                "u1",
                "c1",
                100,
                80,
                "2024-01-03T10:00:00.000Z",
                "2024-01-04T12:00:00.000Z",
                2000,
                "2024-01-04T12:00:00.000Z",
            ),
            _attempt(
                "a3",
                "u1",
                "c1",
                30,
                None,
                "2024-01-05T10:00:00.000Z",
                "2024-01-06T10:00:00.000Z",
                500,
            ),
            # u1 in c2: an attempt without last_activity ranks oldest for last_progress
            _attempt("a7", "u1", "c2", 100, 70, None, None, 700, "2024-01-10T00:00:00.000Z"),
            _attempt(
                "a8",
                "u1",
                "c2",
                20,
                None,
                "2024-01-11T00:00:00.000Z",
                "2024-01-11T01:00:00.000Z",
                300,
            ),
            # u4: a null score only
            _attempt(
                "a4",
                "u4",
                "c2",
                50,
                None,
                "2024-02-01T00:00:00.000Z",
                "2024-02-01T00:30:00.000Z",
                1800,
            ),
            # deleted user u3 keeps attempts; a course that does not exist
            _attempt(
                "a5",
                "u3",
                "c1",
                100,
                90,
                "2024-01-01T00:00:00.000Z",
                "2024-01-01T01:00:00.000Z",
                900,
                "2024-01-01T01:00:00.000Z",
            ),
            _attempt(
                "a6",
                "u4",
                "c_missing",
                10,
                None,
                "2024-02-02T00:00:00.000Z",
                "2024-02-02T00:10:00.000Z",
                60,
            ),
        ],
        "user_programs": [
            _program("u1", "ps1", 100, 3600.5, 85, "2024-02-10T00:00:00.000Z"),
            _program("u2", "ps1", 0, 0.0, None, None),
            _program("u3", "ps1", 100, 10.0, 100, "2024-02-11T00:00:00.000Z"),
            _program("u4", "ps2", 50, 120.25, None, None),
            _program("u1", "ps_missing", 10, 5.0, None, None),
        ],
    }
