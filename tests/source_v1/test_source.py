"""The dlt source over a scripted v1 API and a temporary DuckDB: config, selection, cursors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import dlt
import pytest

from sources.learning360 import ConfigurationError, RequestStats, learning360
from sources.learning360.tables import V1_TABLES

from .conftest import API_KEY, COMPANY_ID
from .fake_http import FakeServer, Reply, Request

T1, T2 = "2024-03-01T10:00:00.000Z", "2024-03-02T10:00:00.000Z"
ATTEMPT = {
    "_id": "a1",
    "progress": 100,
    "score": 80,
    "completedAt": T1,
    "firstActivity": T1,
    "lastActivity": T2,
    "globalTime": 1000,
}


def script_tenant(server: FakeServer) -> None:
    """A tiny company: 2 users (one deleted), 1 group, 1 course, 1 path with 1 session."""
    j = server.json
    j(
        "/api/v1/courses",
        [
            {
                "_id": "c1",
                "name": "C",
                "status": "published",
                "author": "a@x",
                "creationDate": T1,
                "modificationDate": T2,
            }
        ],
    )
    j(
        "/api/v1/courses/c1",
        {"_id": "c1", "group": "g1", "lang": "en", "courseDuration": 15, "coAuthors": ["b@x"]},
    )
    j(
        "/api/v1/courses/stats",
        [{"course": {"_id": "c1"}, "stats": [{"user": {"_id": "u1"}, "attempts": [ATTEMPT]}]}],
    )
    j(
        "/api/v1/users",
        [
            {"_id": "u1", "mail": "u1@x", "firstName": "A", "lastName": "B"},
            {"_id": "u2", "mail": "u2@x", "deleted": True},
        ],
    )
    j("/api/v1/users/u1", {"_id": "u1", "primaryGroupId": "g1", "groups": ["g1"]})
    server.route("GET", "/api/v1/users/u2", Reply(400, {"error": "user_not_found"}))
    j("/api/v1/users/u1/courses", [{"course": "c1", "attempts": [ATTEMPT]}])
    server.route("GET", "/api/v1/users/u2/courses", Reply(400, {"error": "user_not_found"}))
    j(
        "/api/v1/users/u1/programs",
        [{"_id": "s1", "name": "S", "stats": {"progress": 50, "totalTimeSpentInSeconds": 10}}],
    )
    server.route("GET", "/api/v1/users/u2/programs", Reply(400, {"error": "user_not_found"}))
    j("/api/v1/groups", [{"_id": "g1", "name": "G", "public": True}])
    j(
        "/api/v1/groups/g1",
        {
            "_id": "g1",
            "name": "G",
            "public": True,
            "admins": [],
            "authors": [],
            "coaches": [],
            "users": ["u1"],
        },
    )
    j(
        "/api/v1/groups/g1/catalog",
        {"courses": [{"_id": "c1"}], "paths": ["ps1"], "programs": ["s1"]},
    )
    j("/api/v1/groups/g1/programs", [{"_id": "s1", "name": "S"}])
    j(
        "/api/v1/programs/sessions/s1/stats",
        {
            "_id": "s1",
            "name": "S",
            "usersStats": [
                {"_id": "u1", "progress": 50, "totalTimeSpentInSeconds": 10, "score": None}
            ],
        },
    )
    j(
        "/api/v1/programs/sessions",
        [{"_id": "s1", "name": "S", "startDate": T1, "modules": [{"_id": "c1", "type": "course"}]}],
    )
    j(
        "/api/v1/paths",
        [
            {
                "_id": "p1",
                "name": "P",
                "authorId": "u1",
                "modifiedAt": T2,
                "sessionIds": ["ps1"],
                "steps": [{"_id": "c1", "type": "course"}],
            }
        ],
    )
    j("/api/v1/paths/sessions", [{"_id": "ps1", "pathId": "p1", "name": "PS", "groupId": "g1"}])
    j(
        "/api/v1/paths/sessions/ps1/stats/users",
        {
            "sessionId": "ps1",
            "pathId": "p1",
            "usersStats": [{"_id": "u1", "progress": 50, "score": None, "completedAt": None}],
        },
    )
    server.route(
        "POST",
        "/api/v2/oauth2/token",
        Reply(body={"token_type": "Bearer", "access_token": "jwt-token-1", "expires_in": "3600"}),
    )


@pytest.fixture
def configure(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    script_tenant(server)

    def apply(**settings: str) -> None:
        env = {
            "SOURCES__LEARNING360__BASE_URL": server.base_url,
            "SOURCES__LEARNING360__CREDENTIALS__COMPANY_ID": COMPANY_ID,
            "SOURCES__LEARNING360__CREDENTIALS__API_KEY": API_KEY,
            "SOURCES__LEARNING360__MAX_REQUESTS_PER_SECOND": "100000",  # 0 is refused
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0",
        }
        env.update({f"SOURCES__LEARNING360__{k.upper()}": v for k, v in settings.items()})
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    apply()
    return apply


def new_pipeline(tmp_path: Path, name: str = "learning360_unit") -> dlt.Pipeline:
    return dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name="raw",
    )


def table(pipeline: dlt.Pipeline, name: str, columns: str = "*") -> list[tuple]:
    with pipeline.sql_client() as client:
        return [
            tuple(row) for row in client.execute_sql(f"select {columns} from {name} order by 1, 2")
        ]


@pytest.mark.parametrize("auth_method", ["oauth", "header", "query"])
def test_full_sync_fills_every_contract_table(
    configure, server: FakeServer, tmp_path: Path, auth_method: str
) -> None:
    configure(credentials__auth_method=auth_method)
    pipeline = new_pipeline(tmp_path)
    stats = RequestStats()
    pipeline.run(learning360(stats=stats), loader_file_format="parquet")
    counts = pipeline.last_trace.last_normalize_info.row_counts
    for name in V1_TABLES:
        assert counts.get(name), name
    assert table(pipeline, "users", "_id, deleted, primary_group_id") == [
        ("u1", False, "g1"),
        ("u2", True, None),
    ]
    assert table(pipeline, "user_groups", "user_id, group_id, role") == [("u1", "g1", "learner")]
    assert table(pipeline, "group_catalog", "group_id, item_type, item_id") == [
        ("g1", "course", "c1"),
        ("g1", "path_session", "ps1"),
        ("g1", "program_session", "s1"),
    ]
    assert table(
        pipeline, "user_programs", "user_id, program_session_id, progress, score, completed_at"
    ) == [("u1", "s1", 50.0, None, None)]
    assert table(
        pipeline, "courses", '_id, "group", course_duration, modification_date::varchar'
    ) == [("c1", "g1", 15.0, "2024-03-02 10:00:00+00")]
    assert table(pipeline, "user_path_sessions", "user_id, path_id, path_session_id, score") == [
        ("u1", "p1", "ps1", None)
    ]
    assert counts["paths__steps"] == 1 and counts["program_sessions__modules"] == 1
    assert stats.skipped_missing == 1  # getUser of the deleted user
    trace = json.dumps(pipeline.last_trace.asdict(), default=str)
    assert API_KEY not in trace


def test_strategies_produce_identical_user_courses(configure, tmp_path: Path) -> None:
    rows = {}
    for strategy in ("bulk", "per_user"):
        configure(user_courses_strategy=strategy)
        pipeline = new_pipeline(tmp_path, f"p_{strategy}")
        pipeline.run(learning360().with_resources("user_courses"))
        columns = [
            c
            for c in pipeline.default_schema.get_table_columns("user_courses")
            if not c.startswith("_dlt")
        ]
        rows[strategy] = (
            sorted(columns),
            table(pipeline, "user_courses", ", ".join(f'"{c}"' for c in sorted(columns))),
        )
    assert rows["bulk"] == rows["per_user"]


@pytest.mark.parametrize("strategy", ["bulk", "per_user"])
def test_attempts_without_any_last_activity_load(
    configure, server: FakeServer, tmp_path: Path, strategy: str
) -> None:
    """dlt's cursor on the pyarrow batches needs its column: a batch where no attempt has a
    ``lastActivity`` (never started) still carries ``last_activity``, all NULL."""
    configure(user_courses_strategy=strategy)
    unstarted = {k: v for k, v in ATTEMPT.items() if k != "lastActivity"}
    stats = [{"user": {"_id": "u1"}, "attempts": [unstarted]}]
    server.json("/api/v1/courses/stats", [{"course": {"_id": "c1"}, "stats": stats}])
    server.json("/api/v1/users/u1/courses", [{"course": "c1", "attempts": [unstarted]}])
    pipeline = new_pipeline(tmp_path)
    pipeline.run(learning360().with_resources("user_courses"))
    assert table(pipeline, "user_courses", "_id, user_id, last_activity") == [("a1", "u1", None)]


def test_selecting_a_table_fed_by_a_shared_call(
    configure, server: FakeServer, tmp_path: Path
) -> None:
    pipeline = new_pipeline(tmp_path)
    pipeline.run(learning360().with_resources("user_groups"))
    assert set(pipeline.last_trace.last_normalize_info.row_counts) == {
        "user_groups",
        "_dlt_pipeline_state",
    }
    assert {r.path for r in server.requests} == {
        "/api/v2/oauth2/token",
        "/api/v1/groups",
        "/api/v1/groups/g1",
    }
    server.requests.clear()
    pipeline.run(learning360().with_resources("groups", "user_groups"))
    assert len(server.calls("/api/v1/groups/g1")) == 1  # one getGroup feeds both tables


def test_incremental_cursors_are_sent_with_the_lag(
    configure, server: FakeServer, tmp_path: Path
) -> None:
    configure(modified_lag_seconds="3600")
    pipeline = new_pipeline(tmp_path)
    selection = ("courses", "paths", "user_courses")
    pipeline.run(learning360().with_resources(*selection))
    assert server.calls("/api/v1/courses")[0].query == {}
    server.requests.clear()
    pipeline.run(learning360().with_resources(*selection))
    assert server.calls("/api/v1/courses")[0].query == {"modifiedAfter": "2024-03-02T09:00:00.000Z"}
    assert server.calls("/api/v1/paths")[0].query == {"modifiedAfter": "2024-03-02T09:00:00.000Z"}
    assert server.calls("/api/v1/courses/stats")[0].query == {
        "lastActivityAtAfter": "2024-03-02T09:00:00.000Z"
    }
    assert len(table(pipeline, "courses")) == 1  # merge: the overlap is not duplicated
    # nothing changed: the re-read lag window is dropped, nothing is loaded, no getCourse
    assert not {"courses", "paths", "user_courses"} & set(
        pipeline.last_trace.last_normalize_info.row_counts
    )
    assert server.calls("/api/v1/courses/c1") == []


def test_getcourse_only_for_courses_the_filtered_listing_returned(
    configure, server: FakeServer, tmp_path: Path
) -> None:
    def listing(request: Request) -> Reply:
        return Reply(
            body=[] if "modifiedAfter" in request.query else [{"_id": "c1", "modificationDate": T2}]
        )

    server.route("GET", "/api/v1/courses", listing)
    pipeline = new_pipeline(tmp_path)
    pipeline.run(learning360().with_resources("courses"))
    pipeline.run(learning360().with_resources("courses"))
    assert len(server.calls("/api/v1/courses/c1")) == 1


def test_unsupported_api_version_is_a_clear_error(configure) -> None:
    configure(api_version="v3")
    with pytest.raises(
        ConfigurationError,
        match="api_version .v3. is not supported.*sources.learning360.api_version",
    ):
        learning360()


def test_unknown_auth_method_names_the_key(configure) -> None:
    configure(credentials__auth_method="kerberos")
    with pytest.raises(Exception, match="sources.learning360.credentials.auth_method"):
        learning360()
