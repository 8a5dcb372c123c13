"""A tiny scripted HTTP server on 127.0.0.1 for the source's unit tests.

Real sockets, real ``requests``: each route answers from a script (a list of replies, the last
one repeating, or a function of the request), and every request is recorded. It can stream a
body in chunks, pause between them, and cut the connection mid-body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    chunks: int = 0  # > 0: send the body with Transfer-Encoding: chunked in this many pieces
    chunk_pause: float = 0.0
    cut_after_chunks: int | None = None  # close the socket after this many chunks
    content_type: str = "application/json; charset=utf-8"

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)  # arrival time


Script = list[Reply] | Callable[[Request], Reply]


class FakeServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Script] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def route(self, method: str, path: str, *replies: Reply | Callable[[Request], Reply]) -> None:
        if len(replies) == 1 and callable(replies[0]):
            self.routes[(method, path)] = replies[0]
        else:
            self.routes[(method, path)] = list(replies)  # type: ignore[arg-type]

    def json(self, path: str, body: Any, method: str = "GET") -> None:
        self.route(method, path, Reply(body=body))

    def calls(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            script = self.routes.get((request.method, request.path))
            if script is None:
                return Reply(404, {"message": "Not Found"})
            if callable(script):
                return script(request)
            return script.pop(0) if len(script) > 1 else script[0]

    def __enter__(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                request = Request(method, parts.path, query, dict(self.headers), body)
                reply = fake._answer(request)
                payload = reply.payload()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if not reply.chunks:
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                size = max(1, -(-len(payload) // reply.chunks))
                for index, start in enumerate(range(0, len(payload), size)):
                    if reply.cut_after_chunks is not None and index >= reply.cut_after_chunks:
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    piece = payload[start : start + size]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                    if reply.chunk_pause:
                        time.sleep(reply.chunk_pause)
                self.wfile.write(b"0\r\n\r\n")

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
