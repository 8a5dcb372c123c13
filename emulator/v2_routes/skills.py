"""Skills and skill powers (paged by user, then skill)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

from .. import v2_data as d2
from ..clock import iso
from ..responses import Reply
from .core import DATE, EQ_IN, Ctx, F, Getters, V2Core, routes


class Skills(V2Core):
    def get_skills(self, ctx: Ctx) -> Reply:
        getters: Getters = {"status": "status", "updatedAt": "updated_at"}

        def render(s: d2.Skill) -> dict[str, Any]:
            return {
                "_id": s.id,
                "name": s.name,
                "parents": [{"_id": s.library_id}],
                "status": s.status,
                "translations": [],
                "libraryId": s.library_id,
                "createdAt": iso(s.created_at),
                "updatedAt": iso(s.updated_at),
            }

        with self.company.lock:
            return self._all(ctx, d2.skills(self.company), render, getters)

    def get_powers(self, ctx: Ctx) -> Reply:
        getters: Getters = {"skillId": "skill_id", "userId": "user_id", "status": "status"}

        def render(p: d2.Power) -> dict[str, Any]:
            return {
                "_id": p.id,
                "skillId": p.skill_id,
                "userId": p.user_id,
                "createdAt": iso(p.created_at),
                "updatedAt": iso(p.updated_at),
                "status": p.status,
                "qualifiers": [],
            }

        company = self.company

        def pairs(after: str | None) -> Iterable[tuple[str, d2.Power]]:
            """Powers ordered by (user id, skill id), computed user by user from `after` on."""
            users, keys = self._sorted("users", len(company.users), company.users.values)
            start = bisect.bisect_left(keys, after[:24]) if after else 0
            for user in users[start:]:
                for p in d2.user_powers(company, user.id):
                    key = f"{p.user_id}:{p.skill_id}"
                    if after is None or key > after:
                        yield key, p

        with company.lock:
            return self._page_of(ctx, pairs(ctx.after), render, getters)


ROUTES = routes(
    ("/skills", "skills:read", Skills.get_skills, {
        "status": F("enum", EQ_IN, ("archived", "published")), "updatedAt": DATE,
    }),
    ("/skills/powers", "skillsPowers:read", Skills.get_powers, {
        "skillId": F("str", ("eq", "in")), "userId": F("id", ("eq", "in")),
        "status": F("enum", ("eq", "ne"), ("toAssess", "pendingValidation", "validated")),
    }),
)  # fmt: skip
