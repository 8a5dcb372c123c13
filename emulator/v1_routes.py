"""The v1 routes: the company rendered in the shapes of the reference (§5, and §12 where the
docs are silent). Variant mode swaps in, for a stable share of records, the §12 shapes a real
tenant may send instead; the truth does not change."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

from .clock import iso, parse_iso
from .company import Company
from .model import Attempt, Course, Enrolment, Path, PathSession, ProgramSession, User
from .responses import (
    Refused,
    Reply,
    T,
    error_reply,
    found,
    json_reply,
    stream_array,
    stream_reply,
)

Query = dict[str, list[str]]
Handler = Callable[[dict[str, str], Query], Reply]
VARIANT_SHARE = 30  # percent of records rendered in a variant shape, in variant mode


class BadParameter(Exception):
    pass


def _q(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _date(query: Query, name: str) -> int | None:
    raw = _q(query, name)
    if raw is None or raw == "":
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise BadParameter(name) from None


def _window(query: Query, after: str, before: str) -> tuple[int | None, int | None]:
    return _date(query, after), _date(query, before)


def _inside(value: int | None, window: tuple[int | None, int | None]) -> bool:
    """Strictly after / strictly before; a missing value never matches an active bound."""
    lo, hi = window
    if lo is None and hi is None:
        return True
    if value is None:
        return False
    return (lo is None or value > lo) and (hi is None or value < hi)


def _route_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^/api/v1{pattern}/?$")


def _metric_name(template: str) -> str:
    return re.sub(r"\{\w+\}", "{id}", template, count=1)


class V1Routes:
    def __init__(self, company: Company, variants: bool = False) -> None:
        self.company = company
        self.variants = variants
        seed = company.company_id
        self.custom_field_ids = {
            name: hashlib.md5(f"{seed}:{name}".encode()).hexdigest()[:24]
            for name in ("Department", "Location")
        }
        # route template -> handler; `{name}` segments become named groups, and the metric
        # name calls the first one `{id}` ("GET /api/v1/users/{id}/courses")
        table: list[tuple[str, Handler]] = [
            ("/courses", self.get_courses),
            ("/courses/stats", self.get_courses_stats),
            ("/courses/{course}", self.get_course),
            ("/courses/{course}/stats", self.get_course_stats),
            ("/courses/{course}/stats/{user}", self.get_user_course_stats),
            ("/users", self.get_users),
            ("/users/{user}", self.get_user),
            ("/users/{user}/courses", self.get_user_courses),
            ("/users/{user}/programs", self.get_user_programs),
            ("/users/{user}/roles", self.get_user_roles),
            ("/groups", self.get_groups),
            ("/groups/{group}", self.get_group),
            ("/groups/{group}/catalog", self.get_group_catalog),
            ("/groups/{group}/programs", self.get_group_programs),
            ("/programs", self.redirect_programs),
            ("/programs/sessions", self.get_program_sessions),
            ("/programs/sessions/{session}", self.get_program_session),
            ("/programs/sessions/{session}/users", self.get_program_session_users),
            ("/programs/sessions/{session}/stats", self.get_program_session_stats),
            ("/paths", self.get_paths),
            ("/paths/sessions", self.get_path_sessions),
            ("/paths/sessions/{session}", self.get_path_session),
            ("/paths/sessions/{session}/stats/users", self.get_path_session_users_stats),
            ("/paths/sessions/{session}/stats/{user}", self.get_path_session_user_stats),
            ("/paths/{path}", self.get_path),
            ("/paths/{path}/users", self.get_path_users),
            ("/paths/{user}/getPaths", self.get_user_paths),
        ]
        self.routes = [
            (_route_regex(template), f"GET /api/v1{_metric_name(template)}", handler)
            for template, handler in table
        ]

    # ------------------------------------------------------------------ dispatch
    def match(self, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        for rx, name, handler in self.routes:
            m = rx.match(path)
            if m:
                return name, handler, m.groupdict()
        return None

    def call(self, handler: Handler, params: dict[str, str], query: Query) -> Reply:
        try:
            return handler(params, query)
        except BadParameter as exc:
            return error_reply(400, "invalid_parameter", parameter=str(exc))
        except Refused as exc:
            return exc.reply

    # ------------------------------------------------------------------ helpers
    def _variant(self, salt: str, key: str) -> int:
        """0 = the assumed shape; 1 or 2 = a §12 variant, stable per record."""
        if not self.variants:
            return 0
        h = zlib.crc32(f"{salt}:{key}".encode())
        return 0 if h % 100 >= VARIANT_SHARE else 1 + (h >> 8) % 2

    def _user_not_found(self) -> Reply:
        return error_reply(404 if self.variants else 400, "user_not_found")

    @staticmethod
    def _found(item: T | None, error: str) -> T:
        """The record a route looked up by id, or a 404 with that error code."""
        return found(item, partial(error_reply, 404, error))

    def _find_user(self, p: dict[str, str]) -> User:
        """The user `{user}` names, by id or mail."""
        return found(self.company.find_user(p["user"]), self._user_not_found)

    def _attempt(self, a: Attempt, nulls: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"_id": a.id, "progress": a.progress}
        if a.score is not None or nulls:
            d["score"] = a.score
        if a.completed_at is not None or nulls:
            d["completedAt"] = iso(a.completed_at)
        d["firstActivity"] = iso(a.first_activity)
        d["lastActivity"] = iso(a.last_activity)
        if a.path is not None:
            d["path"] = a.path
            d["pathSession"] = a.path_session
        d["globalTime"] = a.global_time
        return d

    def _stats_filter(self, q: Query) -> Callable[[Attempt], bool] | None:
        first = _window(q, "firstActivityAtAfter", "firstActivityAtBefore")
        last = _window(q, "lastActivityAtAfter", "lastActivityAtBefore")
        created = _window(q, "createdAtAfter", "createdAtBefore")
        if first == last == created == (None, None):
            return None
        return lambda a: (
            _inside(a.first_activity, first)
            and _inside(a.last_activity, last)
            and _inside(a.first_activity, created)  # an attempt is created when first played
        )

    def _user_ref(self, user_id: str) -> dict[str, Any]:
        return {"_id": user_id, "mail": self.company.users[user_id].mail}

    @staticmethod
    def _person(u: User) -> dict[str, Any]:
        return {"_id": u.id, "mail": u.mail, "firstName": u.first_name, "lastName": u.last_name}

    # ------------------------------------------------------------------ courses
    def _course_summary(self, c: Course) -> dict[str, Any]:
        return {
            "_id": c.id,
            "name": c.name,
            "author": c.author_mail,
            "description": c.description,
            "status": c.status,
            "skills": list(c.skills),
            "creationDate": iso(c.creation),
            "defaultLang": c.lang,
            "modificationDate": iso(c.modification),
        }

    def get_courses(self, p: dict[str, str], q: Query) -> Reply:
        created = _window(q, "createdAfter", "createdBefore")
        modified = _window(q, "modifiedAfter", "modifiedBefore")
        company = self.company
        with company.lock:
            items = list(company.courses.values())

        def render(c: Course) -> dict[str, Any] | None:
            if _inside(c.creation, created) and _inside(c.modification, modified):
                return self._course_summary(c)
            return None

        return stream_reply(stream_array(company.lock, items, render))

    def get_course(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            c = self._found(company.courses.get(p["course"]), "course_not_found")
            group = company.groups.get(c.group_id)
            return json_reply(
                {
                    "_id": c.id,
                    "author": c.author_mail,
                    "creationDate": iso(c.creation),
                    "description": c.description,
                    "modificationDate": iso(c.modification),
                    "name": c.name,
                    "status": c.status,
                    "group": c.group_id,
                    "lang": c.lang,
                    "defaultLang": c.lang,
                    "coAuthors": list(c.co_authors),
                    "courseDuration": c.duration,
                    "skills": list(c.skills),
                    "translationsLangs": [
                        {"lang": lang, "published": pub, "translators": list(tr)}
                        for lang, pub, tr in c.translations
                    ],
                    "groupName": group.name if group else None,
                }
            )

    def get_courses_stats(self, p: dict[str, str], q: Query) -> Reply:
        keep = self._stats_filter(q)
        company = self.company
        with company.lock:
            items = list(company.courses.values())

        def render(c: Course) -> dict[str, Any] | None:
            stats = self._course_user_stats(c.id, keep)
            return {"course": {"_id": c.id, "name": c.name}, "stats": stats} if stats else None

        return stream_reply(stream_array(company.lock, items, render, batch=20))

    def _course_user_stats(
        self, course_id: str, keep: Callable[[Attempt], bool] | None
    ) -> list[dict[str, Any]]:
        out = []
        for user_id, attempts in self.company.attempts_by_course.get(course_id, {}).items():
            shown = [self._attempt(a) for a in attempts if keep is None or keep(a)]
            if shown:
                out.append({"attempts": shown, "user": self._user_ref(user_id)})
        return out

    def get_course_stats(self, p: dict[str, str], q: Query) -> Reply:
        keep = self._stats_filter(q)
        company = self.company
        with company.lock:
            self._found(company.courses.get(p["course"]), "course_not_found")
            users = list(company.attempts_by_course.get(p["course"], {}))

        def render(user_id: str) -> dict[str, Any] | None:
            attempts = company.attempts_by_course[p["course"]][user_id]
            shown = [self._attempt(a) for a in attempts if keep is None or keep(a)]
            return {"attempts": shown, "user": self._user_ref(user_id)} if shown else None

        return stream_reply(stream_array(company.lock, users, render))

    def get_user_course_stats(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            self._found(company.courses.get(p["course"]), "course_not_found")
            user = self._find_user(p)
            attempts = company.attempts_by_course.get(p["course"], {}).get(user.id, [])
            return json_reply(
                {"attempts": [self._attempt(a) for a in attempts], "user": self._user_ref(user.id)}
            )

    # ------------------------------------------------------------------ users
    def get_users(self, p: dict[str, str], q: Query) -> Reply:
        with_deleted = (_q(q, "deleted") or "").lower() in ("true", "1")
        company = self.company
        with company.lock:
            items = list(company.users.values())

        def render(u: User) -> dict[str, Any] | None:
            if (u.deleted and not with_deleted) or u.hard_deleted:
                return None
            d = {
                "_id": u.id,
                "mail": u.mail,
                "firstName": u.first_name,
                "lastName": u.last_name,
                "custom": u.custom,
                "primaryGroupId": u.primary_group_id,
            }
            if with_deleted:
                d["deleted"] = u.deleted
            return d

        return stream_reply(stream_array(company.lock, items, render))

    def get_user(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            u = company.find_user(p["user"])
            if u is None or u.hard_deleted:
                return self._user_not_found()
            programs = company.user_program_ids(u.id)
            attempts = [a for lst in company.attempts_by_user.get(u.id, {}).values() for a in lst]
            scores = [a.score for a in attempts if a.score is not None]
            kind = self._variant("user.groups", u.id)
            memberships = company.memberships.get(u.id, {})
            if kind == 1:
                groups: list[Any] = list(memberships)
            elif kind == 2:
                groups = [
                    {"_id": g, "name": company.groups[g].name, "roles": [role]}
                    for g, role in memberships.items()
                ]
            else:
                groups = [{"_id": g, "name": company.groups[g].name} for g in memberships]
            d: dict[str, Any] = {
                "_id": u.id,
                "mail": u.mail,
                "firstName": u.first_name,
                "lastName": u.last_name,
                "assignedPrograms": len(programs),
                "primaryGroupId": u.primary_group_id,
                "averageScore": round(sum(scores) / len(scores)) if scores else None,
                "certifications": [],
                "customFields": [
                    {
                        "customFieldId": self.custom_field_ids["Department"],
                        "value": u.department,
                        "name": "Department",
                    },
                    {
                        "customFieldId": self.custom_field_ids["Location"],
                        "value": u.location,
                        "name": "Location",
                    },
                ],
                "championAchievements": {
                    "coursesCreated": [],
                    "repliesOnOwnActivitiesGiven": [],
                    "positiveReactionsOnOwnContent": [],
                },
                "comments": 0,
                "completedPrograms": sum(
                    1 for s in programs if company.progress_of(u.id, s).progress == 100
                ),
                "custom": u.custom,
                "managers": [u.manager_id] if u.manager_id else [],
                "subordinates": [
                    s for s in company.subordinates.get(u.id, []) if not company.users[s].deleted
                ],
                "groups": groups,
                "imageUrl": "",
                "lastLoginAt": iso(u.last_login_at),
                "championStatus": "potentialChampion" if len(scores) > 5 else "none",
                "learnerAchievements": {
                    "reactionsGiven": [],
                    "repliesGiven": [],
                    "coursesPlayed": list(company.attempts_by_user.get(u.id, {})),
                },
                "messages": 0,
                "publications": 0,
                "reactions": 0,
                "skills": [],
                "toDeactivateAt": "",
                "paths": list(
                    dict.fromkeys(
                        e.path_id for e in company.enrolments_by_user.get(u.id, {}).values()
                    )
                ),
                "totalTimeSpentInMinutes": int(sum(a.global_time for a in attempts) // 60_000),
                "externalIds": {},
                "labels": [],
            }
            if u.deleted:
                d["deleted"] = True
            return json_reply(d)

    def get_user_courses(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            u = self._find_user(p)
            courses = list(company.attempts_by_user.get(u.id, {}))

        def render(course_id: str) -> dict[str, Any]:
            kind = self._variant("user.courses", f"{u.id}:{course_id}")
            attempts = [
                self._attempt(a, nulls=kind != 0) for a in company.attempts_by_user[u.id][course_id]
            ]
            course = company.courses[course_id]
            if kind == 1:
                return {"course": course_id, "attempts": attempts}
            if kind == 2:
                return {"courseId": course_id, "attempts": attempts}
            return {"course": {"_id": course_id, "name": course.name}, "attempts": attempts}

        return stream_reply(stream_array(company.lock, courses, render))

    def get_user_programs(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            u = self._find_user(p)
            out = []
            for session_id in company.user_program_ids(u.id):
                s = company.program_sessions[session_id]
                pr = company.progress_of(u.id, session_id)
                kind = self._variant("user.programs", f"{u.id}:{session_id}")
                stats: dict[str, Any] = {
                    "progress": pr.progress,
                    "totalTimeSpentInSeconds": pr.time_s,
                }
                if pr.score is not None or kind:
                    stats["score"] = pr.score
                if pr.completed_at is not None or kind:
                    stats["completedAt"] = iso(pr.completed_at)
                d: dict[str, Any] = {
                    "sessionId" if kind == 2 else "_id": s.id,
                    "name": s.name,
                    "startDate": iso(s.start),
                    "endDate": iso(s.end),
                    "programTemplate": s.template_id,
                }
                if kind == 1:
                    d.update(stats)
                else:
                    d["stats"] = stats
                out.append(d)
            return json_reply(out)

    def get_user_roles(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            u = self._find_user(p)
            return json_reply(
                [
                    {"group": g, "roles": [role]}
                    for g, role in company.memberships.get(u.id, {}).items()
                ]
            )

    def get_user_paths(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            u = self._find_user(p)
            out = []
            for e in company.enrolments_by_user.get(u.id, {}).values():
                nulls = self._variant("user.paths", f"{u.id}:{e.session_id}") != 0
                stats = self._enrolment_stats(e, nulls)
                out.append(
                    {
                        "pathId": e.path_id,
                        "pathName": company.paths[e.path_id].name,
                        "sessionId": e.session_id,
                        "sessionName": company.path_sessions[e.session_id].name,
                        "stats": stats,
                    }
                )
            return json_reply(out)

    # ------------------------------------------------------------------ groups
    def _group(self, g_id: str) -> dict[str, Any]:
        g = self.company.groups[g_id]
        d: dict[str, Any] = {"_id": g.id, "name": g.name}
        if g.parent is not None:
            d["parent"] = g.parent  # the root group has no parent key at all
        d["public"] = g.public
        d["custom"] = g.custom
        return d

    def get_groups(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            items = list(company.groups)
        return stream_reply(stream_array(company.lock, items, self._group))

    def get_group(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            self._found(company.groups.get(p["group"]), "group_not_found")
            d = self._group(p["group"])
            as_objects = self._variant("group.members", p["group"]) != 0
            lists: dict[str, list[Any]] = {"admins": [], "authors": [], "coaches": [], "users": []}
            key = {"admin": "admins", "author": "authors", "coach": "coaches", "learner": "users"}
            for user_id, role in company.members.get(p["group"], {}).items():
                ref: Any = self._user_ref(user_id) if as_objects else user_id
                lists[key[role]].append(ref)
            d.update(lists)
            return json_reply(d)

    def get_group_catalog(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            entry = self._found(company.catalog.get(p["group"]), "group_not_found")
            kind = self._variant("group.catalog", p["group"])

            def elems(ids: list[str], names: dict[str, Any]) -> list[Any]:
                if kind == 1:
                    return list(ids)
                return [{"_id": i, "name": names[i].name} for i in ids]

            paths: list[Any]
            if kind == 2:
                # a tenant listing path sessions under `paths` (reference §12)
                paths = []
                for path_id in entry["path"]:
                    sessions = company.paths[path_id].session_ids
                    if sessions:
                        paths.extend(
                            {"_id": s, "name": company.path_sessions[s].name} for s in sessions
                        )
                    else:
                        paths.append({"_id": path_id, "name": company.paths[path_id].name})
            else:
                paths = elems(list(entry["path"]), company.paths)
            d = {
                "courses": elems(list(entry["course"]), company.courses),
                "paths": paths,
                "programs": elems(list(entry["program_session"]), company.program_sessions),
            }
            if kind == 2:
                d = {k: v for k, v in d.items() if v}
            return json_reply(d)

    def get_group_programs(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            self._found(company.groups.get(p["group"]), "group_not_found")
            out = []
            for session_id in company.group_programs.get(p["group"], {}):
                s = company.program_sessions[session_id]
                out.append(
                    {
                        "_id": s.id,
                        "author": s.author_mail,
                        "description": s.description,
                        "endDate": iso(s.end),
                        "hasUserLimit": s.user_limit is not None,
                        "name": s.name,
                        "programDuration": s.duration_hours,
                        "programDurationType": "hour",
                        "programTemplate": s.template_id,
                        "skills": [],
                        "startDate": iso(s.start),
                        "tutors": list(s.tutors),
                        "sessionCustom": "",
                        "templateCustom": "",
                        "validateRegistrations": False,
                    }
                )
            return json_reply(out)

    # ------------------------------------------------------------------ program sessions
    def redirect_programs(self, p: dict[str, str], q: Query) -> Reply:
        raise AssertionError("handled by the server (301 keeps the query string)")

    def _program_session(self, s: ProgramSession) -> dict[str, Any]:
        company = self.company
        d: dict[str, Any] = {
            "_id": s.id,
            "name": s.name,
            "author": s.author_mail,
            "description": s.description,
            "programTemplate": s.template_id,
            "tutors": list(s.tutors),
            "lang": s.lang,
            "customFields": [],
            "modifiedAt": iso(s.modified_at),
            "automatedReminders": False,
            "requirements": {"courses": [], "programs": [], "paths": []},
            "startDate": iso(s.start),
            "endDate": iso(s.end),
            "programDuration": s.duration_hours,
            "programDurationType": "hour",
            "templateCustom": "",
            "sessionCustom": "",
            "modules": [{"_id": m, "type": t} for m, t in s.modules],
            "hasUserLimit": s.user_limit is not None,
            "userLimit": s.user_limit,
            "groups": list(company.program_groups.get(s.id, {})),
            "users": [self._user_ref(u) for u in s.users],
        }
        return d

    def get_program_sessions(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            items = list(company.program_sessions.values())
        return stream_reply(stream_array(company.lock, items, self._program_session, batch=20))

    def get_program_session(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            s = self._found(company.program_sessions.get(p["session"]), "program_session_not_found")
            return json_reply(self._program_session(s))

    def get_program_session_users(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            self._found(company.program_sessions.get(p["session"]), "program_session_not_found")
            return json_reply(
                [self._person(company.users[u]) for u in company.program_user_ids(p["session"])]
            )

    def get_program_session_stats(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            s = self._found(company.program_sessions.get(p["session"]), "program_session_not_found")
            rows = []
            for user_id in company.program_user_ids(s.id):
                u = company.users[user_id]
                pr = company.progress_of(user_id, s.id)
                rows.append(
                    {
                        "_id": u.id,
                        "firstName": u.first_name,
                        "lastName": u.last_name,
                        "mail": u.mail,
                        "deleted": u.deleted,
                        "progress": pr.progress,
                        "score": pr.score,
                        "totalTimeSpentInSeconds": pr.time_s,
                        "startTime": iso(pr.started_at),
                        "endTime": iso(pr.completed_at),
                    }
                )
            return json_reply(
                {
                    "_id": s.id,
                    "name": s.name,
                    "completed": sum(1 for r in rows if r["progress"] == 100),
                    "registered": len(rows),
                    "attendees": sum(1 for r in rows if r["progress"] > 0),
                    "usersStats": rows,
                }
            )

    # ------------------------------------------------------------------ paths
    def _path(self, path: Path) -> dict[str, Any]:
        return {
            "_id": path.id,
            "authorId": path.author_id,
            "description": path.description,
            "certificatePDF": f"Certificate – {path.name}",
            "createdAt": iso(path.created_at),
            "defaultLang": path.lang,
            "groupId": path.group_id,
            "modifiedAt": iso(path.modified_at),
            "name": path.name,
            "sessionIds": list(path.session_ids),
            "sourceLang": path.lang,
            "steps": [{"_id": i, "title": title, "type": t} for i, t, title in path.steps],
            "translationsLangs": [],
        }

    def get_paths(self, p: dict[str, str], q: Query) -> Reply:
        modified_after = _date(q, "modifiedAfter")
        company = self.company
        with company.lock:
            items = list(company.paths.values())

        def render(path: Path) -> dict[str, Any] | None:
            if modified_after is not None and not path.modified_at > modified_after:
                return None
            return self._path(path)

        return stream_reply(stream_array(company.lock, items, render, batch=50))

    def get_path(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            path = self._found(company.paths.get(p["path"]), "path_not_found")
            return json_reply(self._path(path))

    def get_path_users(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            path = self._found(company.paths.get(p["path"]), "path_not_found")
            users: dict[str, None] = {}
            for session_id in path.session_ids:
                users.update(dict.fromkeys(company.enrolments.get(session_id, {})))
            return json_reply(
                [self._person(company.users[u]) for u in users if not company.users[u].deleted]
            )

    def _path_session(self, s: PathSession) -> dict[str, Any]:
        kind = self._variant("path.session", s.id)
        d: dict[str, Any] = {
            "_id": s.id,
            "pathId": s.path_id,
            "name": s.name,
            "groupId": s.group_id,
            "instructorIds": list(s.instructor_ids),
            "startDate": iso(s.start),
            "endDate": iso(s.end),
            "createdAt": iso(s.created_at),
            "modifiedAt": iso(s.modified_at),
        }
        if kind == 1:  # extra fields, as v2's PathSessionDTO has
            d["mainInstructorId"] = s.instructor_ids[0] if s.instructor_ids else None
            d["isAudienceBuilder"] = False
            d["registrationRequestValidation"] = "disabled"
        elif kind == 2:  # optional fields missing
            del d["instructorIds"]
            if s.end is None:
                del d["endDate"]
        return d

    def get_path_sessions(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            items = list(company.path_sessions.values())
        return stream_reply(stream_array(company.lock, items, self._path_session))

    def get_path_session(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            s = self._found(company.path_sessions.get(p["session"]), "path_session_not_found")
            d = self._path_session(s)
            path = company.paths[s.path_id]
            d["pathName"] = path.name
            d["path"] = {"_id": path.id, "name": path.name, "steps": self._path(path)["steps"]}
            d["skills"] = []
            d["enrollments"] = [
                {"userId": e.user_id, "enrolledAt": iso(e.enrolled_at)}
                for e in company.enrolments.get(s.id, {}).values()
            ]
            return json_reply(d)

    def _status(self, e: Enrolment) -> str:
        if e.progress == 100:
            return "successful"
        s = self.company.path_sessions[e.session_id]
        if s.start > self.company.now:
            return "sessionNotOpened"
        if s.end is not None and s.end < self.company.now:
            return "late"
        return "onTime" if e.started_at is not None else "notYetStarted"

    def _enrolment_stats(self, e: Enrolment, nulls: bool) -> dict[str, Any]:
        detailed = self._status(e)
        d: dict[str, Any] = {"progress": e.progress, "globalTime": round(e.time_s * 1000)}
        if e.score is not None or nulls:
            d["score"] = e.score
        d["status"] = (
            "completed" if e.progress == 100 else ("late" if detailed == "late" else "onTime")
        )
        if e.completed_at is not None or nulls:
            d["completedAt"] = iso(e.completed_at)
        d["detailedStatus"] = {"type": detailed}
        return d

    def get_path_session_users_stats(self, p: dict[str, str], q: Query) -> Reply:
        window = _window(q, "completedAfter", "completedBefore")
        company = self.company
        with company.lock:
            s = self._found(company.path_sessions.get(p["session"]), "path_session_not_found")
            path = company.paths[s.path_id]
            rows = []
            for e in company.enrolments.get(s.id, {}).values():
                if not _inside(e.completed_at, window):
                    continue
                u = company.users[e.user_id]
                rows.append(
                    {
                        "_id": u.id,
                        "deleted": u.deleted,
                        "firstName": u.first_name,
                        "lastName": u.last_name,
                        "mail": u.mail,
                        "totalTimeSpentInSeconds": e.time_s,
                        "progress": e.progress,
                        "score": e.score,
                        "completedAt": iso(e.completed_at),
                        "detailedStatus": {"type": self._status(e)},
                    }
                )
            return json_reply(
                {
                    "sessionId": s.id,
                    "sessionName": s.name,
                    "pathName": path.name,
                    "pathId": path.id,
                    "usersStats": rows,
                }
            )

    def get_path_session_user_stats(self, p: dict[str, str], q: Query) -> Reply:
        company = self.company
        with company.lock:
            self._found(company.path_sessions.get(p["session"]), "path_session_not_found")
            u = self._found(company.find_user(p["user"]), "user_not_found")
            e = self._found(company.enrolments.get(p["session"], {}).get(u.id), "user_not_enrolled")
            return json_reply(self._enrolment_stats(e, nulls=True))
