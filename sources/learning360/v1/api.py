"""v1 routes as Python calls: one method per route, raw elements out, no URL building here
(the client formats the route templates from ``routes.V1_ROUTES``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..client import UnexpectedBodyError, json_type
from ..quarantine import table_of_route
from ..routes import V1_ROUTES as ROUTES
from ..tables import V1_TABLES
from ..timestamps import format_api_timestamp
from .parsing import classify_catalog_path, id_of

if TYPE_CHECKING:
    from ..client import Learning360Client

# what each single-item route answers; anything else is retried, then quarantined
# (``str``: an object that must carry its ``_id``)
# item routes whose answer is a list of records (or holds one under usersStats)
RECORD_LISTS = frozenset(
    ("user_courses", "user_programs", "path_session_user_stats", "program_session_stats")
)
ITEM_SHAPES: dict[str, tuple[type, ...]] = {
    "course": (dict, str),
    "path": (dict, str),
    "user": (dict, str),
    "group": (dict, str),
    "group_catalog": (dict,),
    "user_courses": (list,),
    "user_programs": (list,),
    "group_programs": (list,),
    "path_session_user_stats": (dict, list),
    "program_session_stats": (dict, list),
}


def _since(table: str, moment: Any) -> dict[str, str] | None:
    """The table's server filter (``tables.V1_TABLES``) at ``moment``; None for a full read."""
    return {V1_TABLES[table].server_filter or "": format_api_timestamp(moment)} if moment else None


class V1Api:
    def __init__(self, client: Learning360Client):
        self.client = client
        self._path_ids_lock = threading.Lock()
        self._path_ids: tuple[set[str], set[str]] | None = None
        self._user_ids_lock = threading.Lock()
        self._user_ids: dict[str, str] | None = None

    # ---- listings (streamed) ------------------------------------------------------------

    def courses(self, modified_after: Any = None) -> Iterator[dict[str, Any]]:
        return self.client.iter_array(ROUTES["courses"], params=_since("courses", modified_after))

    def courses_stats(self, last_activity_after: Any = None) -> Iterator[dict[str, Any]]:
        params = _since("user_courses", last_activity_after)
        return self.client.iter_array(ROUTES["courses_stats"], params=params)

    def users(self) -> Iterator[dict[str, Any]]:
        """Deleted users included (``deleted=true``), so they stay in the warehouse flagged."""
        return self.client.iter_array(ROUTES["users"], params={"deleted": "true"})

    def groups(self) -> Iterator[dict[str, Any]]:
        return self.client.iter_array(ROUTES["groups"])

    def program_sessions(self) -> Iterator[dict[str, Any]]:
        return self.client.iter_array(ROUTES["program_sessions"])

    def paths(self, modified_after: Any = None) -> Iterator[dict[str, Any]]:
        return self.client.iter_array(ROUTES["paths"], params=_since("paths", modified_after))

    def path_sessions(self) -> Iterator[dict[str, Any]]:
        return self.client.iter_array(ROUTES["path_sessions"])

    # ---- single items: None when the item vanished mid-sync (logged at INFO if ``quiet``,
    # used for users the listing already flags deleted, else as a warning) ------------------

    def _item(self, route: str, quiet: bool, **ids: str) -> Any:
        """A body of the wrong JSON type (``200 null``...) is retried like a 5xx by the
        client; if it stays wrong the item is quarantined (re-requested next run) and, like a
        vanished item, answered None: one bad answer never fails the others."""
        template = ROUTES[route]
        try:
            body = self.client.get_json(
                template, ids, missing_ok=True, quiet=quiet, expect=ITEM_SHAPES.get(route)
            )
            return self._only_records(route, template, body) if route in RECORD_LISTS else body
        except UnexpectedBodyError as exc:
            (key,) = ids.values()
            reason = str(exc).split(": ", 1)[-1]  # "a body of null, not an object"
            self.client.stats.quarantine.reject(
                table_of_route(template),
                f"GET {template} answered {reason[len('a body of ') :]} (retried)",
                {"route": template, "id": key},
                key,
            )
            return None

    def course(self, course_id: str, quiet: bool = False) -> dict[str, Any] | None:
        return self._item("course", quiet, course_id=course_id)

    def path(self, path_id: str, quiet: bool = False) -> dict[str, Any] | None:
        """getPath: only to re-read a path quarantined by an earlier run."""
        return self._item("path", quiet, path_id=path_id)

    def user(self, user_id: str, quiet: bool = False) -> dict[str, Any] | None:
        return self._item("user", quiet, user_id=user_id)

    def user_courses(self, user_id: str, quiet: bool = False) -> list[Any] | None:
        return self._item("user_courses", quiet, user_id=user_id)

    def user_programs(self, user_id: str, quiet: bool = False) -> list[Any] | None:
        return self._item("user_programs", quiet, user_id=user_id)

    def group(self, group_id: str, quiet: bool = False) -> dict[str, Any] | None:
        return self._item("group", quiet, group_id=group_id)

    def group_catalog(self, group_id: str, quiet: bool = False) -> dict[str, Any] | None:
        return self._item("group_catalog", quiet, group_id=group_id)

    def group_programs(self, group_id: str, quiet: bool = False) -> list[Any] | None:
        return self._item("group_programs", quiet, group_id=group_id)

    def path_session_user_stats(self, session_id: str, quiet: bool = False) -> Any:
        return self._item("path_session_user_stats", quiet, session_id=session_id)

    def program_session_stats(self, session_id: str, quiet: bool = False) -> Any:
        """``{_id, name, completed, registered, attendees, usersStats: [...]}``: every user
        assigned to the session (directly or through a group) with their progress."""
        return self._item("program_session_stats", quiet, session_id=session_id)

    def _only_records(self, route: str, template: str, body: Any) -> Any:
        """An item answer whose records (the list, or its ``usersStats``) hold a ``null`` or a
        bare value: those are quarantined, the records kept."""
        holder, key = (body, None) if isinstance(body, list) else (None, None)
        if isinstance(body, dict):
            key = next((k for k in ("usersStats", "userStats") if k in body), None)
            holder = body.get(key) if key else None
        if not isinstance(holder, list) or all(isinstance(e, dict) for e in holder):
            return body
        for element in holder:
            if not isinstance(element, dict):
                self.client.stats.quarantine.reject(
                    table_of_route(template),
                    f"GET {template} element is {json_type(element)}, not an object",
                    element,
                )
        records = [e for e in holder if isinstance(e, dict)]
        return records if key is None else {**body, key: records}

    # ---- derived lookups ----------------------------------------------------------------

    def user_id_of_mail(self, mail: Any) -> str | None:
        """The id of the user with this mail (case-insensitive), or None. v1 names a course's
        author by mail, which changes; the id does not, so courses store it (``author_id``)
        and the models read the current mail from ``users``. The map comes from one users
        listing per run, read only when some course needs it."""
        if not isinstance(mail, str) or not mail:
            return None
        with self._user_ids_lock:
            if self._user_ids is None:
                self._user_ids = {
                    user["mail"].lower(): user_id
                    for user in self.users()
                    if isinstance(user, dict)
                    and isinstance(user.get("mail"), str)
                    and (user_id := id_of(user))
                }
        return self._user_ids.get(mail.lower())

    def classify_catalog_path(self, item_id: str) -> str:
        """``path`` or ``path_session`` for a catalog ``paths`` entry; the id sets are read once
        per run (two listings) and only if some catalog lists paths."""
        with self._path_ids_lock:
            if self._path_ids is None:
                path_ids: set[str] = set()
                session_ids: set[str] = set()
                for path in self.paths():
                    if path_id := id_of(path):
                        path_ids.add(path_id)
                    session_ids.update(
                        s for s in path.get("sessionIds") or () if isinstance(s, str)
                    )
                for session in self.path_sessions():
                    if session_id := id_of(session):
                        session_ids.add(session_id)
                self._path_ids = (path_ids, session_ids)
        return classify_catalog_path(item_id, *self._path_ids)
