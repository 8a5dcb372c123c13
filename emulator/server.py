"""The HTTP server: speaks 360Learning v1 and v2 for one company over real TCP (stdlib only).

Per /api/* request, in this order: count it; faults (latency, then reset / burst 429 / 5xx /
HTML error); route (unknown → 404 before auth); auth (auth.py; for v2, v2_auth.py: version header, token,
scope); the per-company rate limit (GET only, shared by v1 and v2); the handler; then faults that mangle a good answer (HTML 200, truncation, slow
stream). Bodies up to 64 KiB go out with Content-Length (and a weak ETag), larger ones
chunked as they are rendered. Keep-alive (HTTP/1.1) and TCP_NODELAY keep small requests cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import http
import json
import secrets
import socket
import struct
import sys
import threading
import time
import traceback
from base64 import b64encode
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import admin
from .auth import Tokens, check_v1, token_endpoint
from .company import Company
from .data_faults import DataFaults
from .faults import HTML_200, HTML_ERROR, FaultInjector, FaultPlan, FaultSettings
from .metrics import Metrics
from .ratelimit import SlidingWindowLimiter
from .responses import JSON, Reply, dumps, error_reply, route_not_found
from .stuck_faults import StuckFaults, StuckFaultSettings
from .v1_routes import V1Routes
from .v2_auth import ALL_SCOPES, check_scopes, check_v2, v2_token_endpoint
from .v2_routes import V2Routes
from .webhooks import PREFIX as WEBHOOKS_PREFIX
from .webhooks import WebhookHub

PREBUFFER = 64 * 1024  # bodies up to this size get a Content-Length
CHUNK = 32 * 1024
TOKEN_ROUTE = "/api/v2/oauth2/token"

#: response headers recorded on real v1 traffic (reference §9)
COMMON_HEADERS = (
    "Cache-Control: no-cache, no-store, private\r\n"
    "X-Ua-Compatible: IE=edge\r\n"
    "X-Robots-Tag: noindex\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n"
    "Access-Control-Allow-Headers: Authorization, Origin, X-Requested-With, Content-Type, Accept\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Xss-Protection: 1; mode=block\r\n"
    "Referrer-Policy: origin-when-cross-origin\r\n"
)
_REASONS = {s.value: s.phrase for s in http.HTTPStatus}


class _Date:
    """The Date header, formatted once a second rather than per response."""

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def get(self) -> str:
        now = int(time.time())
        if now != self.second:
            self.text = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
            self.second = now
        return self.text


_date = _Date()


def _prebuffer(stream: Iterator[bytes], limit: int) -> tuple[bytes, Iterator[bytes] | None]:
    """Reads up to `limit` bytes; (all bytes, None) if the stream ended within them."""
    parts: list[bytes] = []
    size = 0
    for piece in stream:
        parts.append(piece)
        size += len(piece)
        if size >= limit:
            return b"".join(parts), stream
    return b"".join(parts), None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # We join connection threads ourselves: CPython 3.11's ThreadingMixIn joins them with
    # all(map(Thread.join, ...)), which stops after the first one (join returns None).
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self._conns: set[socket.socket] = set()
        self._aborted: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection (keep-alive: it serves every request on it)."""
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        worker = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._conns_lock:
            self._conns.add(request)
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def join_workers(self) -> None:
        with self._conns_lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.join()

    def abort(self, request: socket.socket) -> None:
        """Marks a connection to be closed with RST (SO_LINGER 0) instead of FIN."""
        request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._conns_lock:
            self._aborted.add(request)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
            aborted = request in self._aborted
            self._aborted.discard(request)
        if aborted:
            request.close()
        else:
            super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wakes every keep-alive connection thread so server_close() can join it."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "360Learning-emulator"
    timeout = 120  # idle keep-alive connections are closed after this
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._serve("OPTIONS")

    # ------------------------------------------------------------------ request
    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self, method: str) -> None:
        emu = self.server.emulator
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        split = urlsplit(self.path)
        path = split.path
        if path == "/_emulator" or path.startswith("/_emulator/"):
            self._send(admin.handle(emu, method, path, self.headers, body))
            return
        if not path.startswith("/api/"):
            self._send(route_not_found())
            return
        query = parse_qs(split.query, keep_blank_values=True)
        route, reply_fn = emu._resolve(method, path, split.query)
        emu._metrics.request(route)
        plan = emu._faults.plan()
        if plan is not None:
            if plan.delay_s > 0:
                time.sleep(plan.delay_s)
            if plan.before is not None:
                self._fault_before(plan)
                return
        host = self.headers.get("Host")
        url = f"http://{host}{self.path}" if host else f"{emu.base_url}{self.path}"
        try:
            reply = emu.stuck_faults.intercept(route, query, url) or reply_fn(
                query, self.headers, body
            )
        except Exception:  # a bug: answer like the real API does, keep serving
            traceback.print_exc(file=sys.stderr)
            reply = error_reply(500, f"an error occurred: {secrets.token_hex(16)}")
        reply = emu.data_faults.apply(route, reply, path)  # bad records (data_faults.py)
        reply = emu.stuck_faults.apply(route, reply, url)  # endless, looping (stuck_faults.py)
        truncate = False
        slow = plan.slow_bps if plan is not None else 0.0
        slow = emu.stuck_faults.drip_bytes_per_s(route) or slow
        if plan is not None and plan.after and reply.status == 200:
            emu._metrics.fault(plan.after)
            if plan.after == "html_200":
                reply = Reply(200, HTML_200.encode(), content_type="text/html; charset=utf-8")
            else:
                truncate = True
        if slow:
            emu._metrics.fault("slow_stream")
        emu._metrics.answered(reply.status)
        self._send(reply, truncate=truncate, slow_bps=slow)

    def _fault_before(self, plan: FaultPlan) -> None:
        emu = self.server.emulator
        kind = plan.before or ""
        emu._metrics.fault(kind)
        if kind == "reset":
            self.server.abort(self.connection)
            self.close_connection = True
            return
        if kind == "burst_429":
            reply = emu._too_many()
        elif kind == "error" and plan.status == 500:
            reply = error_reply(500, f"an error occurred: {secrets.token_hex(16)}")
        elif kind == "error":
            reply = Reply(
                plan.status,
                _REASONS[plan.status].encode(),
                content_type="text/plain; charset=utf-8",
            )
        else:
            page = HTML_ERROR.format(status=plan.status, reason=_REASONS[plan.status])
            reply = Reply(plan.status, page.encode(), content_type="text/html")
        emu._metrics.answered(reply.status)
        self._send(reply)

    # ------------------------------------------------------------------ response
    def _head(self, reply: Reply, framing: str) -> bytes:
        lines = [
            f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, '')}\r\n",
            f"Date: {_date.get()}\r\n",
            f"Content-Type: {reply.content_type}\r\n",
            COMMON_HEADERS,
            framing,
        ]
        lines.extend(f"{k}: {v}\r\n" for k, v in reply.headers)
        lines.append(
            "Connection: close\r\n\r\n"
            if self.close_connection
            else "Connection: keep-alive\r\n\r\n"
        )
        return "".join(lines).encode("latin-1")

    def _write(self, data: bytes, slow_bps: float) -> None:
        if not slow_bps:
            self.wfile.write(data)
            return
        step = max(1, int(slow_bps / 20))
        for i in range(0, len(data), step):
            self.wfile.write(data[i : i + step])
            time.sleep(len(data[i : i + step]) / slow_bps)

    def _send(self, reply: Reply, truncate: bool = False, slow_bps: float = 0.0) -> None:
        body, rest = reply.body, None
        if reply.stream is not None:
            body, rest = _prebuffer(reply.stream, PREBUFFER)
        try:
            if rest is None:
                assert body is not None
                framing = f"Content-Length: {len(body)}\r\n"
                if reply.content_type == JSON and reply.status == 200:
                    digest = b64encode(hashlib.sha1(body).digest()).decode()[:27]
                    framing += f'ETag: W/"{len(body):x}-{digest}"\r\n'
                if truncate:
                    self.close_connection = True
                    self.wfile.write(self._head(reply, framing) + body[: len(body) // 2])
                    return
                if slow_bps:
                    self.wfile.write(self._head(reply, framing))
                    self._write(body, slow_bps)
                else:
                    self.wfile.write(self._head(reply, framing) + body)
                return
            self.wfile.write(self._head(reply, "Transfer-Encoding: chunked\r\n"))
            pending = [body]
            size = len(body)
            for piece in rest:
                pending.append(piece)
                size += len(piece)
                if size >= CHUNK:
                    data = b"".join(pending)
                    self._write(b"%x\r\n%s\r\n" % (len(data), data), slow_bps)
                    pending, size = [], 0
                    if truncate:  # cut after the first chunk, without the terminating chunk
                        self.close_connection = True
                        return
            data = b"".join(pending)
            tail = (b"%x\r\n%s\r\n" % (len(data), data) if data else b"") + b"0\r\n\r\n"
            self._write(tail, slow_bps)
        except OSError:  # the client went away
            self.close_connection = True
        finally:
            if reply.stream is not None:
                close = getattr(reply.stream, "close", None)
                if close is not None:
                    close()


class EmulatorServer:
    """A 360Learning v1 + v2 API for one synthetic company, on 127.0.0.1 (port 0 = a free port).

    v2 options: `client_id`/`client_secret` (default: derived from the seed, see
    `company.client_id`), `v2_scopes` (the credential's scopes, default v2_auth.ALL_SCOPES),
    `v2_page_size` (one page size for every paginated v2 route, for tests) and
    `v2_page_sizes` ({"/courses/stats": 3, ...}: per route, keys from v2_routes.PAGE_SIZES).
    """

    def __init__(
        self,
        company: Company,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: float | None = 50.0,
        token_ttl: float = 3600,
        variants: bool = False,
        api_key: str | None = None,
        *,
        admin_token: str | None = None,
        retry_after: bool = False,
        faults: dict[str, Any] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        v2_scopes: Iterable[str] | None = None,
        v2_page_size: int | None = None,
        v2_page_sizes: dict[str, int] | None = None,
        webhook_retention_seconds: float = 7 * 86_400,
    ) -> None:
        self.company = company
        self.host = host
        self._port = port
        self.api_key = api_key or company.api_key
        self.admin_token = admin_token or secrets.token_hex(16)
        self.retry_after = retry_after
        self._tokens = Tokens(token_ttl)
        self.client_id = client_id or company.client_id
        self.client_secret = client_secret or company.client_secret
        self.v2_scopes = check_scopes(ALL_SCOPES if v2_scopes is None else v2_scopes)
        self._v2_tokens = Tokens(token_ttl)  # its own secret: v1 and v2 tokens never mix
        self._v2 = V2Routes(company, v2_page_size, v2_page_sizes)
        self.webhooks = WebhookHub(company, webhook_retention_seconds)  # webhooks.py
        self._limiter = SlidingWindowLimiter(rate_limit or None)
        self._routes = V1Routes(company, variants)
        self._faults = FaultInjector(FaultSettings.from_dict(faults or {}))
        self.data_faults = DataFaults()
        self.stuck_faults = StuckFaults()
        self._metrics = Metrics()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> EmulatorServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="emulator",
            daemon=True,
        )
        self._thread.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        """Stops accepting, closes open connections, joins every thread, frees the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.webhooks.stop()
        httpd.shutdown()
        httpd.server_close()  # no new connections
        httpd.close_connections()
        httpd.join_workers()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ properties
    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def company_id(self) -> str:
        return self.company.company_id

    @property
    def variants(self) -> bool:
        return self._routes.variants

    # ------------------------------------------------------------------ controls
    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replaces the fault settings (`set_faults()` clears them); see faults.FaultSettings
        and stuck_faults.StuckFaultSettings."""
        stuck, rest = StuckFaultSettings.pick(settings)
        self._faults.configure(FaultSettings.from_dict(rest))
        self.stuck_faults.configure(stuck)
        return self.fault_settings()

    def set_data_faults(self, *rules: dict[str, Any]) -> list[dict[str, Any]]:
        """Replaces the data-fault rules (`set_data_faults()` clears them); see data_faults.py."""
        self.data_faults.configure(rules)
        return self.data_faults.rules()

    def fault_settings(self) -> dict[str, Any]:
        return {**self._faults.settings.as_dict(), **self.stuck_faults.settings.as_dict()}

    def configure(
        self,
        rate_limit: float | None = ...,  # type: ignore[assignment]
        token_ttl: float = ...,  # type: ignore[assignment]
        variants: bool = ...,  # type: ignore[assignment]
        retry_after: bool = ...,  # type: ignore[assignment]
        v2_page_size: int | None = ...,  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Changes settings while serving; arguments left out keep their value."""
        if rate_limit is not ...:
            if rate_limit is not None and float(rate_limit) < 0:
                raise ValueError("rate_limit must be >= 0")
            self._limiter.rate = float(rate_limit) if rate_limit else None
        if token_ttl is not ...:
            if float(token_ttl) <= 0:
                raise ValueError("token_ttl must be > 0")
            self._tokens.ttl = float(token_ttl)
            self._v2_tokens.ttl = float(token_ttl)
        if variants is not ...:
            self._routes.variants = bool(variants)
        if retry_after is not ...:
            self.retry_after = bool(retry_after)
        if v2_page_size is not ...:
            if v2_page_size is not None and int(v2_page_size) < 1:
                raise ValueError("v2_page_size must be >= 1")
            self._v2.page_size = int(v2_page_size) if v2_page_size else None
        return self.config()

    def config(self) -> dict[str, Any]:
        ttl = self._tokens.ttl
        return {
            "rate_limit": self._limiter.rate or 0,
            "token_ttl": int(ttl) if float(ttl).is_integer() else ttl,
            "variants": self.variants,
            "retry_after": self.retry_after,
            "v2_page_size": self._v2.page_size,
        }

    def metrics(self) -> dict[str, Any]:
        return self._metrics.snapshot()

    def reset_metrics(self) -> None:
        self._metrics.reset()

    def issue_token(self) -> str:
        """A valid access token, as the token route would give (handy in tests)."""
        return self._tokens.issue(self.company_id)

    def issue_v2_token(self, scopes: Iterable[str] | None = None) -> str:
        """A valid v2 access token (default: the credential's scopes), handy in tests."""
        chosen = self.v2_scopes if scopes is None else check_scopes(scopes)
        scope = " ".join(s for s in ALL_SCOPES if s in chosen)
        return self._v2_tokens.issue(self.company_id, extra={"api": "v2", "scope": scope})

    def info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "company_id": self.company_id,
            "api_key": self.api_key,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "v2_scopes": [s for s in ALL_SCOPES if s in self.v2_scopes],
            "counts": self.company.counts(),
            **self.config(),
        }

    # ------------------------------------------------------------------ API plumbing
    def _too_many(self) -> Reply:
        reply = error_reply(429, "tooManyRequests")
        if self.retry_after or self.variants:
            reply.headers.append(("Retry-After", "1"))
        return reply

    def _resolve(self, method: str, path: str, raw_query: str) -> tuple[str, Any]:
        """(metrics route name, fn(query, headers, body) -> Reply) for an /api/* path."""
        if path.rstrip("/") == TOKEN_ROUTE and method == "POST":
            return f"POST {TOKEN_ROUTE}", self._token
        if path.startswith(WEBHOOKS_PREFIX):
            return self._resolve_webhooks(method, path)
        if method != "GET":
            return "unknown", lambda *_: route_not_found()
        path = unquote(path)
        if path.startswith("/api/v2/"):
            return self._resolve_v2(path)
        if path.rstrip("/") == "/api/v1/programs":
            target = "/api/v1/programs/sessions" + (f"?{raw_query}" if raw_query else "")

            def redirect(*_: Any) -> Reply:
                text = f"Moved Permanently. Redirecting to {target}"
                return Reply(
                    301,
                    text.encode(),
                    content_type="text/plain; charset=utf-8",
                    headers=[("Location", target)],
                )

            return "GET /api/v1/programs", redirect
        found = self._routes.match(path)
        if found is None:
            return "unknown", lambda *_: route_not_found()
        name, handler, params = found

        def serve(query: dict[str, list[str]], headers: Any, body: bytes) -> Reply:
            denied = check_v1(headers, query, self.company_id, self.api_key, self._tokens)
            if denied is not None:
                return denied
            if not self._limiter.allow(self.company_id):
                self._metrics.limited()
                return self._too_many()
            return self._routes.call(handler, params, query)

        return name, serve

    def _resolve_v2(self, path: str) -> tuple[str, Any]:
        found = self._v2.match(path)
        if found is None:
            return "unknown", lambda *_: route_not_found()
        route, args = found

        def serve(query: dict[str, list[str]], headers: Any, body: bytes) -> Reply:
            denied = check_v2(headers, self._v2_tokens, self.company_id, route.scope)
            if denied is not None:
                return denied
            if not self._limiter.allow(self.company_id):
                self._metrics.limited()
                return self._too_many()
            host = headers.get("Host")
            base = f"http://{host}" if host else self.base_url
            return self._v2.call(route, args, path.rstrip("/"), query, base)

        return f"GET /api/v2{route.name}", serve

    def _resolve_webhooks(self, method: str, path: str) -> tuple[str, Any]:
        """The Webhook API (webhooks.py): v2 auth and scopes; GETs count for the rate limit."""
        found = self.webhooks.resolve(method, unquote(path))
        if found is None:
            return "unknown", lambda *_: route_not_found()
        name, scope, handler = found

        def serve(query: dict[str, list[str]], headers: Any, body: bytes) -> Reply:
            denied = check_v2(headers, self._v2_tokens, self.company_id, scope)
            if denied is not None:
                return denied
            if method == "GET" and not self._limiter.allow(self.company_id):
                self._metrics.limited()
                return self._too_many()
            host = headers.get("Host")
            return handler(query, body, f"http://{host}" if host else self.base_url)

        return name, serve

    def _token(self, query: dict[str, list[str]], headers: Any, body: bytes) -> Reply:
        data: Any = None
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            data = json.loads(body.decode("utf-8"))
        if isinstance(data, dict) and data.get("client_id") == self.client_id:
            with self.company.lock:
                reply = v2_token_endpoint(
                    data,
                    self.client_secret,
                    self.v2_scopes,
                    self.company_id,
                    self.company.users,
                    self._v2_tokens,
                    self.variants,
                )
        else:
            reply = token_endpoint(body, self.company_id, self.api_key, self._tokens, self.variants)
        if reply.status == 200:
            self._metrics.token()
        return reply


__all__ = ["EmulatorServer", "dumps"]
