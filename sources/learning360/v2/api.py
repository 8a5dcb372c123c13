"""v2 routes as Python calls over the shared client: Link-header pagination, one re-auth on
``401 invalid_token``, and v2 wording for errors.

Why not dlt's ``RESTClient``: it sends through its own ``requests`` session (``session.send``),
so our client's shared rate limiter (50 GET/s per company, shared by every fan-out thread),
retry policy (dlt's ``[runtime]`` settings, ``Retry-After``, 200-with-HTML pages), secret
redaction, request stats and error mapping would all be bypassed or duplicated (a second retry
layer with its own limits). What RESTClient would add here is the Link loop, and the part of it
worth reusing is its paginator: each page is fetched by ``Learning360Client.get_page`` and dlt's
``HeaderLinkPaginator`` reads the ``Link: <…>; rel="next"`` header (case-insensitive, absolute
or relative URLs resolved against the page's URL) and says whether another page exists.

Pages are whole JSON documents, so a retried page (5xx, truncated body) yields nothing twice.
A listing that breaks after some pages fails the resource (the next token may be stale); dlt
then loads nothing of the table for that run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import requests
from dlt.common import logger
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from ..client import json_type
from ..errors import AuthenticationError, Learning360Error, MalformedResponseError, NotFoundError
from ..routes import V2_ROUTES as ROUTES
from ..timestamps import format_filter_date
from . import errors as v2_errors

# listings whose route key is not the table's name
LISTING_TABLES = {"course_stats": "user_courses", "path_stats": "user_path_sessions"}

if TYPE_CHECKING:
    from ..client import Learning360Client
    from .auth import V2TokenAuth

Row = dict[str, Any]


class V2Api:
    def __init__(self, client: Learning360Client, auth: V2TokenAuth):
        self.client = client
        self.auth = auth
        self._listing_lock = threading.Lock()
        self._listings: dict[str, list[Row]] = {}

    # ---- transport ----------------------------------------------------------------------

    def _send(self, route: str, path_params: Mapping[str, str] | None, params: Any, url: Any):
        """One page; on ``401 invalid_token`` the token this thread sent is dropped and the
        page requested once more with a fresh one. v2 errors re-worded (``errors.py``)."""
        template = ROUTES[route]
        failure: Learning360Error | None = None
        for attempt in (1, 2):
            try:
                return self.client.get_page(template, path_params, params, url=url)
            except NotFoundError:
                raise
            except AuthenticationError as exc:
                if attempt == 1 and exc.status == 401 and exc.code == "invalid_token":
                    self.auth.invalidate(self.auth.last_used())
                    self.client.stats.record_reauthentication()
                    logger.info(
                        "360Learning v2: access token refused (expired?), fetching a new one"
                    )
                    continue
                failure = v2_errors.resource_error(exc, template)
            except Learning360Error as exc:
                failure = v2_errors.resource_error(exc, template)
            break
        assert failure is not None
        raise failure  # outside `except`: no chained context

    def pages(
        self,
        route: str,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        missing_ok: bool = False,
    ) -> Iterator[list[Any]]:
        """Every page of a listing, following ``Link: <…>; rel="next"``. With ``missing_ok``
        a parent gone mid-sync (404 on its first page) yields nothing, after a warning."""
        paginator = HeaderLinkPaginator()
        cursor = requests.Request("GET")  # the paginator keeps the next URL here
        url: str | None = None
        bounds = self.client.bounds
        label = f"GET {ROUTES[route]}"
        read_urls: set[str] = set()  # a next link back to one of these would loop forever
        elements = 0
        while True:
            if len(read_urls) >= bounds.max_listing_pages:
                raise bounds.too_many_pages(label)
            try:
                body, response = self._send(route, path_params, params, url)
            except NotFoundError as exc:
                if not missing_ok or url is not None:
                    raise
                self.client.stats.record_missing()
                logger.warning(
                    f"360Learning: skipped an item that is gone (deleted mid-sync?): {exc}"
                )
                return
            if not isinstance(body, list):
                raise MalformedResponseError(
                    f"360Learning sent no JSON array for GET {ROUTES[route]} (API v2 lists are "
                    "bare arrays): check sources.learning360.base_url",
                    route=ROUTES[route],
                )
            elements += len(body)
            if elements > bounds.max_listing_elements:
                raise bounds.too_many_elements(label, elements)
            yield body
            read_urls.add(response.url)
            paginator.update_state(response, body)
            if not paginator.has_next_page:
                return
            cursor.url = response.url
            paginator.update_request(cursor)
            url = cursor.url
            if url in read_urls:
                raise bounds.looping_link(label, len(read_urls))

    def items(self, route: str, path_params: Mapping[str, str] | None = None, **kw: Any):
        for page in self.pages(route, path_params, **kw):
            yield from page

    def one(self, route: str, path_params: Mapping[str, str] | None = None) -> Any:
        """A single document (not paginated); None when the item is gone (404)."""
        try:
            body, _ = self._send(route, path_params, None, None)
        except NotFoundError as exc:
            self.client.stats.record_missing()
            logger.warning(f"360Learning: skipped an item that is gone (deleted mid-sync?): {exc}")
            return None
        return body

    # ---- listings -----------------------------------------------------------------------

    @staticmethod
    def _since(name: str, value: Any) -> dict[str, str] | None:
        return {name: format_filter_date(value)} if value else None

    def courses(self, modified_since: Any = None) -> Iterator[list[Row]]:
        return self._records(
            "courses", self.pages("courses", params=self._since("modifiedAt[gte]", modified_since))
        )

    def course_stats(self, completed_since: Any = None) -> Iterator[list[Row]]:
        return self._records(
            "course_stats",
            self.pages("course_stats", params=self._since("completedAt[gte]", completed_since)),
        )

    def users(self) -> Iterator[list[Row]]:
        """Deleted users included (``status: deleted``): v2 lists them unless filtered."""
        return self._records("users", self.pages("users"))

    def groups(self) -> Iterator[list[Row]]:
        return self._records("groups", self.pages("groups"))

    def paths(self, modified_since: Any = None) -> Iterator[list[Row]]:
        return self._records(
            "paths", self.pages("paths", params=self._since("modifiedAt[gte]", modified_since))
        )

    def path_sessions(self, modified_since: Any = None) -> Iterator[list[Row]]:
        return self._records(
            "path_sessions",
            self.pages("path_sessions", params=self._since("modifiedAt[gte]", modified_since)),
        )

    def path_stats(self) -> Iterator[list[Row]]:
        return self._records("path_stats", self.pages("path_stats"))

    def skills(self) -> Iterator[list[Row]]:
        return self._records("skills", self.pages("skills"))

    def custom_fields(self) -> Iterator[list[Row]]:
        return self._records("custom_fields", self.pages("custom_fields"))

    def classrooms(self) -> Iterator[list[Row]]:
        return self._records("classrooms", self.pages("classrooms"))

    def _records(self, route: str, pages: Iterator[list[Any]]) -> Iterator[list[Row]]:
        """A listing's pages without the elements that are not objects (``null``, ``42``):
        each is quarantined (``_learning360_rejected``), the others load."""
        quarantine = self.client.stats.quarantine
        for page in pages:
            records = [element for element in page if isinstance(element, Mapping)]
            if len(records) != len(page):
                for element in page:
                    if not isinstance(element, Mapping):
                        quarantine.reject(
                            LISTING_TABLES.get(route, route),
                            f"GET {ROUTES[route]} element is {json_type(element)}, not an object",
                            element,
                        )
            yield records

    # ---- per parent (fan-outs): a parent gone mid-sync yields nothing ---------------------

    def group_roles(self, group_id: str) -> list[Row]:
        return list(self.items("group_roles", {"group_id": group_id}, missing_ok=True))

    def catalog_course_ids(self, group_id: str) -> list[Any]:
        return list(self.items("catalog_course_ids", {"group_id": group_id}, missing_ok=True))

    def catalog_path_session_ids(self, group_id: str) -> list[Any]:
        return list(self.items("catalog_path_session_ids", {"group_id": group_id}, missing_ok=True))

    def user_certificates(self, user_id: str, delivered_since: Any = None) -> list[Row]:
        params = self._since("deliveryDate[gte]", delivered_since)
        return list(
            self.items("user_certificates", {"user_id": user_id}, params=params, missing_ok=True)
        )

    def user_custom_field_values(self, user_id: str) -> list[Row]:
        body = self.one("user_custom_field_values", {"user_id": user_id})
        return body if isinstance(body, list) else []

    def classroom_slots(self, classroom_id: str) -> list[Row]:
        return list(self.items("classroom_slots", {"classroom_id": classroom_id}, missing_ok=True))

    def classroom_registrations(self, classroom_id: str) -> list[Row]:
        return list(
            self.items("classroom_registrations", {"classroom_id": classroom_id}, missing_ok=True)
        )

    # ---- listings read once per run, shared by several resources -------------------------

    def listing(self, route: str) -> list[Row]:
        """Every element of ``/users`` or ``/groups``, read once per run and kept (a few MB at
        20,000 users): the feed and the refresh fingerprints share it."""
        with self._listing_lock:
            if route not in self._listings:
                rows = [r for page in self._records(route, self.pages(route)) for r in page]
                self._listings[route] = rows
            return self._listings[route]

    def path_completions(self, completed_since: Any = None) -> Iterator[list[Row]]:
        """Path statistics completed since ``completed_since`` (every one when None)."""
        return self._records(
            "path_stats",
            self.pages("path_stats", params=self._since("completedAt[gte]", completed_since)),
        )
