"""The HTTP layer shared by the GitHub, Jira and PagerDuty clients.

One `HttpClient` per stream task (a pooled `requests.Session`): timeouts, retries with exponential
backoff and jitter on 5xx / connection errors / timeouts / invalid JSON, `Retry-After` and GitHub's
`X-RateLimit-Reset` (sleeping until the reset, up to `rate_limit_max_wait_seconds`), conditional
requests with ETags, and one-line `SourceError`s that name the source, status and fix, never the token.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from doraflow.errors import SourceError

KILL_AFTER_PAGES_ENV = "DORAFLOW_KILL_AFTER_PAGES"  # test hook: SIGKILL this process after N answered pages
BACKOFF_BASE_ENV = "DORAFLOW_HTTP_BACKOFF_SECONDS"  # first retry delay (doubles each retry); default 0.5 s
MAX_BACKOFF_SECONDS = 60.0
USER_AGENT = "doraflow-extractor"

_page_lock = threading.Lock()
_pages_answered = 0


def _count_page_for_kill_hook() -> None:
    """Deterministic kill point for the crash tests: the Nth answered page kills the process."""
    global _pages_answered
    limit = os.environ.get(KILL_AFTER_PAGES_ENV)
    if not limit:
        return
    with _page_lock:
        _pages_answered += 1
        if _pages_answered >= int(limit):
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Counters:
    """What one stream task cost; feeds `StreamResult`."""

    requests: int = 0
    not_modified: int = 0
    pages: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    graphql_queries: int = 0  # POST /graphql answered with data
    graphql_points: int = 0  # their cost, as GitHub's `rateLimit { cost }` reported it


@dataclass
class Response:
    status: int
    url: str
    headers: Mapping[str, str]
    body: object = None  # parsed JSON, None for 304 / empty bodies
    links: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag") or self.headers.get("etag")

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_link_header(value: str | None) -> dict[str, str]:
    """`<url>; rel="next", <url>; rel="last"` -> {"next": url, "last": url}."""
    links: dict[str, str] = {}
    if not value:
        return links
    for part in value.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip()
        if not (url.startswith("<") and url.endswith(">")):
            continue
        for attribute in section[1:]:
            name, _, rel = attribute.strip().partition("=")
            if name.strip() == "rel":
                for token in rel.strip().strip('"').split():
                    links[token] = url[1:-1]
    return links


def _error_text(body: object, raw: str) -> str:
    """The API's own error message: GitHub `message`, Jira `errorMessages`, PagerDuty `error.message`."""
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body["message"]
        messages = body.get("errorMessages")
        if isinstance(messages, list) and messages:
            return "; ".join(str(m) for m in messages)
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            details = error.get("errors")
            extra = f" ({'; '.join(map(str, details))})" if isinstance(details, list) and details else ""
            return f"{error['message']}{extra}"
        if isinstance(body.get("errors"), dict) and body["errors"]:
            return "; ".join(f"{k}: {v}" for k, v in body["errors"].items())
    text = " ".join(raw.split())
    return text[:160]


class HttpClient:
    """Pooled, retrying JSON client for one source. Not shared between threads."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        auth: tuple[str, str] | None = None,
        credential_hint: str,
        timeout: float = 30.0,
        max_retries: int = 5,
        rate_limit_max_wait: float = 900.0,
        backoff_base: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.credential_hint = credential_hint
        self.timeout = timeout
        self.max_retries = max_retries
        self.rate_limit_max_wait = rate_limit_max_wait
        self.backoff_base = (
            float(os.environ.get(BACKOFF_BASE_ENV, "0.5")) if backoff_base is None else backoff_base
        )
        self.sleep = sleep
        self.clock = clock
        self.counters = Counters()
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, **headers})
        if auth is not None:
            self.session.auth = auth

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------------
    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _describe(self, method: str, url: str) -> str:
        return f"{method} {urlsplit(url).path}"

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_base * (2**attempt), MAX_BACKOFF_SECONDS)
        return delay / 2 + random.uniform(0, delay / 2)  # equal jitter

    def _wait(self, seconds: float, why: str, method: str, url: str) -> None:
        if seconds > self.rate_limit_max_wait:
            raise SourceError(
                f"{self.source}: {why} for {self._describe(method, url)} asks to wait "
                f"{seconds:.0f} s, more than "
                f"RATE_LIMIT_MAX_WAIT_SECONDS={self.rate_limit_max_wait:.0f}; rerun later (state is kept)"
            )
        self.counters.waited_seconds += max(seconds, 0.0)
        if seconds > 0:
            self.sleep(seconds)

    def _rate_limit_wait(self, response: requests.Response, body: object) -> tuple[float, str] | None:
        """Seconds to wait when the answer is a rate limit (429, GitHub 403 primary/secondary), else None."""
        headers = response.headers
        status = response.status_code
        if status not in (403, 429):
            return None
        message = _error_text(body, response.text).lower()
        remaining = headers.get("x-ratelimit-remaining")
        retry_after = headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(float(retry_after), 0.0), f"HTTP {status} rate limit (Retry-After)"
            except ValueError:
                try:
                    when = parsedate_to_datetime(retry_after).timestamp()
                    return max(when - self.clock(), 0.0), f"HTTP {status} rate limit (Retry-After)"
                except (TypeError, ValueError):
                    pass
        if remaining == "0" and headers.get("x-ratelimit-reset"):
            try:
                reset = float(headers["x-ratelimit-reset"])
            except ValueError:
                reset = self.clock() + 60
            return max(reset - self.clock(), 0.0) + 1.0, f"HTTP {status} primary rate limit exhausted"
        if "secondary rate limit" in message or "abuse" in message:
            return -1.0, f"HTTP {status} secondary rate limit"
        if status == 429:
            return -1.0, "HTTP 429 rate limit"
        return None

    # -- the request loop ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, object] | None = None,
        json_body: object = None,
        etag: str | None = None,
        allow_status: tuple[int, ...] = (),
    ) -> Response:
        """One logical request with retries. 2xx/304 and `allow_status` return; anything else raises."""
        url = self.url(path_or_url)
        headers = {"If-None-Match": etag} if etag else {}
        failures = 0
        rate_limited = 0
        last_problem = ""
        while True:
            self.counters.requests += 1
            try:
                raw = self.session.request(
                    method, url, params=params, json=json_body, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                kind = "timeout" if isinstance(error, requests.Timeout) else "connection error"
                last_problem = f"{kind} ({type(error).__name__})"
                failures += 1
                if failures > self.max_retries:
                    raise SourceError(
                        f"{self.source}: {last_problem} for {self._describe(method, url)} after "
                        f"{failures} attempts (check the API URL and network; "
                        f"HTTP_MAX_RETRIES={self.max_retries})"
                    ) from None
                self.counters.retries += 1
                self._wait(self._backoff(failures - 1), last_problem, method, url)
                continue

            status = raw.status_code
            if status == 304:
                self.counters.not_modified += 1
                self.counters.pages += 1
                _count_page_for_kill_hook()
                return Response(
                    status, raw.url, raw.headers, None, parse_link_header(raw.headers.get("Link"))
                )

            body: object = None
            parse_error = False
            if raw.content:
                try:
                    body = raw.json()
                except ValueError:
                    parse_error = True

            wait = self._rate_limit_wait(raw, body)
            if wait is not None:
                seconds, why = wait
                rate_limited += 1
                if rate_limited > self.max_retries + 10:
                    raise SourceError(
                        f"{self.source}: {why} for {self._describe(method, url)} persisted "
                        f"after {rate_limited} waits; rerun later (state is kept)"
                    )
                self.counters.retries += 1
                self._wait(seconds if seconds >= 0 else self._backoff(rate_limited - 1), why, method, url)
                continue

            if 500 <= status < 600 or (200 <= status < 300 and parse_error):
                last_problem = f"HTTP {status}" + (" invalid JSON" if parse_error else "")
                failures += 1
                if failures > self.max_retries:
                    detail = (
                        "invalid JSON body" if parse_error else _error_text(body, raw.text) or "server error"
                    )
                    raise SourceError(
                        f"{self.source}: HTTP {status} {detail} for {self._describe(method, url)} after "
                        f"{failures} attempts (HTTP_MAX_RETRIES={self.max_retries}); "
                        "rerun later (state is kept)"
                    )
                self.counters.retries += 1
                self._wait(self._backoff(failures - 1), last_problem, method, url)
                continue

            if 200 <= status < 300 or status in allow_status:
                self.counters.pages += 1
                _count_page_for_kill_hook()
                return Response(
                    status, raw.url, raw.headers, body, parse_link_header(raw.headers.get("Link"))
                )

            raise SourceError(self._client_error(status, body, raw.text, method, url))

    def _client_error(self, status: int, body: object, text: str, method: str, url: str) -> str:
        message = (_error_text(body, text) or "error").rstrip(".")
        if status == 401:
            fix = f"check {self.credential_hint}"
        elif status == 403:
            fix = f"check the permissions of {self.credential_hint}"
        elif status == 404:
            fix = "check the configured repositories/projects/services and the API URL"
        elif status == 410:
            fix = "this API endpoint was removed"
        else:
            fix = "the request was rejected"
        return f"{self.source}: HTTP {status} {message} for {self._describe(method, url)} ({fix})"

    def get(self, path_or_url: str, **kwargs) -> Response:
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, json_body: object, **kwargs) -> Response:
        return self.request("POST", path_or_url, json_body=json_body, **kwargs)


def page_fingerprint(items: list) -> str:
    """The identities of a page's items (cheap), or its JSON when items carry no id."""
    identities = []
    for item in items:
        identity = None
        if isinstance(item, dict):
            identity = item.get("id") or item.get("sha") or item.get("number") or item.get("key")
        if identity is None:
            return json.dumps(items, sort_keys=True, default=str)
        identities.append(str(identity))
    return "\x1f".join(identities)


class RepeatedPageGuard:
    """Detects a page answering with the previous page's items (an API glitch) so it is re-requested."""

    def __init__(self) -> None:
        self.previous: str | None = None

    def is_repeat(self, items: list) -> bool:
        if not items:
            return False
        fingerprint = page_fingerprint(items)
        return fingerprint == self.previous

    def accept(self, items: list) -> None:
        self.previous = page_fingerprint(items) if items else None
