"""The v2 routes' machinery: filters, keyset paging with signed `next` tokens, dispatch, and
the lookup-or-404 every by-id route uses. The families (courses.py, users.py, ...) hold the
handlers and their rows of the route table."""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter, itemgetter
from typing import Any

from ..clock import parse_iso
from ..company import Company
from ..responses import Refused, Reply, found, json_reply
from ..v2_auth import v2_error

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
    handler: Callable[[Any, Ctx], Reply]  # a V2Routes method
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


Render = Callable[[Any], Any]
# filter field -> the record's attribute of that name, or a function of the record
Getters = dict[str, str | Callable[[Any], Any]]


def _matcher(ctx: Ctx, getters: Getters | None) -> Callable[[Any], bool]:
    """Whether a record passes the request's filters (`getters` reads their fields)."""
    conds = [
        (g if callable(g) else attrgetter(g), op, arg)
        for f, op, arg in ctx.filters
        if getters and (g := getters[f])
    ]
    return lambda item: all(_test(g(item), op, arg) for g, op, arg in conds)


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


def routes(*rows: tuple[str, str, Callable[[Any, Ctx], Reply], dict[str, F]]) -> list[Route]:
    """Route table rows: (OpenAPI path under /api/v2, scope, handler, filters)."""
    return [
        Route(re.compile("^/api/v2" + re.sub(r"\{\w+\}", "([^/]+)", name) + "/?$"), name, *rest)
        for name, *rest in rows
    ]


# the 404 of each path parameter, when no record has that id
NOT_FOUND: dict[str, Callable[[], Reply]] = {
    param: partial(v2_error, 404, code, message)
    for param, code, message in (
        ("courseId", "courseNotFound", "Course not found."),
        ("userId", "userNotFound", "User not found."),
        ("groupId", "groupNotFound", "Group not found."),
        ("pathId", "pathNotFound", "Path not found."),
        ("sessionId", "sessionNotFound", "Path session not found."),
        ("customFieldId", "customFieldNotFound", "Custom field not found."),
        ("classroomId", "classroomNotFound", "Classroom not found."),
        ("classroomSlotId", "classroomSlotNotFound", "Classroom slot not found."),
    )
}


class V2Core:
    """Dispatch, query parsing and paging; V2Routes adds the families' handlers and ROUTES."""

    routes: list[Route] = []

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
            return route.handler(self, ctx)
        except BadRequest as exc:
            return v2_error(400, exc.code, exc.message)
        except Refused as exc:
            return exc.reply

    def lookup(self, ctx: Ctx, param: str, where: Mapping[str, Any] | Callable[[str], Any]) -> Any:
        """The record `ctx.params[param]` names, from a mapping or a finder; else that 404."""
        key = ctx.params[param]
        return found(where.get(key) if isinstance(where, Mapping) else where(key), NOT_FOUND[param])

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

    def _listing(
        self,
        ctx: Ctx,
        name: str,
        records: dict[str, Any],
        render: Render,
        getters: Getters | None = None,
        visible: Callable[[Any], bool] | None = None,
    ) -> Reply:
        """A page of one of the company's record dicts (sorted, cached while its size holds)."""
        items, keys = self._sorted(name, len(records), records.values)
        return self._page(ctx, items, keys, render, getters, visible)

    def _page(
        self,
        ctx: Ctx,
        items: Sequence[Any],
        keys: Sequence[str],
        render: Render,
        getters: Getters | None = None,
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
        render: Render,
        getters: Getters | None = None,
        visible: Callable[[Any], bool] | None = None,
    ) -> Reply:
        """One page from (key, item) pairs in ascending key order, all after ctx.after,
        filtered; with a Link when another matching item follows. The caller holds the
        company lock."""
        keep = _matcher(ctx, getters)
        size = self.size_of(ctx.route.name)
        out: list[Any] = []
        last: str | None = None
        more = False
        for key, item in pairs:
            if (visible is not None and not visible(item)) or not keep(item):
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
        render: Render,
        getters: Getters | None = None,
        key: Callable[[Any], str] = attrgetter("id"),
    ) -> Reply:
        """Pages a list built for this request (sorted here, by `key`)."""
        pairs = sorted(((key(x), x) for x in items), key=itemgetter(0))
        return self._page(ctx, [x for _, x in pairs], [k for k, _ in pairs], render, getters)

    def _roles(self, ctx: Ctx, roles: dict[str, str], who: str) -> Reply:
        """A membership list, `who` (groupId or userId) -> role, as v2 names the roles."""
        render = lambda r: {who: r[0], "role": ROLE_NAMES[r[1]]}  # noqa: E731
        return self._all(ctx, list(roles.items()), render, key=itemgetter(0))

    # ------------------------------------------------------------------ helpers
    def _uid(self, mail: str) -> str | None:
        u = self.company.users_by_mail.get(mail.lower())
        return u.id if u is not None else None

    def _uids(self, mails: Iterable[str]) -> list[str]:
        return [i for i in map(self._uid, mails) if i is not None]
