"""The only place that speaks HTTP to 360Learning.

One ``requests.Session`` (pool sized for the fan-out), one client-side rate limiter shared by
all threads, retries with exponential backoff, streaming JSON, error mapping and secret
redaction. Hand-written rather than dlt's ``RESTClient``/``requests`` helper because v1 needs
things those do not do: restart a *streamed* array mid-way without yielding duplicates,
re-authenticate once on ``401 jwt expired``, treat a ``200`` HTML page as a retryable fault,
throttle across threads, and count requests per route template. The retry *settings* are dlt's
own: ``[runtime] request_max_attempts``, ``request_backoff_factor``,
``request_max_retry_delay`` and ``request_timeout``.

Streaming-retry semantics (``iter_array``): elements are parsed one by one with ijson and
yielded as soon as they are complete. If the stream breaks (connection reset, truncated body,
invalid JSON), the request is restarted and every element already yielded is skipped, matched
by its ``_id`` (by position when elements have no ``_id``). So a retry yields no duplicates
and, unless the server reorders id-less elements between two requests, loses nothing; memory
holds only the yielded keys, never the elements.

Bad records in a listing (``iter_array``): an element repeated within one answer (same
``_id``) is yielded once, and on a route listed in ``id_keyed_routes`` (the listings whose
elements are records keyed by ``_id``) an element without an ``_id`` is not yielded: it could
not be stored (the key is NOT NULL) nor fanned out (getX needs the id). Both are logged as a
WARNING and counted in ``RequestStats.dropped``; never silently. See docs/reliability.md.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import ijson
import requests
from dlt.common import logger
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from pyrate_limiter import InMemoryBucket, Limiter, Rate
from requests.adapters import HTTPAdapter

from .auth import Auth, Token, build_auth, token_request_body
from .bounds import Bounds, ResponseWatchdog
from .credentials import Learning360Credentials
from .errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    Learning360Error,
    MalformedResponseError,
    NotFoundError,
    auth_error,
    config_key,
    connection_error,
    not_an_api_error,
    token_error,
)
from .quarantine import table_of_route
from .redaction import install_log_filter, redact
from .stats import RequestStats
from .v1.parsing import error_code, is_not_found, parse_expires_in

USER_AGENT = "learning360-dlt-source/1.0"
TOKEN_ROUTE = "POST /api/v2/oauth2/token"
STREAM_CHUNK_BYTES = 64 * 1024

install_log_filter()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_factor: float = 1.0
    max_retry_delay: float = 300.0
    timeout: float = 60.0

    @classmethod
    def from_dlt_config(cls) -> RetryPolicy:
        """dlt's ``[runtime]`` request settings (env ``RUNTIME__REQUEST_MAX_ATTEMPTS`` ...)."""
        runtime = resolve_configuration(RuntimeConfiguration())
        if not float(runtime.request_timeout) > 0:  # requests would fail every attempt
            raise ConfigurationError(
                f"runtime.request_timeout (env RUNTIME__REQUEST_TIMEOUT) is "
                f"{runtime.request_timeout!r}; it must be above 0"
            )
        return cls(
            max_attempts=max(1, int(runtime.request_max_attempts)),
            backoff_factor=float(runtime.request_backoff_factor),
            max_retry_delay=float(runtime.request_max_retry_delay),
            timeout=float(runtime.request_timeout),
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt ``attempt + 1``: ``Retry-After`` if sent, else exponential."""
        wait = retry_after if retry_after is not None else self.backoff_factor * 2 ** (attempt - 1)
        return max(0.0, min(wait, self.max_retry_delay))


def build_limiter(max_requests_per_second: float) -> Limiter | None:
    """A limiter that blocks until a slot frees. Two windows (per 100 ms and per second) so
    40/s means ~4 every 100 ms, not a burst of 40 at the start of each second."""
    if not max_requests_per_second or max_requests_per_second <= 0:
        return None
    if max_requests_per_second >= 10:
        per_second = int(max_requests_per_second)
        rates = [Rate(max(1, per_second // 10), 100), Rate(per_second, 1000)]
    else:
        rates = [Rate(1, max(1, int(1000 / max_requests_per_second)))]
    return Limiter(
        InMemoryBucket(rates),
        raise_when_fail=False,
        max_delay=60_000,
        retry_until_max_delay=True,
        buffer_ms=5,
    )


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class _BrokenStream(Exception):
    """Internal: the streamed body broke after the status line."""


class _StreamReader:
    """File-like view of a streamed response for ijson; counts bytes, maps stream errors."""

    def __init__(self, response: requests.Response, on_bytes: Callable[[int], None]):
        self._chunks = response.iter_content(chunk_size=STREAM_CHUNK_BYTES)
        self._on_bytes = on_bytes
        self.first_char: str | None = None

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) to tell bytes from str
            return b""
        try:
            chunk = next(self._chunks, b"")
        except (requests.RequestException, OSError) as exc:
            raise _BrokenStream(type(exc).__name__) from None
        self._on_bytes(len(chunk))
        if self.first_char is None and chunk.strip():
            self.first_char = chunk.lstrip()[:1].decode("latin-1")
        return chunk


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _looks_like_json(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return not content_type or "json" in content_type.lower()


class Learning360Client:
    """HTTP access to ``<base_url>/api/<version>``; thread-safe, shared by all resources."""

    def __init__(
        self,
        base_url: str,
        credentials: Learning360Credentials,
        *,
        api_version: str = "v1",
        max_requests_per_second: float = 40.0,
        workers: int = 8,
        stats: RequestStats | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        bounds: Bounds | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_url = f"{self.base_url}/api/{api_version}"
        self.token_url = f"{self.base_url}/api/v2/oauth2/token"
        self.workers = max(1, int(workers))
        self.stats = stats if stats is not None else RequestStats()
        self.retry = retry or RetryPolicy.from_dlt_config()
        self._credentials = credentials
        self._limiter = build_limiter(max_requests_per_second)
        self._sleep = sleep
        self.bounds = bounds or Bounds()
        self._watchdog = ResponseWatchdog()  # response_deadline: see bounds.py
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.workers + 4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.auth: Auth = build_auth(credentials, self._fetch_token)
        # listing routes (templates) whose elements must carry an ``_id``; set by the adapter
        self.id_keyed_routes: frozenset[str] = frozenset()
        # the host answered at least once: a refused connection is then an outage, not config
        self._answered = False
        # listing elements already counted as dropped, per URL: a listing read twice in a run
        # (users: the table and the author map) or restarted counts each bad element once
        self._reported: dict[str, set[Any]] = {}

    # ---- public API --------------------------------------------------------------------

    def get_json(
        self,
        route: str,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        missing_ok: bool = False,
        quiet: bool = False,
        expect: tuple[type, ...] | None = None,
    ) -> Any:
        """GET one JSON document. With ``missing_ok``, a missing item (404, 400 ``*_not_found``)
        returns None after a warning (INFO if ``quiet``) instead of raising. With ``expect``
        (e.g. ``(dict,)``), a body of another JSON type (``200 null``, an object where a list
        is expected, an object without ``_id`` where ``dict`` with ``"_id"`` is asked) is
        retried like a 5xx, then raises :class:`UnexpectedBodyError`."""
        url = self._url(route, path_params)

        def parse(response: requests.Response) -> Any:
            body = self._parse_body(response)
            problem = _wrong_shape(body, expect) if expect else None
            if problem:
                raise _Retry(f"200 with {problem}")
            return body

        try:
            return self._request("GET", route, url, params=params, parse=parse)
        except NotFoundError as exc:
            if not missing_ok:
                raise
            self.stats.record_missing()
            log = logger.info if quiet else logger.warning
            log(f"360Learning: skipped an item that is gone (deleted mid-sync?): {exc}")
            return None

    def iter_array(
        self,
        route: str,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        item_prefix: str = "item",
    ) -> Iterator[Any]:
        """Yield the elements of a JSON array one by one from the streamed body (``item_prefix``
        is ijson's path: ``item`` for a top-level array). Retry-safe, see module docstring."""
        url = self._url(route, path_params)
        require_id = route in self.id_keyed_routes
        yielded: dict[Any, int] = {}  # element key -> the attempt that last saw it
        reported = self._reported.setdefault(url, set())  # keys already counted as dropped
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._request("GET", route, url, params=params, stream=True)
            except NotFoundError:
                # a listing is never "gone": the host does not serve this API
                error = not_an_api_error(self.base_url, f"404 to GET {self.api_url}/{route}")
            else:
                error = None
            if error is not None:
                raise error  # outside `except`: no chained context
            failure: str | None = None
            past_deadline = False
            watch = getattr(response, _WATCH, None)
            extended_at = time.monotonic()
            try:
                reader = _StreamReader(response, self.stats.record_bytes)
                for position, element in enumerate(
                    ijson.items(reader, item_prefix, use_float=True)
                ):
                    if position >= self.bounds.max_listing_elements:
                        raise self.bounds.too_many_elements(f"GET {route}", position)
                    if time.monotonic() - extended_at >= 1.0:  # progress: the deadline moves
                        extended_at = time.monotonic()
                        self._watchdog.extend(watch, self.bounds.response_deadline)
                    key = self._element_key(element, position)
                    if item_prefix == "item" and not isinstance(element, Mapping):
                        # a null or a bare value among records: refuse it, keep the others
                        if key not in reported:
                            reported.add(key)
                            self.stats.quarantine.reject(
                                table_of_route(route),
                                f"GET {route} element is {json_type(element)}, not an object",
                                element,
                            )
                        continue
                    if require_id and isinstance(element, Mapping) and isinstance(key, tuple):
                        if key not in reported:  # a restart sees it again: count it once
                            reported.add(key)
                            self._drop(route, "without an _id", "", element)
                        continue
                    seen_in = yielded.get(key)
                    yielded[key] = attempt
                    if seen_in == attempt:
                        if key not in reported:
                            reported.add(key)
                            self._drop(route, "with a duplicate _id", f" {key}", element)
                        continue
                    if seen_in is not None:
                        continue  # read before the stream broke: already yielded
                    yield element
                if item_prefix == "item" and reader.first_char not in (None, "["):
                    raise _BrokenStream("expected a JSON array")
                return
            except _BrokenStream as exc:
                failure = f"stream broke ({exc})"
            except ijson.JSONError as exc:
                failure = f"body is not complete JSON ({type(exc).__name__})"
            finally:
                past_deadline = self._watchdog.release(watch)
                response.close()
            if past_deadline:
                failure = self._past_deadline()
            if attempt >= self.retry.max_attempts and past_deadline:
                raise ApiError(
                    f"360Learning GET {route} failed after {attempt} attempts: {failure}",
                    route=route,
                )
            if attempt >= self.retry.max_attempts:
                raise MalformedResponseError(
                    f"360Learning sent an unusable body for GET {route} after {attempt} "
                    f"attempts: {failure}",
                    route=route,
                )
            self.stats.record_retry()
            delay = self.retry.delay(attempt)
            logger.warning(
                f"360Learning GET {route}: {failure}; restarting the request in {delay:.1f}s, "
                f"skipping the {len(yielded)} elements already read"
            )
            self._sleep(delay)

    def get_page(
        self,
        route: str,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        url: str | None = None,
    ) -> tuple[Any, requests.Response]:
        """GET one page of a paginated route (API v2): the parsed JSON body and the (closed)
        response, whose headers carry the ``Link`` to the next page. ``url`` (absolute, e.g.
        a ``Link`` rel="next") replaces the route's URL and ``params``; ``route`` still labels
        stats and errors. Retries, rate limit, auth and error mapping as for every call."""
        target = url or self._url(route, path_params)
        return self._request(
            "GET",
            route,
            target,
            params=None if url else params,
            parse=lambda response: (self._parse_body(response), response),
        )

    def request_token(self, body: Mapping[str, Any]) -> Any:
        """POST a token request (``body`` as the API version wants it, e.g. v2 client
        credentials) to the token route; the parsed answer. Errors as for v1's token."""
        return self._request(
            "POST",
            TOKEN_ROUTE,
            self.token_url,
            json=dict(body),
            parse=self._parse_body,
            authenticate=False,
        )

    def close(self) -> None:
        self.session.close()

    # ---- internals ---------------------------------------------------------------------

    def _past_deadline(self) -> str:
        return (
            f"no complete answer within {self.bounds.response_deadline:g}s "
            f"({config_key('response_deadline')})"
        )

    def _drop(self, route: str, why: str, detail: str, element: Mapping[str, Any]) -> None:
        """A listing element that cannot be stored: quarantined (a warning naming its key, never
        its values) and counted in the sync summary."""
        self.stats.record_dropped(f"GET {route} element {why}")
        self.stats.quarantine.reject(
            table_of_route(route), f"GET {route} element {why}", element, detail.strip() or None
        )

    @staticmethod
    def _element_key(element: Any, position: int) -> Any:
        if isinstance(element, Mapping):
            element_id = element.get("_id")
            if isinstance(element_id, str):
                return element_id
        return ("#", position)

    def _url(self, route: str, path_params: Mapping[str, str] | None) -> str:
        quoted = {key: quote(str(value), safe="") for key, value in (path_params or {}).items()}
        return f"{self.api_url}/{route.format(**quoted)}"

    def _fetch_token(self) -> Token:
        body = token_request_body(self._credentials.company_id, self._credentials.api_key)
        payload = self._request(
            "POST",
            TOKEN_ROUTE,
            self.token_url,
            json=body,
            parse=self._parse_body,
            authenticate=False,
        )
        token = payload.get("access_token") if isinstance(payload, Mapping) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                "360Learning's token route answered without an access_token: check "
                "sources.learning360.base_url points at a 360Learning host"
            )
        return Token(token, parse_expires_in(payload.get("expires_in")))

    def _parse_body(self, response: requests.Response) -> Any:
        content = response.content  # may raise ChunkedEncodingError: caught by the caller
        self.stats.record_bytes(len(content))
        if not _looks_like_json(response):
            raise _Retry(f"200 with a non-JSON body ({response.headers.get('Content-Type')})")
        try:
            return response.json()
        except ValueError:
            raise _Retry("200 with a truncated or invalid JSON body") from None

    def _request(
        self,
        method: str,
        route: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        stream: bool = False,
        parse: Callable[[requests.Response], Any] | None = None,
        authenticate: bool = True,
    ) -> Any:
        """Send with retries. Returns ``parse(response)`` or, without ``parse``, the open
        ``200`` response (streaming). Raises only :class:`Learning360Error` subclasses."""
        attempt = 0
        reauthenticated = False
        label = route if route.startswith(("GET ", "POST ")) else f"{method} {route}"
        while True:
            attempt += 1
            error: Learning360Error | None = None
            retry: _Retry | None = None
            try:
                return self._attempt(method, label, url, params, json, stream, parse, authenticate)
            except _ExpiredToken as expired:
                if reauthenticated or not self.auth.invalidate(expired.used_token):
                    error = expired.error
                else:
                    reauthenticated = True
                    attempt -= 1  # a fresh token is not a retry of a faulty server
                    self.stats.record_reauthentication()
                    logger.info("360Learning: OAuth token expired, fetching a new one")
                    continue
            except _Retry as exc:
                retry = exc
            except Learning360Error as exc:
                error = exc
            if error is not None:
                raise error  # raised outside `except`: no __context__ carrying a raw URL
            assert retry is not None
            if retry.reason == "connection refused" and not self._answered and attempt >= 2:
                # nothing has ever listened there in this run: a wrong base_url or port, as
                # `doctor` says at once; not worth a minute of retries (docs/reliability.md)
                raise connection_error(
                    self.base_url, f"{retry.reason}, {attempt} attempts", transient=False
                )
            if attempt >= self.retry.max_attempts:
                raise self._exhausted(label, url, retry, attempt)
            self.stats.record_retry(rate_limited=retry.rate_limited)
            delay = self.retry.delay(attempt, retry.retry_after)
            # a 429 is the API pacing us: counted in progress and the summary, not a warning
            log = logger.info if retry.rate_limited else logger.warning
            log(
                f"360Learning {label}: {retry.reason}; retry {attempt}/"
                f"{self.retry.max_attempts - 1} in {delay:.1f}s"
            )
            self._sleep(delay)

    def _exhausted(self, label: str, url: str, retry: _Retry, attempts: int) -> Learning360Error:
        if retry.reason.startswith("connection"):
            return connection_error(self.base_url, f"{retry.reason}, {attempts} attempts")
        if retry.reason.startswith("200 with a body of"):
            return UnexpectedBodyError(
                f"360Learning sent an unusable body for {label} after {attempts} attempts: "
                f"{retry.reason[len('200 with ') :]}",
                route=label,
            )
        if "non-JSON" in retry.reason or "invalid JSON" in retry.reason:
            return MalformedResponseError(
                f"360Learning sent an unusable body for {label} after {attempts} attempts: "
                f"{retry.reason}; check sources.learning360.base_url",
                route=label,
            )
        return ApiError(
            f"360Learning {label} failed after {attempts} attempts: {retry.reason}", route=label
        )

    def _attempt(
        self,
        method: str,
        label: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        stream: bool,
        parse: Callable[[requests.Response], Any] | None,
        authenticate: bool,
    ) -> Any:
        headers: dict[str, str] = {}
        query: dict[str, Any] = dict(params or {})
        used_token = self.auth.apply(headers, query) if authenticate else None
        if self._limiter is not None:
            while not self._limiter.try_acquire("360learning"):
                pass  # try_acquire sleeps until a slot frees; loops only past max_delay
        self.stats.record_request(label)
        connection_failure: str | None = None
        sent_at = time.monotonic()
        try:
            # always streamed: the body is read under the response deadline (bounds.py)
            response = self.session.request(
                method,
                url,
                params=query,
                json=json,
                headers=headers,
                stream=True,
                timeout=self.retry.timeout,
            )
        except requests.exceptions.SSLError:
            # https:// to a plain-http port, or a certificate the client refuses: retrying
            # cannot fix it, the configuration can (exit 2)
            raise connection_error(
                self.base_url,
                "TLS handshake failed: an https:// URL on a plain http port, or a certificate "
                "problem",
                transient=False,
            ) from None
        except requests.exceptions.ConnectionError as exc:
            connection_failure = _describe_connection_error(exc)
        except requests.exceptions.Timeout:
            connection_failure = f"connection timed out after {self.retry.timeout:g}s"
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise _Retry(f"body cut short ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            connection_failure = f"connection failed ({type(exc).__name__})"
        if connection_failure is not None:
            if "name resolution" in connection_failure:
                # a typo: no retry
                raise connection_error(self.base_url, connection_failure, transient=False)
            raise _Retry(connection_failure)

        self._answered = True
        remaining = self.bounds.response_deadline - (time.monotonic() - sent_at)
        watch = self._watchdog.watch(response, remaining)
        status = response.status_code
        if 200 <= status < 300:
            if parse is None and stream:
                if not _looks_like_json(response):
                    self._watchdog.release(watch)
                    response.close()
                    raise _Retry(
                        f"200 with a non-JSON body ({response.headers.get('Content-Type')})"
                    )
                setattr(response, _WATCH, watch)  # released by the reader (iter_array)
                return response
            cut_short: str | None = None
            try:
                if parse is None:
                    _ = response.content  # read now, under the deadline, as stream=False would
                    return response
                return parse(response)
            except (requests.RequestException, OSError) as exc:
                cut_short = f"body cut short ({type(exc).__name__})"
            except _Retry as exc:
                cut_short = exc.reason
            finally:
                past_deadline = self._watchdog.release(watch)
                response.close()
            raise _Retry(self._past_deadline() if past_deadline else cut_short)

        body = _read_error_body(response)
        self.stats.record_bytes(len(response.content or b"") if body is not None else 0)
        if self._watchdog.release(watch):
            response.close()
            raise _Retry(self._past_deadline())
        response.close()
        code, description = error_code(body)
        if label == TOKEN_ROUTE and status in (400, 401):
            raise token_error(status, code)
        if label == TOKEN_ROUTE and status not in (408, 429) and status < 500:
            raise not_an_api_error(self.base_url, f"{status} to {TOKEN_ROUTE}")
        if status == 401:
            error = auth_error(status, code, description)
            if code == "invalid_token" and "expired" in (description or "").lower():
                raise _ExpiredToken(error, used_token)
            raise error
        if status == 403:
            raise auth_error(status, code, description)
        if status == 429:
            raise _Retry(
                "429 rate limited",
                retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
                rate_limited=True,
            )
        if status >= 500 or status == 408:
            raise _Retry(
                f"{status} server error",
                retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
            )
        if is_not_found(status, body):
            raise NotFoundError(
                f"{label} {redact(_path_of(url, self.api_url))} -> {status} {redact(code or 'not found')}",
                status,
                label,
            )
        raise ApiError(
            f"360Learning answered {status} {redact(code or '')} to {label}".rstrip()
            + (f": {redact(description)}" if description else ""),
            status,
            label,
        )


_WATCH = "_learning360_watch"  # attribute of a streamed response: its ResponseWatchdog handle


class UnexpectedBodyError(MalformedResponseError):
    """A single item's body was valid JSON of the wrong type (``null``, a list for an
    object, an object without ``_id``), after retries: the caller quarantines the item."""


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _wrong_shape(body: Any, expect: tuple[type, ...]) -> str | None:
    """Why ``body`` is not what the route promises (None when it is). ``str`` in ``expect``
    stands for "an object with an ``_id``"."""
    wanted = tuple(t for t in expect if t is not str)
    if not isinstance(body, wanted):
        names = " or ".join("a list" if t is list else "an object" for t in wanted)
        return f"a body of {json_type(body)}, not {names}"
    if str in expect and isinstance(body, dict) and not isinstance(body.get("_id"), str):
        return "a body of an object without an _id"
    return None


class _ExpiredToken(Exception):
    def __init__(self, error: AuthenticationError, used_token: str | None):
        super().__init__(str(error))
        self.error = error
        self.used_token = used_token


def _read_error_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except (ValueError, requests.RequestException, OSError):
        return None


def _path_of(url: str, api_url: str) -> str:
    return url[len(api_url) :] if url.startswith(api_url) else url


def _describe_connection_error(exc: requests.exceptions.ConnectionError) -> str:
    text = str(exc)
    lowered = text.lower()
    if any(
        marker in lowered
        for marker in (
            "name or service not known",
            "nodename nor servname",
            "name resolution",
            "getaddrinfo",
        )
    ):
        return "connection failed: host name resolution failed"
    if "refused" in lowered:
        return "connection refused"
    if "reset" in lowered or "aborted" in lowered or "remotedisconnected" in lowered:
        return "connection reset by the server"
    return f"connection failed ({type(exc).__name__})"


__all__ = ["Learning360Client", "RequestStats", "RetryPolicy", "build_limiter"]
