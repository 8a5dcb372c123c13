"""The only place that speaks HTTP to 360Learning (v1 and v2), and each credentials method's Auth.
Not dlt's ``RESTClient``: it resumes a broken v1 stream without duplicates, re-authenticates once,
retries a ``200`` HTML page, throttles across threads; nor ``OAuth2ClientCredentials`` (a form)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
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
from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

from . import errors, routes
from .bounds import Bounds, ResponseWatchdog
from .defaults import DEFAULT_MAX_REQUESTS_PER_SECOND, DEFAULT_WORKERS
from .errors import AuthenticationError, config_key, install_log_filter, redact, register_secret
from .quarantine import table_of_route
from .routes import ID_KEYED_ROUTES
from .stats import RequestStats
from .validation import auth_method, credentials_problem, positive_number_problem

Params = Mapping[str, Any] | None

USER_AGENT = "learning360-dlt-source/1.0"
REFRESH_MARGIN_SECONDS = 60.0
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0

install_log_filter()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_factor: float = 1.0
    max_retry_delay: float = 300.0
    timeout: float = 60.0

    @classmethod
    def from_dlt_config(cls) -> RetryPolicy:
        runtime = resolve_configuration(RuntimeConfiguration())
        if problem := positive_number_problem(runtime.request_timeout):  # else every attempt fails
            key = "runtime.request_timeout (env RUNTIME__REQUEST_TIMEOUT)"
            raise errors.ConfigurationError(f"{key} {problem}")
        return cls(
            max_attempts=max(1, int(runtime.request_max_attempts)),
            backoff_factor=float(runtime.request_backoff_factor),
            max_retry_delay=float(runtime.request_max_retry_delay),
            timeout=float(runtime.request_timeout),
        )


def build_limiter(max_requests_per_second: float) -> Limiter | None:
    """Two windows (per 100 ms and per second): 50/s means 5 every 100 ms, not a burst of 50."""
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
    def __init__(self, reason: str, retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(reason)
        self.reason, self.retry_after, self.rate_limited = reason, retry_after, rate_limited


class _ExpiredToken(Exception):
    """``args``: the :class:`errors.Refusal` and the token it refused."""


class _StreamReader:
    """File-like view of a streamed response for ijson; counts bytes, maps stream errors."""

    def __init__(self, response: requests.Response, stats: RequestStats):
        self._chunks = response.iter_content(chunk_size=64 * 1024)
        self._stats = stats
        self.first_char: str | None = None

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) to tell bytes from str
            return b""
        try:
            chunk = next(self._chunks, b"")
        except (requests.RequestException, OSError) as exc:
            raise _Retry(f"stream broke ({type(exc).__name__})") from None
        self._stats.add(bytes_received=len(chunk))
        if self.first_char is None and chunk.strip():
            self.first_char = chunk.lstrip()[:1].decode("latin-1")
        return chunk


class ApiKeyAuth:
    """v1 company id + API key, as query parameters or as ``X-company-id``/``X-apiKey``."""

    def __init__(self, company_id: str, api_key: str, method: str = "header"):
        self.company_id, self.api_key, self.method = company_id, api_key, method
        register_secret(api_key)

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> Any:
        if self.method == "query":
            params.update(company=self.company_id, apiKey=self.api_key)
        else:
            headers.update({"X-company-id": self.company_id, "X-apiKey": self.api_key})

    def expired(self, code: str | None, description: str | None) -> bool:
        return False  # a key does not expire: invalidate() is never asked


class TokenAuth:
    """One bearer token for every thread, from ``POST /api/v2/oauth2/token`` (v1 and v2)."""

    def __init__(self, client_id: str, secret: str, *, method="oauth", headers=None, clock=None):
        register_secret(secret)
        self.body = {"grant_type": "client_credentials", "client_id": client_id}
        self.body["client_secret"] = secret
        self.method, self.headers = method, dict(headers or {})
        self.post: Callable[[Mapping[str, str]], Any] | None = None  # set by the client
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                assert self.post is not None, "a TokenAuth is used through Learning360Client"
                payload = self.post(self.body)
                value = payload.get("access_token") if isinstance(payload, Mapping) else None
                if not isinstance(value, str) or not value:
                    raise AuthenticationError(
                        "360Learning's token route answered without an access_token: check "
                        f"{config_key('base_url')} points at a 360Learning host"
                    )
                register_secret(value)
                lifetime = parse_expires_in(payload.get("expires_in"))
                # a short-lived token must not be refreshed on every call
                margin = min(REFRESH_MARGIN_SECONDS, lifetime / 2)
                self._token, self._refresh_at = value, self._clock() + lifetime - margin
            return self._token

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]) -> Any:
        token = self.token()
        headers.update({"Authorization": f"Bearer {token}", **self.headers})
        return token

    def expired(self, code: str | None, description: str | None) -> bool:
        """True: fetch a new token and retry once. v1 says "jwt expired"; v2 only invalid_token."""
        return code == "invalid_token" and (
            self.method != "oauth" or "expired" in (description or "").lower()
        )

    def invalidate(self, used_token: str | None) -> None:
        """Forget a token the API refused (unless another thread already replaced it)."""
        with self._lock:
            if self._token == used_token:
                self._token = None


def parse_expires_in(value: Any) -> float:
    with contextlib.suppress(TypeError, ValueError):
        if float(value) > 0:
            return float(value)
    return DEFAULT_TOKEN_LIFETIME_SECONDS


class Learning360Client:
    """HTTP access to ``<base_url>/api/<api_version>``; thread-safe, shared by all resources."""

    def __init__(
        self,
        base_url: str,
        auth: ApiKeyAuth | TokenAuth,  # apply() adds credentials, returns the token used
        *,
        api_version: str = "v1",
        max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND,
        workers: int = DEFAULT_WORKERS,
        stats: RequestStats | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        bounds: Bounds | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_url = f"{self.base_url}/api/{api_version}"
        self.auth = auth
        auth.post = self._post_token  # a token strategy borrows the client's transport
        self.api_version = api_version
        self.workers = max(1, int(workers))
        self.stats = stats if stats is not None else RequestStats()
        self.retry = retry or RetryPolicy.from_dlt_config()
        self.bounds = bounds or Bounds()
        self._limiter = build_limiter(max_requests_per_second)
        self._sleep = sleep
        self._watchdog = ResponseWatchdog()
        deadline = f"{self.bounds.response_deadline:g}s ({errors.config_key('response_deadline')})"
        self._too_slow = f"no complete answer within {deadline}"
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.workers + 4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.stream = True  # the body is read under the response deadline (bounds.py)
        # the host answered at least once: a refused connection is then an outage, not config
        self._answered = False
        # elements already counted as dropped, per URL: a listing read twice counts them once
        self._reported: dict[str, set[Any]] = {}

    def get_json(
        self, route: str, path_params: Params = None, *, missing_ok=False, quiet=False, expect=()
    ) -> Any:
        """One JSON document; ``missing_ok``: None for a gone item. Another type than ``expect``
        (``str`` in it: an object with an ``_id``) is retried, then :class:`UnexpectedBodyError`."""
        parse = lambda response: self._parse_body(response, expect)  # noqa: E731
        try:
            return self._request("GET", route, self._url(route, path_params), parse=parse)
        except errors.NotFoundError as exc:
            if not missing_ok:
                raise
            self.skip_missing(exc, quiet)
            return None

    def skip_missing(self, exc: errors.NotFoundError, quiet: bool = False) -> None:
        self.stats.add(skipped_missing=1)
        log = logger.info if quiet else logger.warning
        log(f"360Learning: skipped an item that is gone (deleted mid-sync?): {exc}")

    def iter_array(
        self, route: str, path_params: Params = None, params: Params = None, item_prefix="item"
    ) -> Iterator[Any]:
        """The elements of a streamed JSON array (``item_prefix``: ijson's path to them)."""
        url = self._url(route, path_params)
        yielded: dict[Any, int] = {}  # element key -> the attempt that last saw it
        reported = self._reported.setdefault(url, set())
        attempt = 0
        while True:
            attempt += 1
            try:
                response, watch = self._request("GET", route, url, params)
            except errors.NotFoundError:
                response = None  # a listing is never "gone": the host does not serve this API
            if response is None:
                raise errors.not_an_api_error(self.base_url, f"404 to GET {self.api_url}/{route}")
            extended_at = time.monotonic()
            try:
                reader = _StreamReader(response, self.stats)
                elements = ijson.items(reader, item_prefix, use_float=True)
                for position, element in enumerate(elements):
                    if position >= self.bounds.max_listing_elements:
                        raise self.bounds.too_large(f"GET {route}", "elements")
                    if time.monotonic() - extended_at >= 1.0:  # progress: the deadline moves
                        extended_at = time.monotonic()
                        self._watchdog.extend(watch, self.bounds.response_deadline)
                    element_id = element.get("_id") if isinstance(element, Mapping) else None
                    key = element_id if isinstance(element_id, str) else ("#", position)
                    seen_in = yielded.get(key)
                    repeated = seen_in == attempt
                    if self._refused(route, element, key, repeated, reported, item_prefix):
                        continue
                    yielded[key] = attempt
                    if seen_in is None:  # else read before the stream broke: yielded already
                        yield element
                if item_prefix == "item" and reader.first_char not in (None, "["):
                    raise _Retry("stream broke (expected a JSON array)")
                return
            except _Retry as exc:  # the stream broke after the status line
                failure = exc.reason
            except ijson.JSONError as exc:
                failure = f"body is not complete JSON ({type(exc).__name__})"
            finally:
                past_deadline = self._watchdog.release(watch)
                response.close()
            reason = self._too_slow if past_deadline else failure
            restart = f"restarting the request (skipping the {len(yielded)} elements read)"
            self._backoff(f"GET {route}", _Retry(reason), attempt, restart)

    def _refused(
        self, route: str, element: Any, key: Any, repeated: bool, seen: set, item_prefix: str
    ) -> bool:
        """Whether a listing element cannot be stored; quarantined once per key across restarts."""
        if item_prefix == "item" and not isinstance(element, Mapping):
            why, detail, dropped = f"is {json_type(element)}, not an object", None, False
        elif isinstance(key, tuple) and isinstance(element, Mapping) and route in ID_KEYED_ROUTES:
            why, detail, dropped = "without an _id", None, True
        elif repeated:
            why, detail, dropped = "with a duplicate _id", key, True
        else:
            return False
        if key not in seen:
            seen.add(key)
            reason = f"GET {route} element {why}"
            if dropped:
                self.stats.record_dropped(reason)
            self.stats.quarantine.reject(table_of_route(route), reason, element, detail)
        return True

    def get_page(
        self, route: str, path_params: Params = None, params: Params = None, url: str | None = None
    ) -> tuple[Any, requests.Response]:
        """A v2 page's body and closed response (its ``Link`` header); ``url``: a next link."""
        url, params = (url, None) if url else (self._url(route, path_params), params)
        return self._request("GET", route, url, params, parse=lambda r: (self._parse_body(r), r))

    def close(self) -> None:
        self.session.close()

    def _url(self, route: str, path_params: Params) -> str:
        quoted = {key: quote(str(value), safe="") for key, value in (path_params or {}).items()}
        return f"{self.api_url}/{route.format(**quoted)}"

    def _post_token(self, body: Mapping[str, Any]) -> Any:
        url = f"{self.base_url}/api/v2/oauth2/token"
        return self._request("POST", errors.TOKEN_ROUTE, url, json=body, parse=self._parse_body)

    def _parse_body(self, response: requests.Response, expect: tuple = ()) -> Any:
        content = response.content  # may raise ChunkedEncodingError: caught by the caller
        self.stats.add(bytes_received=len(content))
        if reason := _not_json(response):
            raise _Retry(reason)
        try:
            body = response.json()
        except ValueError:
            raise _Retry("200 with a truncated or invalid JSON body") from None
        if expect and (problem := _wrong_shape(body, expect)):
            raise _Retry(f"200 with {problem}")
        return body

    def _request(
        self, method: str, route: str, url: str, params: Params = None, *, json=None, parse=None
    ) -> Any:
        """``parse(response)`` (none: the open 2xx response and its watchdog handle) after retries
        and one re-authentication; raises only :class:`Learning360Error`."""
        attempt = 0
        reauthenticated = False
        label = route if route == errors.TOKEN_ROUTE else f"{method} {route}"
        while True:
            attempt += 1
            refusal: errors.Refusal | None = None
            try:
                return self._attempt(method, route, label, url, params, json, parse)
            except _ExpiredToken as expired:
                refusal, used_token = expired.args
                if not reauthenticated:
                    reauthenticated = True
                    attempt -= 1  # a fresh token is not a retry of a faulty server
                    self.auth.invalidate(used_token)
                    self.stats.add(reauthentications=1)
                    logger.info("360Learning: access token refused (expired?), fetching a new one")
                    continue
            except _Retry as exc:
                retry = exc
            if refusal is not None:  # raised outside `except`: no __context__
                raise errors.describe(self.api_version, refusal)
            if retry.reason == "connection refused" and not self._answered and attempt >= 2:
                # nothing ever listened there in this run: a wrong base_url or port
                reason = f"{retry.reason}, {attempt} attempts"
                raise errors.connection_error(self.base_url, reason, transient=False)
            self._backoff(label, retry, attempt)

    def _backoff(self, label: str, retry: _Retry, attempt: int, then: str = "") -> None:
        """Sleep before attempt ``attempt + 1``, or raise once the attempts are used up."""
        if attempt >= self.retry.max_attempts:
            raise self._exhausted(label, retry.reason, attempt)
        self.stats.add(retries=1, rate_limited=int(retry.rate_limited))
        wait = retry.retry_after  # the server's word, else exponential
        wait = self.retry.backoff_factor * 2 ** (attempt - 1) if wait is None else wait
        delay = max(0.0, min(wait, self.retry.max_retry_delay))
        # a 429 is the API pacing us: counted in progress and the summary, not a warning
        log = logger.info if retry.rate_limited else logger.warning
        then = then or f"retry {attempt}/{self.retry.max_attempts - 1}"
        log(f"360Learning {label}: {retry.reason}; {then} in {delay:.1f}s")
        self._sleep(delay)

    def _exhausted(self, label: str, reason: str, attempts: int) -> errors.Learning360Error:
        if reason.startswith("connection"):
            return errors.connection_error(self.base_url, f"{reason}, {attempts} attempts")
        unusable = f"360Learning sent an unusable body for {label} after {attempts} attempts: "
        if reason.startswith("200 with a body of"):
            return errors.UnexpectedBodyError(unusable + reason[len("200 with ") :], route=label)
        hint = f"; check {errors.BASE_URL}" if "JSON body" in reason else ""
        if hint or reason.startswith(("stream broke", "body is not complete")):
            return errors.MalformedResponseError(unusable + reason + hint, route=label)
        failed = f"360Learning {label} failed after {attempts} attempts: {reason}"
        return errors.ApiError(failed, route=label)

    def _attempt(self, method, route, label, url, params: Params, json, parse) -> Any:
        authenticate = route != errors.TOKEN_ROUTE
        headers: dict[str, str] = {}
        query: dict[str, Any] = dict(params or {})
        used_token = self.auth.apply(headers, query) if authenticate else None
        if self._limiter is not None:
            while not self._limiter.try_acquire("360learning"):
                pass  # try_acquire sleeps until a slot frees; loops only past max_delay
        self.stats.record_request(label)
        failure: str | None = None
        deadline = time.monotonic() + self.bounds.response_deadline
        try:
            response = self.session.request(
                method, url, params=query, json=json, headers=headers, timeout=self.retry.timeout
            )
        except requests.RequestException as exc:
            failure = _send_failure(exc, self.retry.timeout)
        if failure is not None:
            if failure.startswith("TLS") or "name resolution" in failure:  # a typo: no retry
                raise errors.connection_error(self.base_url, failure, transient=False)
            raise _Retry(failure)

        self._answered = True
        watch = self._watchdog.watch(response, deadline - time.monotonic())
        status = response.status_code
        if 200 <= status < 300:
            return self._read(response, watch, parse)
        body = None
        with contextlib.suppress(ValueError, requests.RequestException, OSError):
            body = response.json()
        self.stats.add(bytes_received=len(response.content or b"") if body is not None else 0)
        past_deadline = self._watchdog.release(watch)
        response.close()
        if past_deadline:
            raise _Retry(self._too_slow)
        code, description = errors.error_code(body)
        refusal = errors.Refusal(status, code, description, route, method)
        if route == errors.TOKEN_ROUTE and status not in (400, 401, 408, 429) and status < 500:
            raise errors.not_an_api_error(self.base_url, f"{status} to {errors.TOKEN_ROUTE}")
        if authenticate and status == 401 and self.auth.expired(code, description):
            raise _ExpiredToken(refusal, used_token)
        if status in (429, 408) or status >= 500:
            raise _Retry(
                "429 rate limited" if status == 429 else f"{status} server error",
                retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
                rate_limited=status == 429,
            )
        if route != errors.TOKEN_ROUTE and errors.is_not_found(status, body):
            path = redact(url.removeprefix(self.api_url))
            message = f"{label} {path} -> {status} {redact(code or 'not found')}"
            raise errors.NotFoundError(message, status, route=label)
        raise errors.describe(self.api_version, refusal)

    def _read(self, response: requests.Response, watch: Any, parse: Any) -> Any:
        reason = _not_json(response) if parse is None else None
        if parse is None and reason is None:
            return response, watch  # released and closed by the reader (iter_array)
        try:
            if reason is None:
                return parse(response)
        except (requests.RequestException, OSError) as exc:
            reason = f"body cut short ({type(exc).__name__})"
        except _Retry as exc:
            reason = exc.reason
        finally:
            past_deadline = self._watchdog.release(watch)
            response.close()
        raise _Retry(self._too_slow if past_deadline else reason)


def build_client(base_url: str, credentials: Any, api_version: str = "v1", **options: Any):
    if problem := credentials_problem(credentials, api_version):
        raise problem
    if api_version == "v2":
        headers = {routes.API_VERSION_HEADER: routes.API_VERSION}
        client_id, secret = str(credentials.client_id).strip(), str(credentials.client_secret)
        auth = TokenAuth(client_id, secret, method="oauth2_client_credentials", headers=headers)
    elif (method := auth_method(credentials.auth_method)) == "oauth":
        auth = TokenAuth(str(credentials.company_id).strip(), str(credentials.api_key))
    else:
        auth = ApiKeyAuth(str(credentials.company_id).strip(), str(credentials.api_key), method)
    return Learning360Client(base_url, auth, api_version=api_version, **options)


_DNS_FAILURES = ("name or service not known", "nodename nor servname", "name resolution", "getaddr")


def json_type(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number"}
    return {**names, str: "a string", list: "a list"}.get(type(value), "an object")


def _wrong_shape(body: Any, expect: tuple[type, ...]) -> str | None:
    wanted = tuple(t for t in expect if t is not str)
    if not isinstance(body, wanted):
        names = " or ".join("a list" if t is list else "an object" for t in wanted)
        return f"a body of {json_type(body)}, not {names}"
    if str in expect and isinstance(body, dict) and not isinstance(body.get("_id"), str):
        return "a body of an object without an _id"
    return None


def _retry_after_seconds(value: str | None) -> float | None:
    with contextlib.suppress(TypeError, InvalidHeader):  # absent or unreadable: None
        return Retry().parse_retry_after(value)  # whole seconds or an HTTP date
    return None


def _not_json(response: requests.Response) -> str | None:
    """Why a 2xx answer is not the JSON asked for (a login page?), or None."""
    content_type = response.headers.get("Content-Type", "")
    if content_type and "json" not in content_type.lower():
        return f"200 with a non-JSON body ({content_type})"
    return None


def _send_failure(exc: requests.RequestException, timeout: float) -> str:
    lowered, name = str(exc).lower(), type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            "TLS handshake failed: an https:// URL on a plain http port, or a certificate problem"
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        if any(marker in lowered for marker in _DNS_FAILURES):
            return "connection failed: host name resolution failed"
        if "refused" in lowered:
            return "connection refused"
        if "reset" in lowered or "aborted" in lowered or "remotedisconnected" in lowered:
            return "connection reset by the server"
    elif isinstance(exc, requests.exceptions.Timeout):
        return f"connection timed out after {timeout:g}s"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.ContentDecodingError):
        return f"body cut short ({name})"
    return f"connection failed ({name})"
