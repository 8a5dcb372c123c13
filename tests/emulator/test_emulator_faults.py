"""Rate limiting and injected faults, as a client sees them over real TCP."""

from __future__ import annotations

import http.client
import socket
import time

import pytest
import requests

from emulator import Company, EmulatorServer
from tests.emulator.emulator_client import Api


def raw_get(server: EmulatorServer, route: str) -> bytes:
    """One raw HTTP/1.1 request; returns whatever bytes arrive before the server closes."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        path = f"/api/v1{route}?company={server.company_id}&apiKey={server.api_key}"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                if b"Content-Length" in head:
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        break
        except (ConnectionResetError, TimeoutError):
            pass
        return data


@pytest.mark.integration
def test_rate_limit_burst_and_under(small_company: Company) -> None:
    with EmulatorServer(small_company, rate_limit=20) as server:
        api = Api(server)
        codes = [api.get("/groups").status_code for _ in range(40)]
        assert codes.count(429) >= 15 and codes[:20] == [200] * 20
        limited = api.get("/groups")
        assert (
            limited.json() == {"error": "tooManyRequests"} and "Retry-After" not in limited.headers
        )
        metrics = server.metrics()
        assert metrics["429"] >= 15 and metrics["requests"]["GET /api/v1/groups"] == 41
        time.sleep(1.05)
        codes = []
        for _ in range(10):  # 10/s, under the limit
            codes.append(api.get("/groups").status_code)
            time.sleep(0.1)
        assert codes == [200] * 10
        server.configure(retry_after=True)
        for _ in range(25):
            r = api.get("/groups")
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        server.configure(rate_limit=0)
        assert all(api.get("/groups").status_code == 200 for _ in range(30))


def test_error_faults(server: EmulatorServer, api: Api) -> None:
    server.set_faults(error_rate=1.0, seed=1)
    seen = {}
    for _ in range(30):
        r = api.get("/groups")
        seen[r.status_code] = r
    assert set(seen) == {500, 502, 503}
    assert (
        seen[500].json()["error"].startswith("an error occurred: ")
        and len(seen[500].json()["error"]) == 51
    )
    assert seen[502].text == "Bad Gateway" and seen[502].headers["Content-Type"].startswith(
        "text/plain"
    )
    assert server.metrics()["faults"]["error"] == 30
    server.set_faults()
    assert api.get("/groups").status_code == 200


def test_html_faults(server: EmulatorServer, api: Api) -> None:
    server.set_faults(html_rate=1.0)
    r = api.get("/groups")
    assert (
        r.status_code in (502, 503)
        and r.headers["Content-Type"] == "text/html"
        and "<html>" in r.text
    )
    server.set_faults(html_200_rate=1.0)
    r = api.get("/groups")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert server.metrics()["faults"] == {"html": 1, "html_200": 1}


def test_reset_fault(server: EmulatorServer, api: Api) -> None:
    server.set_faults(reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.get("/groups")
    assert raw_get(server, "/groups") == b""
    server.set_faults()
    assert api.get("/groups").status_code == 200  # the session reconnects
    assert server.metrics()["faults"]["reset"] == 2


def test_truncate_fault(server: EmulatorServer, api: Api) -> None:
    server.set_faults(truncate_rate=1.0)
    data = raw_get(server, "/groups")
    head, _, body = data.partition(b"\r\n\r\n")
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) > len(body) > 0
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        api.get("/groups")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        api.get("/courses/stats")  # a chunked body cut before its last chunk
    with pytest.raises(http.client.IncompleteRead):
        conn = http.client.HTTPConnection(server.base_url.removeprefix("http://"))
        conn.request("GET", f"/api/v1/users?company={server.company_id}&apiKey={server.api_key}")
        conn.getresponse().read()


def test_latency_slow_stream_and_burst(server: EmulatorServer, api: Api) -> None:
    server.set_faults(latency_ms=150, jitter_ms=50)
    t0 = time.perf_counter()
    assert api.get("/groups").status_code == 200
    assert 0.15 <= time.perf_counter() - t0 < 1.0
    server.set_faults(slow_stream_bytes_per_s=4000)
    t0 = time.perf_counter()
    r = api.get("/groups")
    assert r.status_code == 200 and len(r.content) / 4000 * 0.8 <= time.perf_counter() - t0
    server.set_faults(burst_429_rate=1.0)
    r = api.get("/groups")
    assert (r.status_code, r.json()) == (429, {"error": "tooManyRequests"})
    faults = server.metrics()["faults"]
    assert faults["burst_429"] == 1 and faults["slow_stream"] == 1


def test_faults_are_deterministic_for_a_seed(server: EmulatorServer, api: Api) -> None:
    def run() -> list[int]:
        server.set_faults(error_rate=0.3, burst_429_rate=0.2, seed=9)
        return [api.get("/groups").status_code for _ in range(25)]

    first = run()
    assert first == run() and len(set(first)) > 1


def test_admin_routes(server: EmulatorServer, api: Api, small_company: Company) -> None:
    server.set_faults(error_rate=1.0)  # never applied to admin routes
    truth = api.admin("GET", "/truth").json()
    assert truth == small_company.truth()
    assert (
        api.admin("POST", "/advance", json={"days": 2}).json()["now"] == "2026-06-03T00:00:00.000Z"
    )
    assert api.admin("GET", "/truth").json()["now"] == "2026-06-03T00:00:00.000Z"
    assert api.admin("POST", "/faults", json={}).json()["error_rate"] == 0
    assert api.get("/groups").status_code == 200
    assert api.admin("POST", "/faults", json={"bogus": 1}).status_code == 400
    assert (
        api.admin("POST", "/config", json={"rate_limit": 5, "token_ttl": 2}).json()["rate_limit"]
        == 5
    )
    assert api.admin("GET", "/metrics").json()["total"] >= 1
    assert api.admin("POST", "/metrics/reset").json() == {"ok": True}
    assert server.metrics()["total"] == 0
    assert api.admin("GET", "/nope").status_code == 404
