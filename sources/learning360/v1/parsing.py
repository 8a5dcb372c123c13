"""v1 response elements -> rows, accepting every variant of reference §12 and keeping unknown
fields; API keys stay camelCase (dlt snake_cases them), keys we add are snake_case."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..cursors import Row
from ..errors import ConfigurationError, config_key

# getGroup member lists -> role; the first list wins, so (user_id, group_id) stays a key
MEMBER_LIST_ROLES = {"admins": "admin", "authors": "author", "coaches": "coach", "users": "learner"}


def id_of(value: Any, *keys: str) -> str | None:
    """An id given as a plain string or as an object (``_id``, then each of ``keys``)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        for key in ("_id", *keys, "id"):
            if isinstance(found := value.get(key), str) and found:
                return found
    return None


def merge_details(listing: Mapping[str, Any], details: Mapping[str, Any] | None) -> Row:
    """A listing element enriched with its getX details (details win; listing-only keys stay)."""
    return {**listing, **(details or {})}


def user_row(listing: Mapping[str, Any], details: Mapping[str, Any] | None) -> Row:
    """getUsers element + getUser details; ``deleted`` defaults to False (a tenant ignoring
    ``?deleted=true`` sends no flag); ``groups`` as objects, so ``users__groups`` has one shape."""
    row = merge_details(listing, details)
    row["deleted"] = bool(row.get("deleted", False))
    if "groups" in row:
        row["groups"] = [
            {**group, "_id": id_of(group, "groupId")}
            if isinstance(group, Mapping)
            else {"_id": group}
            for group in row["groups"] or ()
            if isinstance(group, Mapping | str)
        ]
    return row


def group_row(details: Mapping[str, Any]) -> Row:
    return {key: value for key, value in details.items() if key not in MEMBER_LIST_ROLES}


def group_memberships(details: Mapping[str, Any]) -> list[Row]:
    """Members as ids or ``{_id, mail}``."""
    group_id = id_of(details)
    roles: dict[str, str] = {}
    for key, role in MEMBER_LIST_ROLES.items():
        for member in details.get(key) or ():
            if user_id := id_of(member, "userId"):
                roles.setdefault(user_id, role)
    return [{"user_id": user, "group_id": group_id, "role": role} for user, role in roles.items()]


def catalog_rows(
    group_id: str, catalog: Any, classify_path: Callable[[str], str] | None = None
) -> list[Row]:
    """getGroupCatalog -> ``(group_id, item_type, item_id)`` rows, without duplicates. ``paths``
    entries are typed by ``classify_path`` (some tenants list path-session ids there)."""
    if not isinstance(catalog, Mapping):
        return []
    programs = catalog.get("programs") or catalog.get("programSessions") or ()
    paths = [id_of(element, "pathId", "sessionId") for element in catalog.get("paths") or ()]
    items = [
        *(("course", id_of(element, "courseId")) for element in catalog.get("courses") or ()),
        *(("program_session", id_of(element, "sessionId")) for element in programs),
        *((classify_path(i) if classify_path else "path", i) for i in paths if i),
        *(("path_session", id_of(e, "sessionId")) for e in catalog.get("pathSessions") or ()),
    ]
    return [
        {"group_id": group_id, "item_type": item_type, "item_id": item_id}
        for item_type, item_id in dict.fromkeys(items)
        if item_id
    ]


def group_catalog_rows(pair: tuple[Row, Any], api: Any) -> list[Row]:
    """``(group, getGroupCatalog)`` -> rows; a list that is not a list is quarantined
    (``{"courses": {"a": 1}}`` would yield item_id "a")."""
    group, catalog = pair
    for key in ("courses", "programs", "programSessions", "paths", "pathSessions"):
        value = catalog.get(key) if isinstance(catalog, Mapping) else None
        if value is not None and not isinstance(value, list):
            kind = "an object" if isinstance(value, Mapping) else type(value).__name__
            problem = f"catalog's {key} is {kind}, not a list"
            api.client.stats.quarantine.reject("group_catalog", problem, catalog, id_of(group))
            return []
    return catalog_rows(id_of(group) or "", catalog, api.classify_catalog_path)


def classify_catalog_path(item_id: str, path_ids: set[str], session_ids: set[str]) -> str:
    """A catalog ``paths`` entry is a path, or (on some tenants) a path session."""
    return "path_session" if item_id in session_ids and item_id not in path_ids else "path"


def group_program_rows(group_id: str, programs: Any) -> list[Row]:
    ids = dict.fromkeys(filter(None, (id_of(p, "sessionId") for p in programs or ())))
    return [{"group_id": group_id, "program_session_id": program_id} for program_id in ids]


def user_course_attempts(user_id: str | None, element: Mapping[str, Any]) -> Iterator[Row]:
    """One getUserCourses element ``{course, attempts}``, ``course`` an object or a plain id (or
    ``courseId``)."""
    course_id = id_of(element.get("course")) or id_of(element.get("courseId"))
    for attempt in element.get("attempts") or ():
        if isinstance(attempt, Mapping):  # a dict was parsed for us alone: completed in place
            row = attempt if isinstance(attempt, dict) else dict(attempt)
            row["user_id"], row["course_id"] = user_id, course_id
            yield row


def course_stats_attempts(element: Mapping[str, Any]) -> Iterator[Row]:
    """One getCoursesStats element ``{course, stats: [{user, attempts}]}``: the same rows."""
    for stat in element.get("stats") or ():
        if isinstance(stat, Mapping):
            user_id = id_of(stat.get("user")) or id_of(stat.get("userId"))
            yield from user_course_attempts(user_id, {**element, "attempts": stat.get("attempts")})


def user_program_row(user_id: str, element: Mapping[str, Any]) -> Row | None:
    """One getUserPrograms element -> a ``user_programs`` row; the session id is ``sessionId``
    or ``_id``, the stats under ``stats`` or at the top level (flattened, ``stats`` winning)."""
    program_session_id = id_of(element.get("sessionId")) or id_of(element)
    if not program_session_id:
        return None
    row: Row = {k: v for k, v in element.items() if k not in ("_id", "sessionId", "stats")}
    stats = element.get("stats")
    if isinstance(stats, Mapping):
        row.update(stats)
    row["user_id"], row["program_session_id"] = user_id, program_session_id
    return row


def user_programs_rows(user: Row, programs: Any) -> Iterator[Row]:
    for element in programs:
        if isinstance(element, dict) and (row := user_program_row(id_of(user) or "", element)):
            yield row


def _users_stats(body: Any) -> Iterator[tuple[str | None, Mapping[str, Any]]]:
    """``(user id, stat)`` of ``usersStats`` (``userStats``) or a bare list; the user is a
    stat's ``userId``, else its ``_id``."""
    stats = body.get("usersStats", body.get("userStats")) if isinstance(body, Mapping) else body
    for stat in stats or ():
        if isinstance(stat, Mapping):
            yield id_of(stat.get("userId")) or id_of(stat), stat


def path_session_user_rows(session: Mapping[str, Any], body: Any) -> list[Row]:
    path_id, session_id = id_of(session.get("pathId")), id_of(session)
    if isinstance(body, Mapping):
        path_id = id_of(body.get("pathId")) or path_id
        session_id = id_of(body.get("sessionId")) or session_id
    ids = {"path_id": path_id, "path_session_id": session_id}
    return [
        {**{k: v for k, v in stat.items() if k not in ("_id", "userId")}, "user_id": user_id, **ids}
        for user_id, stat in _users_stats(body)
    ]


# program-session stats (usersStats) -> the getUserPrograms element of that user
PROGRAM_SESSION_FIELDS = ("name", "startDate", "endDate", "programTemplate")
PROGRAM_STATS_FIELDS = ("progress", "totalTimeSpentInSeconds", "score")


def program_stats_rows(session: Mapping[str, Any], body: Any) -> list[Row]:
    """The rows getUserPrograms gives (session fields from the listing element, ``completedAt``
    from ``endTime``, no learner name or mail), so both strategies load the same table."""
    session_id = id_of(session)
    if not session_id:
        return []
    shared = {k: session[k] for k in PROGRAM_SESSION_FIELDS if k in session}
    rows: dict[str, Row] = {}
    for user_id, stat in _users_stats(body):
        if not user_id:
            raise ConfigurationError(
                "360Learning's program-session stats name no user id on this tenant, so "
                "user_programs cannot be read in bulk: set "
                f'{config_key("user_programs_strategy")} = "per_user"'
            )
        if user_id not in rows:
            stats = {k: stat[k] for k in PROGRAM_STATS_FIELDS if k in stat}
            stats["completedAt"] = stat.get("endTime", stat.get("completedAt"))
            rows[user_id] = {
                **shared,
                **stats,
                "user_id": user_id,
                "program_session_id": session_id,
            }
    return list(rows.values())
