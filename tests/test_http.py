"""The shared HTTP layer against a real loopback HTTP server: retries, rate limits, ETags, errors."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from doraflow.errors import SourceError
from extractors.http import HttpClient, parse_link_header

TOKEN = "ghp_supersecretvalue123"


class ScriptedServer:
    """Answers each path with the next scripted (status, headers, body) and records the requests."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, dict, object]]] = {}
        self.requests: list[dict] = []
        self.hold = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            wbufsize = 1 << 16  # one write per answer (no Nagle/delayed-ACK stall between headers and body)

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})
                steps = outer.script.get(path, [])
                status, headers, body = steps.pop(0) if len(steps) > 1 else steps[0]
                if status == "hold":
                    outer.hold.wait(headers["seconds"])
                    status, headers, body = 200, {}, body
                if callable(body):
                    status, headers, body = body(self.headers)
                raw = (
                    body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    with ScriptedServer() as running:
        yield running


def client(url: str, sleeps: list, *, max_retries: int = 3, clock=None, ceiling: float = 900.0, timeout=5.0):
    return HttpClient(
        "github",
        url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        credential_hint="GITHUB_TOKEN",
        timeout=timeout,
        max_retries=max_retries,
        rate_limit_max_wait=ceiling,
        backoff_base=0.5,
        sleep=sleeps.append,
        clock=clock or (lambda: 1_000_000.0),
    )


def test_retries_server_errors_with_growing_backoff(server):
    server.script["/x"] = [(500, {}, {"message": "boom"}), (502, {}, None), (200, {}, [1, 2])]
    sleeps: list[float] = []
    with client(server.url, sleeps) as http:
        response = http.get("x")
    assert response.body == [1, 2]
    assert http.counters.requests == 3 and http.counters.retries == 2
    # equal jitter: attempt n waits between base*2^n/2 and base*2^n
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_gives_up_after_max_retries_with_one_line(server):
    server.script["/x"] = [(503, {}, {"message": "unavailable"})]
    sleeps: list[float] = []
    with client(server.url, sleeps, max_retries=2) as http, pytest.raises(SourceError) as caught:
        http.get("x")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("github: HTTP 503")
    assert "after 3 attempts" in message and len(server.requests) == 3


def test_honours_retry_after_on_429(server):
    server.script["/x"] = [(429, {"Retry-After": "7"}, {"message": "slow down"}), (200, {}, {"ok": True})]
    sleeps: list[float] = []
    with client(server.url, sleeps) as http:
        assert http.get("x").body == {"ok": True}
    assert sleeps == [7.0]


def test_waits_until_github_rate_limit_reset(server):
    now = 1_000_000.0
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now + 30))}
    server.script["/x"] = [(403, headers, {"message": "API rate limit exceeded"}), (200, {}, [])]
    sleeps: list[float] = []
    with client(server.url, sleeps, clock=lambda: now) as http:
        http.get("x")
    assert sleeps == [31.0]  # until the reset, plus one second


def test_rate_limit_wait_above_ceiling_fails_clearly(server):
    now = 1_000_000.0
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now + 3600))}
    server.script["/x"] = [(403, headers, {"message": "API rate limit exceeded"})]
    sleeps: list[float] = []
    with (
        client(server.url, sleeps, clock=lambda: now, ceiling=900) as http,
        pytest.raises(SourceError) as caught,
    ):
        http.get("x")
    assert "RATE_LIMIT_MAX_WAIT_SECONDS=900" in str(caught.value) and "3601 s" in str(caught.value)
    assert sleeps == []


def test_secondary_rate_limit_backs_off_and_retries(server):
    server.script["/x"] = [(403, {}, {"message": "You have exceeded a secondary rate limit"}), (200, {}, [3])]
    sleeps: list[float] = []
    with client(server.url, sleeps) as http:
        assert http.get("x").body == [3]
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5


def test_bad_credentials_one_line_without_token(server):
    server.script["/repos/acme/x/pulls"] = [(401, {}, {"message": "Bad credentials"})]
    with client(server.url, []) as http, pytest.raises(SourceError) as caught:
        http.get("repos/acme/x/pulls", params={"per_page": 100})
    assert (
        str(caught.value)
        == "github: HTTP 401 Bad credentials for GET /repos/acme/x/pulls (check GITHUB_TOKEN)"
    )
    assert TOKEN not in repr(caught.value)
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"  # sent, never shown


def test_invalid_json_is_retried_then_reported(server):
    server.script["/x"] = [(200, {}, b'{"truncated": ['), (200, {}, [1])]
    with client(server.url, []) as http:
        assert http.get("x").body == [1]
    server.script["/y"] = [(200, {}, b"<html>")]
    with client(server.url, [], max_retries=1) as http, pytest.raises(SourceError) as caught:
        http.get("y")
    assert "invalid JSON" in str(caught.value) and "after 2 attempts" in str(caught.value)


def test_etag_gives_not_modified(server):
    def conditional(headers):
        if headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, None
        return 200, {"ETag": '"v1"'}, [{"id": 1}]

    server.script["/x"] = [(200, {}, conditional)]
    with client(server.url, []) as http:
        first = http.get("x")
        second = http.get("x", etag=first.etag)
    assert first.etag == '"v1"' and first.body == [{"id": 1}]
    assert second.not_modified and second.body is None
    assert http.counters.not_modified == 1 and http.counters.requests == 2


def test_read_timeout_is_retried(server):
    server.script["/x"] = [("hold", {"seconds": 1.0}, [0]), (200, {}, [1])]
    sleeps: list[float] = []
    with client(server.url, sleeps, timeout=0.3) as http:
        assert http.get("x").body == [1]
    assert http.counters.retries == 1


def test_connection_refused_names_the_cause():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with client(f"http://127.0.0.1:{port}", [], max_retries=1) as http, pytest.raises(SourceError) as caught:
        http.get("x")
    assert "connection error" in str(caught.value) and "after 2 attempts" in str(caught.value)


def test_link_header_parsing():
    header = '<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"'
    assert parse_link_header(header) == {
        "next": "https://api.github.com/x?page=2",
        "last": "https://api.github.com/x?page=5",
    }
    assert parse_link_header(None) == {}
