"""Issue 14.7: a course's author is stored by id, so an author who changes their mail shows the
new one in the models after an incremental sync, though no course is re-read (v1 and v2)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from emulator import Company
from pipelines.run import run_sync
from tests.source_v2.truth import v2_view
from tests.warehouse import assert_models_equal_expected, read_table

# the emulator fixture is requested by name (getfixturevalue)
pytestmark = pytest.mark.integration

NEW_MAIL = "renamed.author@example.org"


def _view(api_version: str, truth: dict[str, Any]) -> dict[str, Any]:
    return v2_view(truth) if api_version == "v2" else truth


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_course_author_mail_follows_the_user(
    api_version: str, request: pytest.FixtureRequest, new_pipeline, company: Company
) -> None:
    request.getfixturevalue(f"configure_{api_version}")()
    pipeline = new_pipeline(f"learning360_{api_version}")
    run_sync(pipeline)

    # the author of the most courses this API serves changes their mail; no course changes
    before = _view(api_version, company.truth())
    author_id, count = Counter(c["author_id"] for c in before["courses"]).most_common(1)[0]
    old_mail = company.users[author_id].mail
    assert count >= 2 and old_mail != NEW_MAIL
    company.change_mail(author_id, NEW_MAIL)
    after = _view(api_version, company.truth())
    assert [c["modification_date"] for c in after["courses"]] == [
        c["modification_date"] for c in before["courses"]
    ]

    second = run_sync(pipeline)
    assert second.rows_per_table.get("courses", 0) == 0  # incremental: no course re-read

    # the raw tables: courses keep the author's id, users has the new mail
    authored = {c["_id"] for c in after["courses"] if c["author_id"] == author_id}
    courses = read_table(pipeline, "courses")
    assert {c["_id"] for c in courses if c["author_id"] == author_id} == authored
    users = {u["_id"]: u["mail"] for u in read_table(pipeline, "users")}
    assert users[author_id] == NEW_MAIL
    if api_version == "v2":
        assert all(c["author"] is None for c in courses)  # no mail copied from users
    else:
        # v1 sends the mail itself: the raw column keeps what the course said when read
        assert {c["author"] for c in courses if c["_id"] in authored} == {old_mail}

    # the model reads the author's current mail through users
    stats = {r["course_id"]: r for r in read_table(pipeline, "course_stats")}
    assert {stats[course]["author_mail"] for course in authored} == {NEW_MAIL}
    assert old_mail not in {r["author_mail"] for r in stats.values()}
    assert_models_equal_expected(pipeline, after)
