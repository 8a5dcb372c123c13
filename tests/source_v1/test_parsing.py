"""One test per response variant of reference §12 (and the shapes the emulator serves)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sources.learning360.cursors import chunked
from sources.learning360.errors import ConfigurationError
from sources.learning360.v1 import parsing as p

ATTEMPT = {
    "_id": "a1",
    "progress": 100,
    "score": 75,
    "completedAt": "2024-01-02T00:00:00.000Z",
    "firstActivity": "2024-01-01T00:00:00.000Z",
    "lastActivity": "2024-01-02T00:00:00.000Z",
    "globalTime": 51190,
}


# ---- getUserCourses / getCoursesStats -------------------------------------------------------


def test_user_courses_course_as_object() -> None:
    rows = list(
        p.user_course_attempts("u1", {"course": {"_id": "c1", "name": "C"}, "attempts": [ATTEMPT]})
    )
    assert rows == [{**ATTEMPT, "user_id": "u1", "course_id": "c1"}]


def test_user_courses_course_as_plain_id() -> None:
    rows = list(p.user_course_attempts("u1", {"course": "c1", "attempts": [ATTEMPT]}))
    assert rows[0]["course_id"] == "c1"


def test_user_courses_course_id_key() -> None:
    rows = list(p.user_course_attempts("u1", {"courseId": "c1", "attempts": [ATTEMPT]}))
    assert rows[0]["course_id"] == "c1"


def test_attempt_without_score_and_completion_keeps_other_fields() -> None:
    attempt = {
        "_id": "a2",
        "progress": 9,
        "lastActivity": "2024-01-01T00:00:00.000Z",
        "completedAt": None,
    }
    [row] = p.user_course_attempts("u1", {"course": "c1", "attempts": [attempt]})
    assert "score" not in row and row["completedAt"] is None and row["progress"] == 9


def test_attempt_in_a_path_keeps_path_fields_and_unknown_extras() -> None:
    attempt = {**ATTEMPT, "path": "p1", "pathSession": "ps1", "brandNewField": {"x": 1}}
    [row] = p.user_course_attempts("u1", {"course": "c1", "attempts": [attempt]})
    assert row["path"] == "p1" and row["pathSession"] == "ps1" and row["brandNewField"] == {"x": 1}


def test_course_stats_give_the_same_rows_as_user_courses() -> None:
    bulk = {
        "course": {"_id": "c1", "name": "C"},
        "stats": [{"user": {"_id": "u1", "mail": "m"}, "attempts": [ATTEMPT]}],
    }
    per_user = {"course": {"_id": "c1", "name": "C"}, "attempts": [ATTEMPT]}
    assert list(p.course_stats_attempts(bulk)) == list(p.user_course_attempts("u1", per_user))


def test_course_stats_user_as_plain_id() -> None:
    bulk = {"course": "c1", "stats": [{"user": "u1", "attempts": [ATTEMPT]}]}
    assert [r["user_id"] for r in p.course_stats_attempts(bulk)] == ["u1"]


# ---- getUserPrograms ------------------------------------------------------------------------


def test_user_program_stats_nested() -> None:
    element = {
        "_id": "ps1",
        "name": "S",
        "startDate": "2024-01-01T00:00:00.000Z",
        "programTemplate": "t1",
        "stats": {
            "progress": 40,
            "totalTimeSpentInSeconds": 12.5,
            "score": 80,
            "completedAt": None,
        },
    }
    row = p.user_program_row("u1", element)
    assert row == {
        "name": "S",
        "startDate": "2024-01-01T00:00:00.000Z",
        "programTemplate": "t1",
        "progress": 40,
        "totalTimeSpentInSeconds": 12.5,
        "score": 80,
        "completedAt": None,
        "user_id": "u1",
        "program_session_id": "ps1",
    }


def test_user_program_stats_at_top_level() -> None:
    row = p.user_program_row("u1", {"_id": "ps1", "progress": 40, "totalTimeSpentInSeconds": 3})
    assert row is not None
    assert (row["progress"], row["totalTimeSpentInSeconds"], row["program_session_id"]) == (
        40,
        3,
        "ps1",
    )


def test_user_program_session_id_key() -> None:
    row = p.user_program_row("u1", {"sessionId": "ps9", "stats": {"progress": 1}})
    assert row is not None and row["program_session_id"] == "ps9" and "sessionId" not in row


def test_user_program_null_score_and_completion() -> None:
    row = p.user_program_row(
        "u1", {"_id": "ps1", "stats": {"progress": 0, "score": None, "completedAt": None}}
    )
    assert row is not None and row["score"] is None and row["completedAt"] is None


def test_user_program_without_any_id_is_dropped() -> None:
    assert p.user_program_row("u1", {"name": "orphan"}) is None


# ---- getUser groups ---------------------------------------------------------------------------


def test_user_groups_as_objects() -> None:
    row = p.user_row({"_id": "u1"}, {"groups": [{"_id": "g1", "name": "G"}]})
    assert row["groups"] == [{"_id": "g1", "name": "G"}]


def test_user_groups_as_plain_ids() -> None:
    assert p.user_row({"_id": "u1"}, {"groups": ["g1", "g2"]})["groups"] == [
        {"_id": "g1"},
        {"_id": "g2"},
    ]


def test_user_groups_with_extra_keys_kept() -> None:
    row = p.user_row({"_id": "u1"}, {"groups": [{"_id": "g1", "roles": ["learner"]}]})
    assert row["groups"] == [{"_id": "g1", "roles": ["learner"]}]


def test_user_deleted_defaults_to_false_and_details_win() -> None:
    row = p.user_row({"_id": "u1", "mail": "old@x"}, {"mail": "new@x", "lastLoginAt": None})
    assert row == {"_id": "u1", "mail": "new@x", "lastLoginAt": None, "deleted": False}


def test_deleted_user_without_details_keeps_listing_row() -> None:
    assert p.user_row({"_id": "u1", "deleted": True}, None) == {"_id": "u1", "deleted": True}


# ---- getGroup member lists ---------------------------------------------------------------------


def test_group_members_as_ids() -> None:
    details = {"_id": "g1", "admins": ["u1"], "authors": [], "coaches": ["u2"], "users": ["u3"]}
    assert p.group_memberships(details) == [
        {"user_id": "u1", "group_id": "g1", "role": "admin"},
        {"user_id": "u2", "group_id": "g1", "role": "coach"},
        {"user_id": "u3", "group_id": "g1", "role": "learner"},
    ]


def test_group_members_as_objects() -> None:
    details = {"_id": "g1", "authors": [{"_id": "u1", "mail": "a@x"}]}
    assert p.group_memberships(details) == [{"user_id": "u1", "group_id": "g1", "role": "author"}]


def test_group_member_in_two_lists_keeps_one_row() -> None:
    details = {"_id": "g1", "admins": ["u1"], "users": ["u1"]}
    assert p.group_memberships(details) == [{"user_id": "u1", "group_id": "g1", "role": "admin"}]


def test_group_row_drops_member_lists_keeps_extras() -> None:
    details = {
        "_id": "g1",
        "name": "G",
        "public": True,
        "custom": "x",
        "admins": ["u1"],
        "users": [],
    }
    assert p.group_row(details) == {"_id": "g1", "name": "G", "public": True, "custom": "x"}


# ---- getGroupCatalog ---------------------------------------------------------------------------


def test_catalog_objects() -> None:
    catalog = {
        "courses": [{"_id": "c1", "name": "C"}],
        "paths": [{"_id": "p1"}],
        "programs": [{"_id": "s1"}],
    }
    assert p.catalog_rows("g1", catalog) == [
        {"group_id": "g1", "item_type": "course", "item_id": "c1"},
        {"group_id": "g1", "item_type": "program_session", "item_id": "s1"},
        {"group_id": "g1", "item_type": "path", "item_id": "p1"},
    ]


def test_catalog_plain_ids_and_absent_keys() -> None:
    assert p.catalog_rows("g1", {"courses": ["c1", "c1"]}) == [
        {"group_id": "g1", "item_type": "course", "item_id": "c1"}
    ]
    assert p.catalog_rows("g1", {}) == []


def test_catalog_paths_that_are_path_sessions() -> None:
    def classify(item_id: str) -> str:
        return p.classify_catalog_path(item_id, path_ids={"p1"}, session_ids={"ps1"})

    rows = p.catalog_rows("g1", {"paths": ["p1", {"_id": "ps1", "name": "S"}]}, classify)
    assert [(r["item_type"], r["item_id"]) for r in rows] == [
        ("path", "p1"),
        ("path_session", "ps1"),
    ]


def test_group_programs_ids_or_objects() -> None:
    assert p.group_program_rows("g1", [{"_id": "s1", "name": "S"}, "s2", "s2"]) == [
        {"group_id": "g1", "program_session_id": "s1"},
        {"group_id": "g1", "program_session_id": "s2"},
    ]


# ---- path-session stats --------------------------------------------------------------------------


def test_path_session_stats_documented_shape() -> None:
    body = {
        "sessionId": "ps1",
        "pathId": "p1",
        "usersStats": [
            {
                "_id": "u1",
                "deleted": False,
                "progress": 50,
                "score": None,
                "completedAt": None,
                "totalTimeSpentInSeconds": 96.455,
                "detailedStatus": {"type": "onTime"},
            }
        ],
    }
    [row] = p.path_session_user_rows({"_id": "ps1", "pathId": "p1"}, body)
    assert row["user_id"] == "u1" and row["path_id"] == "p1" and row["path_session_id"] == "ps1"
    assert row["score"] is None and row["detailedStatus"] == {"type": "onTime"} and "_id" not in row


def test_path_session_stats_user_stats_key_and_missing_path() -> None:
    body = {"userStats": [{"userId": "u1", "progress": 10}]}
    [row] = p.path_session_user_rows({"_id": "ps1", "pathId": "p1"}, body)
    assert (row["user_id"], row["path_id"], row["path_session_id"]) == ("u1", "p1", "ps1")


def test_path_session_stats_bare_list() -> None:
    [row] = p.path_session_user_rows({"_id": "ps1", "pathId": "p1"}, [{"_id": "u1"}])
    assert row["path_session_id"] == "ps1"


# ---- timestamps ----------------------------------------------------------------------


def test_api_timestamp_format() -> None:
    from sources.learning360.cursors import format_api_timestamp

    assert format_api_timestamp("2024-01-02T09:00:00.000000Z") == "2024-01-02T09:00:00.000Z"
    assert format_api_timestamp("2024-01-02T09:00:00.123456+00:00") == "2024-01-02T09:00:00.123Z"
    assert format_api_timestamp(datetime(2024, 1, 2, 9, tzinfo=UTC)) == "2024-01-02T09:00:00.000Z"


def test_chunked() -> None:
    assert list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]


def test_program_stats_give_user_program_rows_or_name_the_per_user_strategy() -> None:
    session = {"_id": "s1", "name": "S", "startDate": "2024-01-01T00:00:00.000Z"}
    body = {"usersStats": [{"_id": "u1", "progress": 50, "endTime": None}, {"_id": "u1"}]}
    assert p.program_stats_rows(session, body) == [
        {"name": "S", "startDate": "2024-01-01T00:00:00.000Z", "progress": 50,
         "completedAt": None, "user_id": "u1", "program_session_id": "s1"}
    ]  # fmt: skip
    with pytest.raises(ConfigurationError, match="cannot be read in bulk"):
        p.program_stats_rows(session, [{"progress": 50}])
