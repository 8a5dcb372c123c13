"""The v2 routes (reference §1b, §3, §4, §6, §7; shapes from the Core API OpenAPI): the same
company v1 serves, rendered as v2 DTOs. Authentication, the version header and scopes are
checked before a handler runs (v2_auth.py); the rate limit too (server.py).

Pagination: every list is a bare JSON array, sorted by a stable key (the record's `_id`; the
group id for `/users/{id}/roles`, the user id for `/groups/{id}/roles`, the id itself for
catalog id lists, (userId, skillId) for `/skills/powers`) and cut into pages of the route's size (PAGE_SIZES, from the OpenAPI; a
server may force one size everywhere or per route). When another page exists the response has
`Link: <http://HOST/api/v2/...?next=TOKEN>; rel="next"` (absolute, built from the request's Host
header). TOKEN is opaque (base64url JSON + HMAC): it holds the route path, the filters of the
first request and the last key served, so the next page continues *after* that key (keyset
paging: while the company does not change, pages never skip or repeat a record; records added
meanwhile show up if their key sorts later). With `next`, other query parameters are ignored; a
tampered or foreign token → 400 `invalidNextToken`. No Link on the last page.

Filters: `field[op]=value` with the fields and ops each route's OpenAPI operation lists (see the
FILTERS tables below); anything else in the query → 400 `{"error":{"code":"invalidParameter",
"message"}}`, as is a value of the wrong form. Ops: `eq, ne, in, nin` (ids, strings, enums,
booleans `true|false`), `lt, gte` (dates). `in`/`nin` take a comma-separated list, and may be
repeated (`courseId[in]=a,b&courseId[in]=c` = a, b or c). Dates: `YYYY-MM-DDThh:mm:ss.sssZ` or
`YYYY-MM-DD` (UTC midnight); as the OpenAPI says, the milliseconds of a filter date are set to 0.
A record whose field is absent never matches `lt`/`gte`/`eq`/`in`, and always matches `ne`/`nin`.

Decisions where v1 and v2 differ (the company is one; only the rendering changes):
- Roles: admin → `admin`, author → `editor`, coach → `coach`, learner → `learner` (v2's enum
  also has analyst, contributor, owner, userAdmin, which this company never uses).
- Courses: v2's status enum has no `draft`; draft courses (never played, in no catalog, path or
  program) are not served by v2 (`/courses` skips them, `/courses/{id}` → 404) until published.
  Every course is `type: native`, `collaborativeLearning: false`; people are ids, not mails.
- Users: `/users` lists deleted users too (`status: deleted`, `deletedAt: [when]`); filter
  with `status[eq]=active`.
- Catalogs: v2 lists course ids and path-*session* ids. v1's catalog `paths` lists paths; v2's
  `path-session-ids` lists every session of each of those paths.
- Time: `timeSpent` is in milliseconds (v1 `globalTime` for attempts; v1 path stats'
  `totalTimeSpentInSeconds` × 1000).
- Path enrolments have a derived `_id` (v2_data.enrolment_id), shared by `/paths/{id}/
  enrollments` and the path stats; enrolments are never archived (status `published`).
Program sessions have no v2 route.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import v2_data as d2
from .clock import iso, parse_iso
from .company import Company
from .model import Attempt, Course, Enrolment, Group, Path, PathSession, User
from .responses import Reply, json_reply
from .v2_auth import v2_error

Query = dict[str, list[str]]
ROLE_NAMES = {"admin": "admin", "author": "editor", "coach": "coach", "learner": "learner"}

#: documented page sizes per route (OpenAPI descriptions); routes not listed are not paginated
PAGE_SIZES = {
    "/courses": 500,
    "/courses/stats": 500,
    "/users": 500,
    "/users/{userId}/roles": 1000,
    "/users/{userId}/certificates": 1000,
    "/groups": 500,
    "/groups/{groupId}/roles": 1000,
    "/groups/{groupId}/catalog/course-ids": 10000,
    "/groups/{groupId}/catalog/path-session-ids": 10000,
    "/paths": 200,
    "/paths/sessions": 500,
    "/paths/{pathId}/sessions": 100,
    "/paths/{pathId}/enrollments": 5000,
    "/paths/stats": 2000,
    "/paths/{pathId}/sessions/{sessionId}/user-stats": 2000,
    "/skills": 500,
    "/skills/powers": 500,
    "/custom-fields": 1000,
    "/classrooms": 500,
    "/classrooms/{classroomId}/slots": 100,
    "/classrooms/{classroomId}/registrations": 2000,
    "/classroom-slots/{classroomSlotId}/registrations": 2000,
}
_HEX24 = re.compile(r"^[0-9a-fA-F]{24}$")
_FILTER_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([a-z]+)\]$")
EQ_IN = ("eq", "ne", "in", "nin")
DATE_OPS = ("lt", "gte")
LIST_OPS = ("in", "nin")


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class F:
    """A filterable field: its kind (date | id | str | mail | enum | bool) and its ops."""

    kind: str
    ops: tuple[str, ...]
    enum: tuple[str, ...] = ()


DATE = F("date", DATE_OPS)
IDS = F("id", EQ_IN)
ID_EQ = F("id", ("eq",))


@dataclass(slots=True)
class Route:
    rx: re.Pattern[str]
    name: str  # the OpenAPI path under /api/v2, e.g. "/courses/{courseId}"
    scope: str
    handler: Callable[[Ctx], Reply]
    filters: dict[str, F] = field(default_factory=dict)


@dataclass(slots=True)
class Ctx:
    """One request: route, path parameters, parsed filters, and where paging resumes."""

    route: Route
    params: dict[str, str]
    path: str
    base: str
    raw: list[tuple[str, list[str]]]
    filters: list[tuple[str, str, Any]]
    after: str | None


def _test(value: Any, op: str, arg: Any) -> bool:
    if op == "lt":
        return value is not None and value < arg
    if op == "gte":
        return value is not None and value >= arg
    if isinstance(value, list | tuple):  # a multi-valued field: any element
        hit = (arg in value) if op in ("eq", "ne") else any(v in arg for v in value)
        return hit if op in ("eq", "in") else not hit
    if op == "eq":
        return value is not None and value == arg
    if op == "ne":
        return value != arg
    if op == "in":
        return value is not None and value in arg
    return value not in arg  # nin


class V2Routes:
    def __init__(
        self,
        company: Company,
        page_size: int | None = None,
        page_sizes: dict[str, int] | None = None,
    ) -> None:
        self.company = company
        self.page_size = page_size
        self.page_sizes = dict(page_sizes or {})
        unknown = set(self.page_sizes) - set(PAGE_SIZES)
        if unknown:
            raise ValueError(f"no paginated v2 route {sorted(unknown)}; known: {list(PAGE_SIZES)}")
        for size in [page_size, *self.page_sizes.values()]:
            if size is not None and int(size) < 1:
                raise ValueError("v2 page sizes must be >= 1")
        self._secret = secrets.token_bytes(16)
        self._cache: dict[str, tuple[Any, list[Any], list[str]]] = {}
        seg = "([^/]+)"
        lang = F("str", ("eq", "in"))
        table: list[tuple[str, str, str, Callable[[Ctx], Reply], dict[str, F]]] = [
            ("/courses", "/courses", "courses:read", self.get_courses, {
                "createdAt": DATE, "modifiedAt": DATE,
                "status": F("enum", ("eq",), ("archived", "deleted", "published")),
                "type": F("enum", ("eq",), ("elearning standard", "external", "native")),
                "authorId": ID_EQ, "groupId": ID_EQ, "originalAuthorId": ID_EQ,
                "tagIds": F("id", ("in",)), "coAuthorIds": F("id", ("in",)),
                "sourceLang": lang, "collaborativeLearning": F("bool", ("eq",)),
            }),
            ("/courses/stats", "/courses/stats", "courseStats:read", self.get_course_stats, {
                "completedAt": DATE, "courseId": IDS, "userId": IDS,
            }),
            (f"/courses/{seg}", "/courses/{courseId}", "courses:read", self.get_course, {}),
            ("/users", "/users", "users:read", self.get_users, {
                "mail": F("mail", EQ_IN), "username": F("str", EQ_IN),
                "status": F("enum", ("eq", "ne"), ("active", "invited", "deleted")),
            }),
            (f"/users/{seg}", "/users/{userId}", "users:read", self.get_user, {}),
            (f"/users/{seg}/roles", "/users/{userId}/roles", "users:read", self.get_user_roles, {}),
            (f"/users/{seg}/certificates", "/users/{userId}/certificates", "users:read",
             self.get_user_certificates, {"deliveryDate": DATE, "expirationDate": DATE}),
            (f"/users/{seg}/custom-fields/values", "/users/{userId}/custom-fields/values",
             "users:read", self.get_user_custom_values, {}),
            ("/groups", "/groups", "groups:read", self.get_groups, {}),
            (f"/groups/{seg}", "/groups/{groupId}", "groups:read", self.get_group, {}),
            (f"/groups/{seg}/roles", "/groups/{groupId}/roles", "groups:read",
             self.get_group_roles, {}),
            (f"/groups/{seg}/catalog/course-ids", "/groups/{groupId}/catalog/course-ids",
             "groups:read", self.get_catalog_courses, {}),
            (f"/groups/{seg}/catalog/path-session-ids",
             "/groups/{groupId}/catalog/path-session-ids", "groups:read",
             self.get_catalog_path_sessions, {}),
            ("/paths", "/paths", "paths:read", self.get_paths, {
                "createdAt": DATE, "modifiedAt": DATE,
                "status": F("enum", ("eq",), ("archived", "published")),
            }),
            ("/paths/sessions", "/paths/sessions", "paths:read", self.get_all_sessions, {
                "createdAt": DATE, "modifiedAt": DATE, "startDate": DATE, "endDate": DATE,
                "sessionId": IDS, "pathId": IDS,
            }),
            ("/paths/stats", "/paths/stats", "pathStats:read", self.get_path_stats, {
                "status": F("enum", ("eq",), ("archived", "published")),
                "completedAt": DATE, "pathId": IDS, "userId": IDS,
            }),
            (f"/paths/{seg}", "/paths/{pathId}", "paths:read", self.get_path, {}),
            (f"/paths/{seg}/sessions", "/paths/{pathId}/sessions", "paths:read",
             self.get_path_sessions, {
                 "createdAt": DATE, "modifiedAt": DATE, "startDate": DATE, "endDate": DATE,
             }),
            (f"/paths/{seg}/sessions/{seg}", "/paths/{pathId}/sessions/{sessionId}",
             "paths:read", self.get_path_session, {}),
            (f"/paths/{seg}/enrollments", "/paths/{pathId}/enrollments", "paths:read",
             self.get_enrollments, {
                 "status": F("enum", ("eq",), ("archived", "published")),
                 "createdAt": DATE, "modifiedAt": DATE, "sessionId": IDS,
             }),
            (f"/paths/{seg}/sessions/{seg}/user-stats",
             "/paths/{pathId}/sessions/{sessionId}/user-stats", "pathStats:read",
             self.get_session_user_stats, {"completedAt": DATE, "userId": IDS}),
            (f"/paths/{seg}/sessions/{seg}/user-statuses",
             "/paths/{pathId}/sessions/{sessionId}/user-statuses", "pathStats:read",
             self.get_session_user_statuses, {}),
            ("/skills", "/skills", "skills:read", self.get_skills, {
                "status": F("enum", EQ_IN, ("archived", "published")), "updatedAt": DATE,
            }),
            ("/skills/powers", "/skills/powers", "skillsPowers:read", self.get_powers, {
                "skillId": F("str", ("eq", "in")), "userId": F("id", ("eq", "in")),
                "status": F("enum", ("eq", "ne"), ("toAssess", "pendingValidation", "validated")),
            }),
            ("/certificate-outlines", "/certificate-outlines", "certificateOutlines:read",
             self.get_outlines, {"createdAt": DATE, "groupId": IDS}),
            ("/custom-fields", "/custom-fields", "customFields:read", self.get_custom_fields, {
                "name": F("str", EQ_IN),
                "targetType": F("enum", EQ_IN, ("users", "contents")),
                "type": F("enum", EQ_IN, ("string", "date")),
            }),
            (f"/custom-fields/{seg}/authorized-values",
             "/custom-fields/{customFieldId}/authorized-values", "customFields:read",
             self.get_authorized_values, {}),
            ("/classrooms", "/classrooms", "classrooms:read", self.get_classrooms, {
                "groupId": IDS, "createdAt": DATE, "modifiedAt": DATE,
            }),
            (f"/classrooms/{seg}", "/classrooms/{classroomId}", "classrooms:read",
             self.get_classroom, {}),
            (f"/classrooms/{seg}/slots", "/classrooms/{classroomId}/slots", "classrooms:read",
             self.get_slots, {"createdAt": DATE, "modifiedAt": DATE}),
            (f"/classrooms/{seg}/registrations", "/classrooms/{classroomId}/registrations",
             "classrooms:read", self.get_classroom_registrations, {}),
            (f"/classroom-slots/{seg}/registrations",
             "/classroom-slots/{classroomSlotId}/registrations", "classrooms:read",
             self.get_slot_registrations, {
                 "createdAt": DATE, "modifiedAt": DATE, "hasAttended": F("bool", ("eq",)),
                 "userId": IDS, "status": F("enum", ("eq",), ("archived", "published")),
             }),
        ]  # fmt: skip
        self.routes = [
            Route(re.compile(f"^/api/v2{rx}/?$"), name, scope, handler, filters)
            for rx, name, scope, handler, filters in table
        ]

    # ------------------------------------------------------------------ dispatch
    def match(self, path: str) -> tuple[Route, list[str]] | None:
        for route in self.routes:
            m = route.rx.match(path)
            if m:
                return route, list(m.groups())
        return None

    def size_of(self, name: str) -> int:
        return int(self.page_size or self.page_sizes.get(name) or PAGE_SIZES[name])

    def call(self, route: Route, args: list[str], path: str, query: Query, base: str) -> Reply:
        names = re.findall(r"\{(\w+)\}", route.name)
        ctx = Ctx(route, dict(zip(names, args, strict=True)), path, base, [], [], None)
        try:
            self._parse(ctx, query)
        except BadRequest as exc:
            return v2_error(400, exc.code, exc.message)
        return route.handler(ctx)

    # ------------------------------------------------------------------ query parsing
    def _sign(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(
            hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]
        ).decode()

    def _token(self, ctx: Ctx, after: str) -> str:
        payload = json.dumps({"p": ctx.path, "f": ctx.raw, "a": after}, separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=")
        return f"{body.decode()}.{self._sign(body)}"

    def _untoken(self, ctx: Ctx, token: str) -> tuple[list[tuple[str, list[str]]], str]:
        bad = BadRequest("invalidNextToken", "The next token is invalid; restart from page one.")
        body, _, sig = token.partition(".")
        if not hmac.compare_digest(self._sign(body.encode()), sig):
            raise bad
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            raw = [(str(k), [str(v) for v in vs]) for k, vs in data["f"]]
            after = str(data["a"])
        except (ValueError, TypeError, KeyError):
            raise bad from None
        if data.get("p") != ctx.path:
            raise bad
        return raw, after

    def _parse(self, ctx: Ctx, query: Query) -> None:
        token = query.get("next")
        if token is not None:
            raw, ctx.after = self._untoken(ctx, token[-1])
        else:
            raw = sorted((k, list(v)) for k, v in query.items())
        ctx.raw = raw
        specs = ctx.route.filters
        for key, values in raw:
            m = _FILTER_KEY.match(key)
            if m is None or m.group(1) not in specs or m.group(2) not in specs[m.group(1)].ops:
                allowed = ", ".join(f"{f}[{'|'.join(s.ops)}]" for f, s in specs.items())
                raise BadRequest(
                    "invalidParameter",
                    f"Unknown query parameter '{key}'. "
                    + (f"Filters of this route: {allowed}." if allowed else "No filter here."),
                )
            name, op = m.groups()
            spec = specs[name]
            if op in LIST_OPS:
                items = [v for value in values for v in value.split(",") if v != ""]
                ctx.filters.append((name, op, frozenset(self._value(key, spec, v) for v in items)))
            else:
                if len(values) != 1:
                    raise BadRequest("invalidParameter", f"'{key}' given more than once.")
                ctx.filters.append((name, op, self._value(key, spec, values[0])))

    @staticmethod
    def _value(key: str, spec: F, raw: str) -> Any:
        kind = spec.kind
        if kind == "date":
            try:
                ms = parse_iso(raw)
            except ValueError:
                raise BadRequest(
                    "invalidParameter",
                    f"'{key}' expects a date (YYYY-MM-DDThh:mm:ss.sssZ or YYYY-MM-DD).",
                ) from None
            return ms - ms % 1000  # "the milliseconds are always set to 0"
        if kind == "id":
            if not _HEX24.match(raw):
                raise BadRequest("invalidParameter", f"'{key}' expects a 24-hex id.")
            return raw.lower()
        if kind == "enum":
            if raw not in spec.enum:
                raise BadRequest("invalidParameter", f"'{key}' expects one of {list(spec.enum)}.")
            return raw
        if kind == "bool":
            if raw not in ("true", "false"):
                raise BadRequest("invalidParameter", f"'{key}' expects true or false.")
            return raw == "true"
        if kind == "mail":
            return raw.lower()
        return raw

    # ------------------------------------------------------------------ paging
    def _sorted(self, name: str, version: Any, build: Callable[[], Iterable[Any]]) -> Any:
        """(items, keys) sorted by `.id`, rebuilt when `version` changes (append-only sets)."""
        hit = self._cache.get(name)
        if hit is not None and hit[0] == version:
            return hit[1], hit[2]
        items = sorted(build(), key=lambda x: x.id)
        keys = [x.id for x in items]
        self._cache[name] = (version, items, keys)
        return items, keys

    def _page(
        self,
        ctx: Ctx,
        items: Sequence[Any],
        keys: Sequence[str],
        render: Callable[[Any], Any],
        getters: dict[str, Callable[[Any], Any]] | None = None,
        visible: Callable[[Any], bool] | None = None,
    ) -> Reply:
        """One page of `items` (sorted by `keys`) after ctx.after."""
        start = bisect.bisect_right(keys, ctx.after) if ctx.after is not None else 0
        pairs = ((keys[i], items[i]) for i in range(start, len(items)))
        return self._page_of(ctx, pairs, render, getters, visible)

    def _page_of(
        self,
        ctx: Ctx,
        pairs: Iterable[tuple[str, Any]],
        render: Callable[[Any], Any],
        getters: dict[str, Callable[[Any], Any]] | None = None,
        visible: Callable[[Any], bool] | None = None,
    ) -> Reply:
        """One page from (key, item) pairs in ascending key order, all after ctx.after,
        filtered; with a Link when another matching item follows. The caller holds the
        company lock."""
        conds = [(getters[f], op, arg) for f, op, arg in ctx.filters] if getters else []
        size = self.size_of(ctx.route.name)
        out: list[Any] = []
        last: str | None = None
        more = False
        for key, item in pairs:
            if visible is not None and not visible(item):
                continue
            if conds and not all(_test(g(item), op, arg) for g, op, arg in conds):
                continue
            if len(out) == size:
                more = True
                break
            out.append(render(item))
            last = key
        reply = json_reply(out)
        if more and last is not None:
            url = f"{ctx.base}{ctx.path}?next={self._token(ctx, last)}"
            reply.headers.append(("Link", f'<{url}>; rel="next"'))
        return reply

    def _all(
        self,
        ctx: Ctx,
        items: Iterable[Any],
        key: Callable[[Any], str],
        render: Callable[[Any], Any],
        getters: dict[str, Callable[[Any], Any]] | None = None,
        visible: Callable[[Any], bool] | None = None,
    ) -> Reply:
        """Pages a list built for this request (sorted here)."""
        ordered = sorted(items, key=key)
        return self._page(ctx, ordered, [key(x) for x in ordered], render, getters, visible)

    # ------------------------------------------------------------------ helpers
    def _uid(self, mail: str) -> str | None:
        u = self.company.users_by_mail.get(mail.lower())
        return u.id if u is not None else None

    def _uids(self, mails: Iterable[str]) -> list[str]:
        return [i for i in map(self._uid, mails) if i is not None]

    # ------------------------------------------------------------------ courses
    def _course(self, c: Course) -> dict[str, Any]:
        return {
            "_id": c.id,
            "name": c.name,
            "description": c.description,
            "duration": c.duration,
            "authorId": self._uid(c.author_mail),
            "coAuthorIds": self._uids(c.co_authors),
            "groupId": c.group_id,
            "createdAt": iso(c.creation),
            "modifiedAt": iso(c.modification),
            "defaultLang": c.lang,
            "sourceLang": c.lang,
            "status": c.status,
            "type": "native",
            "translations": [
                {
                    "lang": lang,
                    "published": published,
                    "translatorIds": self._uids(translators),
                    "translatedFields": {"name": c.name},
                }
                for lang, published, translators in c.translations
            ],
            "collaborativeLearning": False,
        }

    def get_courses(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: dict[str, Callable[[Course], Any]] = {
            "createdAt": lambda c: c.creation,
            "modifiedAt": lambda c: c.modification,
            "status": lambda c: c.status,
            "type": lambda c: "native",
            "authorId": lambda c: self._uid(c.author_mail),
            "originalAuthorId": lambda c: self._uid(c.author_mail),
            "groupId": lambda c: c.group_id,
            "tagIds": lambda c: (),
            "coAuthorIds": lambda c: self._uids(c.co_authors),
            "sourceLang": lambda c: c.lang,
            "collaborativeLearning": lambda c: False,
        }
        with company.lock:
            items, keys = self._sorted("courses", len(company.courses), company.courses.values)
            return self._page(
                ctx, items, keys, self._course, getters, lambda c: c.status != "draft"
            )

    def get_course(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            c = company.courses.get(ctx.params["courseId"])
            if c is None or c.status == "draft":
                return v2_error(404, "courseNotFound", "Course not found.")
            return json_reply(self._course(c))

    def _attempt(self, a: Attempt) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": a.id,
            "courseId": a.course_id,
            "userId": a.user_id,
            "progress": a.progress,
        }
        if a.score is not None:
            d["score"] = a.score
        d["timeSpent"] = a.global_time
        if a.completed_at is not None:
            d["completedAt"] = iso(a.completed_at)
        d["firstActivityAt"] = iso(a.first_activity)
        d["lastActivityAt"] = iso(a.last_activity)
        d["lang"] = self.company.courses[a.course_id].lang
        if a.path is not None:
            d["pathId"] = a.path
            d["pathSessionId"] = a.path_session
        return d

    def get_course_stats(self, ctx: Ctx) -> Reply:
        company = self.company

        def build() -> Iterable[Attempt]:
            for by_user in company.attempts_by_course.values():
                for attempts in by_user.values():
                    yield from attempts

        getters: dict[str, Callable[[Attempt], Any]] = {
            "completedAt": lambda a: a.completed_at,
            "courseId": lambda a: a.course_id,
            "userId": lambda a: a.user_id,
        }
        with company.lock:
            # an attempt added after one was hard-deleted keeps n_attempts: both make a version
            version = (company.n_attempts, len(company.hard_deleted_attempts))
            items, keys = self._sorted("attempts", version, build)
            return self._page(ctx, items, keys, self._attempt, getters)

    # ------------------------------------------------------------------ users
    @staticmethod
    def _user(u: User) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": u.id,
            "mail": u.mail,
            "status": "deleted" if u.deleted else "active",
            "lang": u.lang,
            "firstName": u.first_name,
            "lastName": u.last_name,
            "custom": u.custom,
        }
        if u.primary_group_id:
            d["primaryGroupId"] = u.primary_group_id
        if u.deleted and u.deleted_at is not None:
            d["deletedAt"] = [iso(u.deleted_at)]
        if u.last_login_at is not None:
            d["lastLoginDate"] = iso(u.last_login_at)
        return d

    def get_users(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: dict[str, Callable[[User], Any]] = {
            "mail": lambda u: u.mail.lower(),
            "username": lambda u: None,
            "status": lambda u: "deleted" if u.deleted else "active",
        }
        with company.lock:
            items, keys = self._sorted("users", len(company.users), company.users.values)
            return self._page(ctx, items, keys, self._user, getters)

    def _find_user(self, ctx: Ctx) -> User | None:
        return self.company.users.get(ctx.params["userId"])

    @staticmethod
    def _no_user() -> Reply:
        return v2_error(404, "userNotFound", "User not found.")

    def get_user(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            u = self._find_user(ctx)
            return self._no_user() if u is None else json_reply(self._user(u))

    def get_user_roles(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            u = self._find_user(ctx)
            if u is None:
                return self._no_user()
            rows = list(company.memberships.get(u.id, {}).items())
            return self._all(
                ctx, rows, lambda r: r[0], lambda r: {"groupId": r[0], "role": ROLE_NAMES[r[1]]}
            )

    def get_user_certificates(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: dict[str, Callable[[d2.Certificate], Any]] = {
            "deliveryDate": lambda c: c.delivered_at,
            "expirationDate": lambda c: c.expires_at,
        }
        with company.lock:
            u = self._find_user(ctx)
            if u is None:
                return self._no_user()
            certs = d2.user_certificates(company, u.id)
            return self._all(ctx, certs, lambda c: c.id, self._certificate, getters)

    @staticmethod
    def _certificate(c: d2.Certificate) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": c.id,
            "type": "path",
            "title": c.title,
            "deliveryDate": iso(c.delivered_at),
        }
        if c.expires_at is not None:
            d["expirationDate"] = iso(c.expires_at)
        if c.validity_months is not None:
            d["validityPeriod"] = c.validity_months
        d.update(
            {
                "certificateOutlineId": c.outline_id,
                "pathId": c.path_id,
                "pathName": c.path_name,
                "pathSessionId": c.path_session_id,
            }
        )
        return d

    def get_user_custom_values(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            u = self._find_user(ctx)
            if u is None:
                return self._no_user()
            return json_reply(
                [
                    {"customFieldId": fid, "type": kind, "value": value}
                    for fid, kind, value in d2.user_custom_values(company, u.id)
                ]
            )

    # ------------------------------------------------------------------ groups
    @staticmethod
    def _group(g: Group) -> dict[str, Any]:
        d: dict[str, Any] = {"_id": g.id, "name": g.name, "public": g.public}
        if g.parent is not None:
            d["parentId"] = g.parent
        d["custom"] = g.custom
        return d

    def get_groups(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            items, keys = self._sorted("groups", len(company.groups), company.groups.values)
            return self._page(ctx, items, keys, self._group)

    def _no_group(self) -> Reply:
        return v2_error(404, "groupNotFound", "Group not found.")

    def get_group(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            g = self.company.groups.get(ctx.params["groupId"])
            return self._no_group() if g is None else json_reply(self._group(g))

    def get_group_roles(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            if ctx.params["groupId"] not in company.groups:
                return self._no_group()
            rows = list(company.members.get(ctx.params["groupId"], {}).items())
            return self._all(
                ctx, rows, lambda r: r[0], lambda r: {"userId": r[0], "role": ROLE_NAMES[r[1]]}
            )

    def get_catalog_courses(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            entry = company.catalog.get(ctx.params["groupId"])
            if entry is None:
                return self._no_group()
            return self._all(ctx, list(entry["course"]), str, str)

    def get_catalog_path_sessions(self, ctx: Ctx) -> Reply:
        """Every session of every path in the group's catalog (v1 lists the paths)."""
        company = self.company
        with company.lock:
            entry = company.catalog.get(ctx.params["groupId"])
            if entry is None:
                return self._no_group()
            ids: dict[str, None] = {}
            for path_id in entry["path"]:
                path = company.paths.get(path_id)
                if path is not None:
                    ids.update(dict.fromkeys(path.session_ids))
            return self._all(ctx, list(ids), str, str)

    # ------------------------------------------------------------------ paths
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
        company = self.company
        getters: dict[str, Callable[[Path], Any]] = {
            "createdAt": lambda p: p.created_at,
            "modifiedAt": lambda p: p.modified_at,
            "status": lambda p: "published",
        }
        with company.lock:
            items, keys = self._sorted("paths", len(company.paths), company.paths.values)
            return self._page(ctx, items, keys, self._path, getters)

    def _no_path(self) -> Reply:
        return v2_error(404, "pathNotFound", "Path not found.")

    def get_path(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            p = self.company.paths.get(ctx.params["pathId"])
            return self._no_path() if p is None else json_reply(self._path(p))

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

    _SESSION_GETTERS: dict[str, Callable[[PathSession], Any]] = {
        "createdAt": lambda s: s.created_at,
        "modifiedAt": lambda s: s.modified_at,
        "startDate": lambda s: s.start,
        "endDate": lambda s: s.end,
        "sessionId": lambda s: s.id,
        "pathId": lambda s: s.path_id,
    }

    def get_all_sessions(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            items, keys = self._sorted(
                "path_sessions", len(company.path_sessions), company.path_sessions.values
            )
            return self._page(ctx, items, keys, self._session, self._SESSION_GETTERS)

    def get_path_sessions(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            p = company.paths.get(ctx.params["pathId"])
            if p is None:
                return self._no_path()
            sessions = [company.path_sessions[i] for i in p.session_ids]
            return self._all(
                ctx,
                sessions,
                lambda s: s.id,
                lambda s: self._session(s, translations=True),
                self._SESSION_GETTERS,
            )

    def _path_and_session(self, ctx: Ctx) -> tuple[PathSession | None, Reply | None]:
        company = self.company
        if ctx.params["pathId"] not in company.paths:
            return None, self._no_path()
        s = company.path_sessions.get(ctx.params["sessionId"])
        if s is None:
            return None, v2_error(404, "sessionNotFound", "Path session not found.")
        if s.path_id != ctx.params["pathId"]:
            return None, v2_error(
                400, "sessionNotBelongToPath", "The session does not belong to this path."
            )
        return s, None

    def get_path_session(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            s, problem = self._path_and_session(ctx)
            if s is None:
                assert problem is not None
                return problem
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

    def _keyed_enrolments(self, enrolments: Iterable[Enrolment]) -> list[tuple[str, Enrolment]]:
        return [(d2.enrolment_id(self.company, e), e) for e in enrolments]

    def get_enrollments(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: dict[str, Callable[[tuple[str, Enrolment]], Any]] = {
            "status": lambda r: "published",
            "createdAt": lambda r: r[1].enrolled_at,
            "modifiedAt": lambda r: r[1].enrolled_at,
            "sessionId": lambda r: r[1].session_id,
        }
        with company.lock:
            p = company.paths.get(ctx.params["pathId"])
            if p is None:
                return self._no_path()
            rows = self._keyed_enrolments(
                e for s in p.session_ids for e in company.enrolments.get(s, {}).values()
            )
            return self._all(ctx, rows, lambda r: r[0], lambda r: self._enrolment(r[1]), getters)

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

    _STAT_GETTERS: dict[str, Callable[[tuple[str, Enrolment]], Any]] = {
        "status": lambda r: "published",
        "completedAt": lambda r: r[1].completed_at,
        "pathId": lambda r: r[1].path_id,
        "userId": lambda r: r[1].user_id,
    }

    def get_path_stats(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            rows = self._keyed_enrolments(d2.all_enrolments(company))
            return self._all(
                ctx,
                rows,
                lambda r: r[0],
                lambda r: self._user_stat(r[1], with_ids=True),
                self._STAT_GETTERS,
            )

    def get_session_user_stats(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            s, problem = self._path_and_session(ctx)
            if s is None:
                assert problem is not None
                return problem
            rows = self._keyed_enrolments(company.enrolments.get(s.id, {}).values())
            return self._all(
                ctx,
                rows,
                lambda r: r[0],
                lambda r: self._user_stat(r[1], with_ids=False),
                self._STAT_GETTERS,
            )

    def get_session_user_statuses(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            s, problem = self._path_and_session(ctx)
            if s is None:
                assert problem is not None
                return problem
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

    # ------------------------------------------------------------------ skills
    def get_skills(self, ctx: Ctx) -> Reply:
        getters: dict[str, Callable[[d2.Skill], Any]] = {
            "status": lambda s: s.status,
            "updatedAt": lambda s: s.updated_at,
        }

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
            return self._all(ctx, d2.skills(self.company), lambda s: s.id, render, getters)

    def get_powers(self, ctx: Ctx) -> Reply:
        getters: dict[str, Callable[[d2.Power], Any]] = {
            "skillId": lambda p: p.skill_id,
            "userId": lambda p: p.user_id,
            "status": lambda p: p.status,
        }

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

    # ------------------------------------------------------------------ certificates
    def get_outlines(self, ctx: Ctx) -> Reply:
        """Not paginated in the OpenAPI: all outlines at once, filtered."""
        getters: dict[str, Callable[[d2.Outline], Any]] = {
            "createdAt": lambda o: o.created_at,
            "groupId": lambda o: o.group_id,
        }
        with self.company.lock:
            conds = [(getters[f], op, arg) for f, op, arg in ctx.filters]
            return json_reply(
                [
                    {
                        "_id": o.id,
                        "title": o.title,
                        "groupId": o.group_id,
                        "createdAt": iso(o.created_at),
                    }
                    for o in sorted(d2.outlines(self.company), key=lambda o: o.id)
                    if all(_test(g(o), op, arg) for g, op, arg in conds)
                ]
            )

    # ------------------------------------------------------------------ custom fields
    def get_custom_fields(self, ctx: Ctx) -> Reply:
        getters: dict[str, Callable[[d2.CustomField], Any]] = {
            "name": lambda f: f.name,
            "targetType": lambda f: f.target_type,
            "type": lambda f: f.type,
        }

        def render(f: d2.CustomField) -> dict[str, Any]:
            return {"_id": f.id, "name": f.name, "targetType": f.target_type, "type": f.type}

        with self.company.lock:
            fields = d2.custom_fields(self.company)
            return self._all(ctx, fields, lambda f: f.id, render, getters)

    def get_authorized_values(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            for f in d2.custom_fields(self.company):
                if f.id == ctx.params["customFieldId"]:
                    return json_reply(list(f.values))
        return v2_error(404, "customFieldNotFound", "Custom field not found.")

    # ------------------------------------------------------------------ classrooms
    @staticmethod
    def _classroom(r: d2.Classroom) -> dict[str, Any]:
        return {
            "_id": r.id,
            "name": r.name,
            "groupId": r.group_id,
            "mediaIds": [],
            "createdAt": iso(r.created_at),
            "modifiedAt": iso(r.modified_at),
        }

    def get_classrooms(self, ctx: Ctx) -> Reply:
        getters: dict[str, Callable[[d2.Classroom], Any]] = {
            "groupId": lambda r: r.group_id,
            "createdAt": lambda r: r.created_at,
            "modifiedAt": lambda r: r.modified_at,
        }
        with self.company.lock:
            rooms = d2.classrooms(self.company)
            return self._all(ctx, rooms, lambda r: r.id, self._classroom, getters)

    def _no_classroom(self) -> Reply:
        return v2_error(404, "classroomNotFound", "Classroom not found.")

    def get_classroom(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            room = d2.find_classroom(self.company, ctx.params["classroomId"])
            return self._no_classroom() if room is None else json_reply(self._classroom(room))

    @staticmethod
    def _slot(s: d2.Slot) -> dict[str, Any]:
        return {
            "_id": s.id,
            "classroomId": s.classroom_id,
            "name": s.name,
            "startDate": iso(s.start),
            "endDate": iso(s.end),
            "reportedDuration": (s.end - s.start) / 3_600_000,
            "selfRegistration": {"enabled": False},
            "virtual": s.virtual,
            "location": s.location,
            "trainerIds": list(s.trainer_ids),
            "mediaIds": [],
            "createdAt": iso(s.created_at),
            "modifiedAt": iso(s.modified_at),
            "timezone": "Europe/Paris",
            "context": {"_id": s.context_id, "type": s.context_type},
        }

    def get_slots(self, ctx: Ctx) -> Reply:
        getters: dict[str, Callable[[d2.Slot], Any]] = {
            "createdAt": lambda s: s.created_at,
            "modifiedAt": lambda s: s.modified_at,
        }
        with self.company.lock:
            room = d2.find_classroom(self.company, ctx.params["classroomId"])
            if room is None:
                return self._no_classroom()
            slots = d2.slots_of(self.company, room)
            return self._all(ctx, slots, lambda s: s.id, self._slot, getters)

    @staticmethod
    def _registration(r: d2.Registration, with_slot: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": r.id,
            "userId": r.user_id,
            "createdAt": iso(r.created_at),
            "modifiedAt": iso(r.modified_at),
            "hasAttended": r.has_attended,
        }
        if r.path_id is not None:
            d["pathId"] = r.path_id
        d["status"] = "published"
        if with_slot:
            d["classroomSlotId"] = r.slot_id
        return d

    def get_classroom_registrations(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            room = d2.find_classroom(company, ctx.params["classroomId"])
            if room is None:
                return self._no_classroom()
            regs = [r for s in d2.slots_of(company, room) for r in d2.registrations_of(company, s)]
            return self._all(
                ctx, regs, lambda r: r.id, lambda r: self._registration(r, with_slot=True)
            )

    def get_slot_registrations(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: dict[str, Callable[[d2.Registration], Any]] = {
            "createdAt": lambda r: r.created_at,
            "modifiedAt": lambda r: r.modified_at,
            "hasAttended": lambda r: r.has_attended,
            "userId": lambda r: r.user_id,
            "status": lambda r: "published",
        }
        with company.lock:
            slot = d2.find_slot(company, ctx.params["classroomSlotId"])
            if slot is None:
                return v2_error(404, "classroomSlotNotFound", "Classroom slot not found.")
            regs = d2.registrations_of(company, slot)
            return self._all(
                ctx, regs, lambda r: r.id, lambda r: self._registration(r, False), getters
            )
