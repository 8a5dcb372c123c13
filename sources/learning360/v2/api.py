"""v2 routes as Python calls over the shared client, following ``Link: <…>; rel="next"``: one
method per route of ``V2_TABLES``, generated below. Pages are whole JSON documents, so a retried
page yields nothing twice; a listing that breaks after some pages fails the resource."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

from ..client import Learning360Client, Params, json_type
from ..cursors import Row, format_filter_date
from ..errors import MalformedResponseError, NotFoundError
from ..routes import V2_ROUTES as ROUTES
from ..tables import V2_TABLES

# the table a listing feeds (its rejects go there); the filter each table's cursor is sent as
TABLE_OF = {spec.routes[0]: name for name, spec in reversed(V2_TABLES.items())}
SINCE_FILTERS = {spec.routes[-1]: spec.server_filter for spec in V2_TABLES.values() if spec.cursor}


def _method(route: str, since_filter: str | None) -> Callable[..., Any]:
    """A listing's pages (non-objects quarantined), or every element under one parent (none if
    it is gone mid-sync); ``since`` is sent as ``since_filter``."""
    template = ROUTES[route]
    parent = template[template.index("{") + 1 : template.index("}")] if "{" in template else ""

    def params(since: Any) -> dict[str, str] | None:
        return {since_filter: format_filter_date(since)} if since_filter and since else None

    def listing(self: V2Api, since: Any = None) -> Iterator[list[Row]]:
        return self._records(route, params(since))

    def children(self: V2Api, parent_id: str, since: Any = None) -> list[Any]:
        return list(self.items(route, {parent: parent_id}, params=params(since), missing_ok=True))

    return children if parent else listing


class V2Api:
    def __init__(self, client: Learning360Client):
        self.client = client
        self._listing_lock = threading.Lock()
        self._listings: dict[str, list[Row]] = {}

    path_completions = _method("path_stats", "completedAt[gte]")  # no table's cursor

    def pages(
        self, route: str, path_params: Params = None, params: Params = None, missing_ok=False
    ) -> Iterator[list[Any]]:
        """Every page of a listing; ``missing_ok``: a parent gone (404 on page 1) yields none."""
        bounds, template = self.client.bounds, ROUTES[route]
        url, label, elements = None, f"GET {template}", 0
        read_urls: set[str] = set()  # a next link back to one of these would loop forever
        while True:
            if len(read_urls) >= bounds.max_listing_pages:
                raise bounds.too_large(label, "pages")
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
                raise bounds.too_large(label, "elements")
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
        return self.client.get_json(ROUTES[route], path_params, missing_ok=True)

    def user_custom_field_values(self, user_id: str) -> list[Row]:
        body = self.one("user_custom_field_values", {"user_id": user_id})
        return body if isinstance(body, list) else []

    def _records(self, route: str, params: Params = None) -> Iterator[list[Row]]:
        reject = self.client.stats.quarantine.reject
        for page in self.pages(route, params=params):
            for element in (e for e in page if not isinstance(e, Mapping)):
                why = f"GET {ROUTES[route]} element is {json_type(element)}, not an object"
                reject(TABLE_OF.get(route, route), why, element)
            yield [element for element in page if isinstance(element, Mapping)]

    def listing(self, route: str) -> list[Row]:
        """Every element of ``/users``, ``/groups`` or ``/classrooms``, read once per run and
        kept (a few MB at 20,000 users): the feed and the refresh fingerprints share it."""
        with self._listing_lock:
            if route not in self._listings:
                self._listings[route] = [row for page in self._records(route) for row in page]
            return self._listings[route]


for _route in {route for spec in V2_TABLES.values() for route in spec.routes} - set(vars(V2Api)):
    setattr(V2Api, _route, _method(_route, SINCE_FILTERS.get(_route)))
