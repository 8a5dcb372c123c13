"""v1 routes as Python calls, raw elements out: one method per ``routes.V1_ROUTES`` key,
generated below; only the derived lookups are written out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..client import Learning360Client, json_type
from ..cursors import format_api_timestamp
from ..errors import UnexpectedBodyError
from ..quarantine import table_of_route
from ..routes import V1_ROUTES as ROUTES
from ..tables import V1_TABLES
from .parsing import classify_catalog_path, id_of

# item routes whose answer is a list of records (or holds one under usersStats)
RECORD_LISTS = frozenset(
    ("user_courses", "user_programs", "path_session_user_stats", "program_session_stats")
)
# what each single-item route answers, else retried then quarantined (``str``: has an ``_id``)
ITEM_SHAPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("course", "path", "user", "group"), (dict, str)),
    "group_catalog": (dict,),
    **dict.fromkeys(("user_courses", "user_programs", "group_programs"), (list,)),
    **dict.fromkeys(("path_session_user_stats", "program_session_stats"), (dict, list)),
}
# the listing a table's cursor filters, sent as the table's server filter
SINCE_FILTERS = {spec.routes[0]: spec.server_filter for spec in V1_TABLES.values() if spec.cursor}


def _listing(route: str, **fixed: str) -> Callable[..., Any]:
    def listing(self: V1Api, since: Any = None) -> Iterator[dict[str, Any]]:
        since_filter = {SINCE_FILTERS[route]: format_api_timestamp(since)} if since else {}
        return self.client.iter_array(ROUTES[route], params={**fixed, **since_filter} or None)

    return listing


def _single(route: str) -> Callable[..., Any]:
    """One item by id; None when it vanished mid-sync (INFO if quiet) or stayed malformed: then
    it is quarantined (re-read next run), and one bad answer never fails the others."""
    template, shape = ROUTES[route], ITEM_SHAPES.get(route)
    id_name = template[template.index("{") + 1 : template.index("}")]

    def single(self: V1Api, item_id: str, quiet: bool = False) -> Any:
        try:
            body = self.client.get_json(
                template, {id_name: item_id}, missing_ok=True, quiet=quiet, expect=shape
            )
        except UnexpectedBodyError as exc:
            reason = str(exc).split(": ", 1)[-1]  # "a body of null, not an object"
            self.client.stats.quarantine.reject(
                table_of_route(template),
                f"GET {template} answered {reason[len('a body of ') :]} (retried)",
                {"route": template, "id": item_id},
                item_id,
            )
            return None
        return self._only_records(template, body) if route in RECORD_LISTS else body

    return single


class V1Api:
    def __init__(self, client: Learning360Client):
        self.client = client
        self._path_ids_lock = threading.Lock()
        self._path_ids: tuple[set[str], set[str]] | None = None
        self._user_ids_lock = threading.Lock()
        self._user_ids: dict[str, str] | None = None

    users = _listing("users", deleted="true")  # deleted users stay in the warehouse, flagged

    def _only_records(self, template: str, body: Any) -> Any:
        """Records (the list, or its ``usersStats``) that are not objects are quarantined."""
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

    def user_id_of_mail(self, mail: Any) -> str | None:
        """The id of the user with this mail (case-insensitive): v1 names a course's author by
        mail, which changes. One users listing per run, read only when a course needs it."""
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
        """``path`` or ``path_session`` for a catalog entry; two listings, once per run."""
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


for _route, _template in ROUTES.items():
    if not hasattr(V1Api, _route):
        setattr(V1Api, _route, _single(_route) if "{" in _template else _listing(_route))
