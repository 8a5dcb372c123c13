"""Paths, their sessions, enrolments and stats."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import v2_data as d2
from ..clock import iso
from ..model import Enrolment, Path, PathSession
from ..responses import Refused, Reply, json_reply
from ..v2_auth import v2_error
from .core import DATE, IDS, Ctx, F, Getters, Render, V2Core, routes


class Paths(V2Core):
    def _path(self, p: Path) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        for step_id, kind, _title in p.steps:
            if kind == "course":
                options: dict[str, Any] = {
                    "optional": False,
                    "showCorrection": "onAnswer",
                    "showForum": "onAnswer",
                }
            else:  # classroom
                options = {
                    "optional": False,
                    "autoRegistration": True,
                    "selfRegistration": {"enabled": False},
                }
            steps.append({"_id": step_id, "type": kind, "options": options})
        return {
            "_id": p.id,
            "name": p.name,
            "description": p.description,
            "authorId": p.author_id,
            "coAuthorIds": [],
            "groupId": p.group_id,
            "createdAt": iso(p.created_at),
            "modifiedAt": iso(p.modified_at),
            "defaultLang": p.lang,
            "sourceLang": p.lang,
            "status": "published",
            "options": {
                "linearProgression": False,
                "mandatoryReplay": False,
                "displayForum": True,
                "displayClassroomMessages": True,
                "automatedReminders": False,
                "notificationOnStepCreation": False,
            },
            "steps": steps,
            "translations": [],
            "certificateId": d2.outline_id(self.company, p),
        }

    def get_paths(self, ctx: Ctx) -> Reply:
        getters: Getters = {
            "createdAt": "created_at",
            "modifiedAt": "modified_at",
            "status": lambda p: "published",
        }
        with self.company.lock:
            return self._listing(ctx, "paths", self.company.paths, self._path, getters)

    def get_path(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            return json_reply(self._path(self.lookup(ctx, "pathId", self.company.paths)))

    @staticmethod
    def _session(s: PathSession, translations: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": s.id,
            "pathId": s.path_id,
            "name": s.name,
            "groupId": s.group_id,
            "mainInstructorId": s.instructor_ids[0] if s.instructor_ids else None,
            "instructorIds": list(s.instructor_ids),
            "startDate": iso(s.start),
        }
        if s.end is not None:
            d["endDate"] = iso(s.end)
        d.update(
            {
                "createdAt": iso(s.created_at),
                "modifiedAt": iso(s.modified_at),
                "isAudienceBuilder": False,
                "registrationRequestValidation": "disabled",
            }
        )
        if translations:
            d["translations"] = []
        return d

    _SESSION_GETTERS: Getters = {
        "createdAt": "created_at",
        "modifiedAt": "modified_at",
        "startDate": "start",
        "endDate": "end",
        "sessionId": "id",
        "pathId": "path_id",
    }

    def get_all_sessions(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            sessions = self.company.path_sessions
            return self._listing(
                ctx, "path_sessions", sessions, self._session, self._SESSION_GETTERS
            )

    def get_path_sessions(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            p = self.lookup(ctx, "pathId", company.paths)
            sessions = [company.path_sessions[i] for i in p.session_ids]
            render = lambda s: self._session(s, translations=True)  # noqa: E731
            return self._all(ctx, sessions, render, self._SESSION_GETTERS)

    def _path_session(self, ctx: Ctx) -> PathSession:
        """The session of `/paths/{pathId}/sessions/{sessionId}...`: 404s, or 400 if another
        path's."""
        p = self.lookup(ctx, "pathId", self.company.paths)
        s = self.lookup(ctx, "sessionId", self.company.path_sessions)
        if s.path_id != p.id:
            raise Refused(
                v2_error(400, "sessionNotBelongToPath", "The session does not belong to this path.")
            )
        return s

    def get_path_session(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            s = self._path_session(ctx)
            return json_reply(self._session(s, translations=True))

    def _enrolment(self, e: Enrolment) -> dict[str, Any]:
        return {
            "_id": d2.enrolment_id(self.company, e),
            "userId": e.user_id,
            "sessionId": e.session_id,
            "status": "published",
            "isSelfEnrolled": False,
            "createdAt": iso(e.enrolled_at),
            "modifiedAt": iso(e.enrolled_at),
        }

    def _enrolments(
        self, ctx: Ctx, enrolments: Iterable[Enrolment], render: Render, getters: Getters
    ) -> Reply:
        """Enrolments, or their stats, paged by their derived `_id`."""
        key = lambda e: d2.enrolment_id(self.company, e)  # noqa: E731
        return self._all(ctx, enrolments, render, getters, key=key)

    def get_enrollments(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: Getters = {
            "status": lambda e: "published",
            "createdAt": "enrolled_at",
            "modifiedAt": "enrolled_at",
            "sessionId": "session_id",
        }
        with company.lock:
            p = self.lookup(ctx, "pathId", company.paths)
            rows = (e for s in p.session_ids for e in company.enrolments.get(s, {}).values())
            return self._enrolments(ctx, rows, self._enrolment, getters)

    def _user_stat(self, e: Enrolment, with_ids: bool) -> dict[str, Any]:
        company = self.company
        d: dict[str, Any] = {"_id": d2.enrolment_id(company, e), "userId": e.user_id}
        if with_ids:
            d["pathId"] = e.path_id
            d["sessionId"] = e.session_id
        d["progress"] = e.progress
        if e.score is not None:
            d["score"] = e.score
        d["timeSpent"] = round(e.time_s * 1000)
        d["status"] = {"type": d2.enrolment_status(company, e)}
        d["enrolledAt"] = iso(e.enrolled_at)
        if e.started_at is not None:
            d["startedAt"] = iso(e.started_at)
        if e.completed_at is not None:
            d["completedAt"] = iso(e.completed_at)
        end = company.path_sessions[e.session_id].end
        if end is not None:
            d["dueDate"] = iso(end)
        cert = d2.certificate_of(company, e)
        if cert is not None:
            d["certificateId"] = cert.id
        d["selfEnrolled"] = False
        return d

    _STAT_GETTERS: Getters = {
        "status": lambda e: "published",
        "completedAt": "completed_at",
        "pathId": "path_id",
        "userId": "user_id",
    }

    def _stats(self, ctx: Ctx, enrolments: Iterable[Enrolment], with_ids: bool) -> Reply:
        render = lambda e: self._user_stat(e, with_ids)  # noqa: E731
        return self._enrolments(ctx, enrolments, render, self._STAT_GETTERS)

    def get_path_stats(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            return self._stats(ctx, d2.all_enrolments(self.company), with_ids=True)

    def get_session_user_stats(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            s = self._path_session(ctx)
            return self._stats(ctx, company.enrolments.get(s.id, {}).values(), with_ids=False)

    def get_session_user_statuses(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            s = self._path_session(ctx)
            counts = dict.fromkeys(
                (
                    "awaitingCorrection",
                    "late",
                    "notYetStarted",
                    "onTime",
                    "sessionNotOpened",
                    "successful",
                    "toRetake",
                    "unsuccessful",
                ),
                0,
            )
            certificates = 0
            for e in company.enrolments.get(s.id, {}).values():
                counts[d2.enrolment_status(company, e)] += 1
                certificates += d2.certificate_of(company, e) is not None
            return json_reply({"certificates": certificates, "usersCountByStatus": counts})


_SESSION_DATES = {"createdAt": DATE, "modifiedAt": DATE, "startDate": DATE, "endDate": DATE}
_PUBLISHED = F("enum", ("eq",), ("archived", "published"))
ROUTES = routes(
    ("/paths", "paths:read", Paths.get_paths, {
        "createdAt": DATE, "modifiedAt": DATE, "status": _PUBLISHED,
    }),
    ("/paths/sessions", "paths:read", Paths.get_all_sessions, {
        **_SESSION_DATES, "sessionId": IDS, "pathId": IDS,
    }),
    ("/paths/stats", "pathStats:read", Paths.get_path_stats, {
        "status": _PUBLISHED, "completedAt": DATE, "pathId": IDS, "userId": IDS,
    }),
    ("/paths/{pathId}", "paths:read", Paths.get_path, {}),
    ("/paths/{pathId}/sessions", "paths:read", Paths.get_path_sessions, _SESSION_DATES),
    ("/paths/{pathId}/sessions/{sessionId}", "paths:read", Paths.get_path_session, {}),
    ("/paths/{pathId}/enrollments", "paths:read", Paths.get_enrollments, {
        "status": _PUBLISHED, "createdAt": DATE, "modifiedAt": DATE, "sessionId": IDS,
    }),
    ("/paths/{pathId}/sessions/{sessionId}/user-stats", "pathStats:read",
     Paths.get_session_user_stats, {"completedAt": DATE, "userId": IDS}),
    ("/paths/{pathId}/sessions/{sessionId}/user-statuses", "pathStats:read",
     Paths.get_session_user_statuses, {}),
)  # fmt: skip
