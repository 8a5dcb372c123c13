"""The data-fault modes issue 13's tests use (emulator/data_faults.py): whole bodies replaced,
null and non-object elements inserted, records removed, rules limited to one item's path, and
a hard-deleted user that the listing no longer returns while the truth says deleted."""

from __future__ import annotations

import json

import pytest

from emulator import Company
from emulator.data_faults import DataFaults
from emulator.responses import json_reply
from tests.conftest import SEED

USERS = "GET /api/v1/users"
USER = "GET /api/v1/users/{id}"


def _apply(faults: DataFaults, route: str, body: object, path: str = "") -> object:
    return json.loads(faults.apply(route, json_reply(body), path).body or b"null")


def test_body_insert_remove_and_ids() -> None:
    faults = DataFaults()
    faults.configure(
        [
            {"route": USER, "ids": ["u2"], "action": "body", "body": None},
            {"route": USERS, "action": "insert", "values": [None, 7], "position": 1},
            {"route": USERS, "action": "remove", "match": {"_id": "u3"}},
        ]
    )
    assert _apply(faults, USER, {"_id": "u1"}, "/api/v1/users/u1") == {"_id": "u1"}
    assert _apply(faults, USER, {"_id": "u2"}, "/api/v1/users/u2") is None  # 200 null
    listing = [{"_id": "u1"}, {"_id": "u2"}, {"_id": "u3"}]
    assert _apply(faults, USERS, listing, "/api/v1/users") == [
        {"_id": "u1"}, None, 7, {"_id": "u2"}
    ]  # fmt: skip
    assert faults.applied[USER] == 1


@pytest.mark.parametrize(
    "rule",
    [
        {"route": USERS, "action": "body"},
        {"route": USERS, "action": "insert", "values": None},
        {"route": USERS, "action": "set", "fields": {}, "ids": "u1"},
    ],
)
def test_incomplete_rules_are_refused(rule: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DataFaults().configure([rule])


@pytest.mark.integration
def test_a_hard_deleted_user_is_gone_from_the_listing_and_deleted_in_the_truth() -> None:
    from emulator import EmulatorServer
    from tests.emulator.emulator_client import Api

    company = Company.generate(seed=SEED, size="small")
    user_id = next(u["_id"] for u in company.truth()["users"] if not u["deleted"])
    company.hard_delete_user(user_id)
    assert next(u for u in company.truth()["users"] if u["_id"] == user_id)["deleted"] is True
    with EmulatorServer(company, port=0) as server:
        api = Api(server)
        listed = api.json("/users", deleted="true")
        assert listed and user_id not in {u["_id"] for u in listed}
        assert api.get(f"/users/{user_id}").status_code in (400, 404)
