"""HTTP plumbing shared by the three API servers: requests, responses, faults, counting."""

from __future__ import annotations

import json
import random
import sys
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from simulator.config import Faults


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str
    fault: str | None = None  # a paging fault chosen for this request ("repeat_page" / "shifting_item")
    fault_used: bool = False
    shifts: dict | None = None  # the app's listings shifted by a `shifting_item` fault

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        """Repeated parameters (`statuses[]=a&statuses[]=b`) and comma-separated values."""
        out: list[str] = []
        for value in self.query.get(name, []):
            out.extend(part for part in value.split(",") if part)
        return out

    def int_arg(self, name: str, default: int) -> int:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            return default

    def json(self):
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    body: object = None  # JSON-able, or bytes, or None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


class FaultPlan:
    """Decides, per request, which fault to inject (seeded, counted, bounded)."""

    KINDS = (
        "rate_limit",
        "secondary_rate_limit",
        "server_error",
        "timeout",
        "bad_json",
        "repeat_page",
        "shifting_item",
    )

    def __init__(self, faults: Faults, api: str) -> None:
        self.faults = faults
        self.api = api
        self.rng = random.Random(f"{faults.seed}:faults:{api}")
        self.requests = 0
        self.injected = 0
        self.server_errors = 0
        self.bad_json = 0
        self.lock = threading.Lock()

    def choose(self, paging: bool) -> str | None:
        faults = self.faults
        with self.lock:
            self.requests += 1
            if faults.apis and self.api not in faults.apis:
                return None
            if faults.fail_first_n and self.injected >= faults.fail_first_n:
                return None
            for kind in self.KINDS:
                if kind == "secondary_rate_limit" and self.api != "github":
                    continue
                if kind in ("repeat_page", "shifting_item") and not paging:
                    continue
                every = getattr(faults, f"{kind}_every")
                probability = getattr(faults, f"{kind}_probability")
                hit = (every and self.requests % every == 0) or (
                    probability and self.rng.random() < probability
                )
                if hit:
                    self.injected += 1
                    return kind
            return None

    def next_server_error(self) -> int:
        with self.lock:
            self.server_errors += 1
            return (500, 502, 503)[(self.server_errors - 1) % 3]


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app) -> None:
        self.app = app
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK hold every keep-alive
    # response ~40 ms.
    disable_nagle_algorithm = True
    server_version = "doraflow-simulator"
    sys_version = ""

    def log_message(self, format, *args) -> None:  # noqa: A002 - silence per-request logging
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        host, port = self.server.server_address[:2]
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"http://{host}:{port}",
        )
        try:
            response, delay = self.server.app.serve(request)
        except Exception as error:  # a simulator bug: answer 500 and say so, never drop the connection
            traceback.print_exc(file=sys.stderr)
            response, delay = (
                Response(500, {"message": f"simulator error: {type(error).__name__}: {error}"}),
                0.0,
            )
        if delay:
            threading.Event().wait(delay)  # the timeout fault: answer later than the client waits
        payload = response.encoded()
        try:
            self.send_response(response.status)
            if response.status != 304:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _handle
    do_POST = _handle
    do_HEAD = _handle
    do_PUT = _handle
    do_DELETE = _handle
    do_PATCH = _handle


PAGING_PARAMS = {"page", "per_page", "offset", "limit", "startAt", "maxResults", "nextPageToken", "total"}


def listing_key(request: Request) -> str:
    """Identifies one listing walked page by page (the request without its paging parameters)."""
    query = sorted((k, tuple(v)) for k, v in request.query.items() if k not in PAGING_PARAMS)
    body = ""
    if request.body:
        try:
            data = json.loads(request.body)
            if isinstance(data, dict):
                data = {k: v for k, v in data.items() if k not in PAGING_PARAMS}
            body = json.dumps(data, sort_keys=True)
        except ValueError:
            body = request.body.decode("utf-8", "replace")
    return f"{request.path}?{query}#{body}"


def page_slice(items: list, start: int, count: int, request: Request) -> tuple[list, int]:
    """One page of a listing and the listing's length, with the paging faults applied:

    - `repeat_page`: this page answers the previous page's items again (once);
    - `shifting_item`: from this page on, the listing behaves as if an item had been added in front of
      it (a new or just-updated item sorted first): every later page of this walk starts one item
      earlier, so the last item of the previous page appears twice and the listing is one longer.
      Asking for the first page again starts a fresh walk.
    """
    shifts = request.shifts
    key = listing_key(request) if shifts is not None else ""
    if start == 0 and shifts is not None:
        shifts.pop(key, None)
    if start > 0 and request.fault == "repeat_page":
        request.fault_used = True
        return items[max(start - count, 0) : start], len(items)
    if start > 0 and request.fault == "shifting_item" and shifts is not None:
        request.fault_used = True
        shifts[key] = shifts.get(key, 0) + 1
    shift = shifts.get(key, 0) if shifts is not None and start > 0 else 0
    begin = start - shift
    return items[max(begin, 0) : max(begin + count, 0)], len(items) + shift


class BaseApp:
    """One API: authentication, budgets, faults, routing. Subclasses implement `route` and error bodies."""

    api = ""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.requests = 0
        self.count_lock = threading.Lock()
        self.faults = FaultPlan(sim.faults, self.api)
        self.shifts: dict[str, int] = {}

    def set_faults(self, faults: Faults) -> None:
        self.faults = FaultPlan(faults, self.api)
        self.shifts.clear()

    def is_paging(self, request: Request) -> bool:
        return False

    def serve(self, request: Request) -> tuple[Response, float]:
        with self.count_lock:
            self.requests += 1
        denied = self.authenticate(request)
        if denied is not None:
            return denied, 0.0
        kind = self.faults.choose(self.is_paging(request))
        delay = 0.0
        if kind in ("rate_limit", "secondary_rate_limit", "server_error"):
            return self.fault_response(kind, request), 0.0
        if kind == "timeout":
            delay = self.faults.faults.timeout_seconds
        if kind in ("repeat_page", "shifting_item"):
            request.fault = kind
        request.shifts = self.shifts
        try:
            with self.sim.org.lock:
                response = self.dispatch(request)
        except ValueError as error:
            response = self.bad_request(str(error))
        if kind == "bad_json" and response.status == 200:
            payload = response.encoded()
            self.faults.bad_json += 1
            if self.faults.bad_json % 2 == 1 and len(payload) > 2:
                response = Response(200, payload[: max(len(payload) // 2, 1)], response.headers)  # truncated
            else:
                response = Response(200, b'{"error": Invalid JSON <html>', response.headers)  # not JSON
        return response, delay

    # to implement
    def authenticate(self, request: Request) -> Response | None:
        raise NotImplementedError

    def dispatch(self, request: Request) -> Response:
        raise NotImplementedError

    def fault_response(self, kind: str, request: Request) -> Response:
        raise NotImplementedError

    def bad_request(self, message: str) -> Response:
        raise NotImplementedError
