"""v2 routes as Python calls over the shared client, following ``Link: <…>; rel="next"``.
Pages are whole JSON documents, so a retried page yields nothing twice; a listing that breaks
after some pages fails the resource, and dlt loads nothing of that table for the run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

from ..client import Learning360Client, Params, json_type
from ..cursors import format_filter_date
from ..errors import MalformedResponseError, NotFoundError
from ..routes import V2_ROUTES as ROUTES
from ..tables import V2_TABLES

# listings whose route key is not the table's name
LISTING_TABLES = {"course_stats": "user_courses", "path_stats": "user_path_sessions"}

Row = dict[str, Any]


def _since(name: str | None, value: Any) -> dict[str, str] | None:
    return {name: format_filter_date(value)} if name and value else None


def _listing(route: str, since_filter: str | None = None) -> Callable[..., Any]:
    """Pages of a listing, non-objects quarantined; ``since_filter`` takes the cursor."""

    def listing(self: V2Api, since: Any = None) -> Iterator[list[Row]]:
        return self._records(route, self.pages(route, params=_since(since_filter, since)))

    return listing


def _children(route: str, since_filter: str | None = None) -> Callable[..., Any]:
    """Every element under one parent; a parent gone mid-sync yields nothing."""
    template = ROUTES[route]
    parent = template[template.index("{") + 1 : template.index("}")]

    def children(self: V2Api, parent_id: str, since: Any = None) -> list[Any]:
        params = _since(since_filter, since)
        return list(self.items(route, {parent: parent_id}, params=params, missing_ok=True))

    return children


class V2Api:
    def __init__(self, client: Learning360Client):
        self.client = client
        self._listing_lock = threading.Lock()
        self._listings: dict[str, list[Row]] = {}

    def pages(
        self, route: str, path_params: Params = None, params: Params = None, missing_ok=False
    ) -> Iterator[list[Any]]:
        """Every page of a listing; ``missing_ok``: a parent gone (404 on page 1) yields none."""
        url: str | None = None
        bounds, template = self.client.bounds, ROUTES[route]
        label = f"GET {template}"
        read_urls: set[str] = set()  # a next link back to one of these would loop forever
        elements = 0
        while True:
            if len(read_urls) >= bounds.max_listing_pages:
                raise bounds.too_many_pages(label)
            try:
                body, response = self.client.get_page(template, path_params, params, url=url)
            except NotFoundError as exc:
                if not missing_ok or url is not None:
                    raise
                self.client.skip_missing(exc)
                return
            if not isinstance(body, list):
                raise MalformedResponseError(
                    f"360Learning sent no JSON array for {label} (API v2 lists are bare arrays): "
                    "check sources.learning360.base_url",
                    route=template,
                )
            elements += len(body)
            if elements > bounds.max_listing_elements:
                raise bounds.too_many_elements(label, elements)
            yield body
            read_urls.add(response.url)
            if not (next_link := response.links.get("next", {}).get("url")):
                return
            url = urljoin(response.url, next_link)
            if url in read_urls:
                raise bounds.looping_link(label, len(read_urls))

    def items(self, route: str, path_params: Params = None, **kw: Any) -> Iterator[Any]:
        for page in self.pages(route, path_params, **kw):
            yield from page

    def one(self, route: str, path_params: Params = None) -> Any:
        """A single document (not paginated); None when the item is gone (404)."""
        try:
            return self.client.get_page(ROUTES[route], path_params)[0]
        except NotFoundError as exc:
            self.client.skip_missing(exc)
            return None

    courses = _listing("courses", V2_TABLES["courses"].server_filter)
    course_stats = _listing("course_stats", V2_TABLES["user_courses"].server_filter)
    path_sessions = _listing("path_sessions")
    path_stats = _listing("path_stats")
    path_completions = _listing("path_stats", "completedAt[gte]")  # no table's cursor
    paths = _listing("paths", V2_TABLES["paths"].server_filter)
    skills = _listing("skills")
    custom_fields = _listing("custom_fields")

    group_roles = _children("group_roles")
    catalog_course_ids = _children("catalog_course_ids")
    catalog_path_session_ids = _children("catalog_path_session_ids")
    user_certificates = _children("user_certificates", V2_TABLES["user_certificates"].server_filter)
    classroom_slots = _children("classroom_slots")
    classroom_registrations = _children("classroom_registrations")

    def user_custom_field_values(self, user_id: str) -> list[Row]:
        body = self.one("user_custom_field_values", {"user_id": user_id})
        return body if isinstance(body, list) else []

    def _records(self, route: str, pages: Iterator[list[Any]]) -> Iterator[list[Row]]:
        """A listing's pages without the elements that are not objects: each is quarantined."""
        for page in pages:
            for element in page:
                if not isinstance(element, Mapping):
                    self.client.stats.quarantine.reject(
                        LISTING_TABLES.get(route, route),
                        f"GET {ROUTES[route]} element is {json_type(element)}, not an object",
                        element,
                    )
            yield [element for element in page if isinstance(element, Mapping)]

    def listing(self, route: str) -> list[Row]:
        """Every element of ``/users``, ``/groups`` or ``/classrooms``, read once per run and
        kept (a few MB at 20,000 users): the feed and the refresh fingerprints share it."""
        with self._listing_lock:
            if route not in self._listings:
                rows = [r for page in self._records(route, self.pages(route)) for r in page]
                self._listings[route] = rows
            return self._listings[route]
