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
RECORD_LISTS = {"user_courses", "user_programs", "path_session_user_stats", "program_session_stats"}
# what each single-item route answers, else retried then quarantined (``str``: has an ``_id``)
ITEM_SHAPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("course", "path", "user", "group"), (dict, str)),
    "group_catalog": (dict,),
    **dict.fromkeys(("user_courses", "user_programs", "group_programs"), (list,)),
    **dict.fromkeys(("path_session_user_stats", "program_session_stats"), (dict, list)),
}
# the listing a table's cursor filters, sent as the table's server filter
SINCE_FILTERS = {spec.routes[0]: spec.server_filter for spec in V1_TABLES.values() if spec.cursor}


def _method(route: str, **fixed: str) -> Callable[..., Any]:
    """A listing's elements (``since``: sent as its table's server filter), or one item by id:
    None when it vanished mid-sync (INFO if quiet) or stayed malformed; then it is quarantined
    (re-read next run), and one bad answer never fails the others."""
    template, shape = ROUTES[route], ITEM_SHAPES.get(route)
    id_name = template[template.index("{") + 1 : template.index("}")] if "{" in template else ""

    def listing(self: V1Api, since: Any = None) -> Iterator[dict[str, Any]]:
        since_filter = {SINCE_FILTERS[route]: format_api_timestamp(since)} if since else {}
        return self.client.iter_array(template, params={**fixed, **since_filter} or None)

    def single(self: V1Api, item_id: str, quiet: bool = False) -> Any:
        try:
            body = self.client.get_json(
                template, {id_name: item_id}, missing_ok=True, quiet=quiet, expect=shape
            )
        except UnexpectedBodyError as exc:
            reason = str(exc).rpartition("a body of ")[2]  # "null, not an object"
            why = f"GET {template} answered {reason} (retried)"
            self.client.stats.quarantine.reject(
                table_of_route(template), why, {"route": template, "id": item_id}, item_id
            )
            return None
        return self._only_records(template, body) if route in RECORD_LISTS else body

    return single if id_name else listing


class V1Api:
    def __init__(self, client: Learning360Client):
        self.client = client
        self._locks: dict[str, threading.Lock] = {}
        self._found: dict[str, Any] = {}

    users = _method("users", deleted="true")  # deleted users stay in the warehouse, flagged

    def _only_records(self, template: str, body: Any) -> Any:
        """Records (the list, or its ``usersStats``) that are not objects are quarantined."""
        keys = ("usersStats", "userStats") if isinstance(body, dict) else ()
        key = next((k for k in keys if k in body), None)
        holder = body.get(key) if key else body
        if not isinstance(holder, list) or all(isinstance(e, dict) for e in holder):
            return body
        for element in (e for e in holder if not isinstance(e, dict)):
            why = f"GET {template} element is {json_type(element)}, not an object"
            self.client.stats.quarantine.reject(table_of_route(template), why, element)
        records = [e for e in holder if isinstance(e, dict)]
        return records if key is None else {**body, key: records}

    def _once(self, compute: Callable[[], Any]) -> Any:
        """``compute()``'s value, computed once per run though fan-out threads ask at once."""
        with self._locks.setdefault(compute.__name__, threading.Lock()):
            if compute.__name__ not in self._found:
                self._found[compute.__name__] = compute()
            return self._found[compute.__name__]

    def user_id_of_mail(self, mail: Any) -> str | None:
        """The id of the user with this mail (case-insensitive): v1 names a course's author by
        mail, which changes. One users listing per run, read only when a course needs it."""
        if not isinstance(mail, str) or not mail:
            return None
        return self._once(self._user_ids).get(mail.lower())

    def _user_ids(self) -> dict[str, str]:
        users = (u for u in self.users() if isinstance(u, dict) and isinstance(u.get("mail"), str))
        return {user["mail"].lower(): user_id for user in users if (user_id := id_of(user))}

    def classify_catalog_path(self, item_id: str) -> str:
        """``path`` or ``path_session`` for a catalog entry; two listings, once per run."""
        return classify_catalog_path(item_id, *self._once(self._path_ids))

    def _path_ids(self) -> tuple[set[str], set[str]]:
        paths = list(self.paths())
        path_ids = {path_id for path in paths if (path_id := id_of(path))}
        sessions = {s for path in paths for s in path.get("sessionIds") or () if isinstance(s, str)}
        sessions.update(session_id for s in self.path_sessions() if (session_id := id_of(s)))
        return path_ids, sessions


for _route in ROUTES.keys() - set(vars(V1Api)):
    setattr(V1Api, _route, _method(_route))
