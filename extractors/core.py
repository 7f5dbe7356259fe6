"""Stream tasks, the per-task context (state, landing, change filter) and the runners."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from threading import Lock

from doraflow.config import Settings
from doraflow.errors import SourceError
from extractors.http import Counters, HttpClient
from extractors.landing import ScopeIndex, utc_now
from extractors.streams import STREAMS, StreamSpec, get_stream

Progress = Callable[[str], None]
FLUSH_RECORDS = 2000  # records per landed batch in the middle of a sweep


@dataclass(frozen=True)
class StreamTask:
    source: str
    stream: str
    scope: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def of(cls, value: StreamTask | Mapping[str, str] | Sequence[str]) -> StreamTask:
        """Accepts a task, a dict (e.g. from Airflow XCom) or a (source, stream, scope) sequence."""
        if isinstance(value, StreamTask):
            return value
        if isinstance(value, Mapping):
            return cls(value["source"], value["stream"], value["scope"])
        source, stream, scope = value
        return cls(source, stream, scope)

    def __str__(self) -> str:
        return f"{self.source} {self.stream} {self.scope}"


@dataclass
class StreamResult:
    source: str
    stream: str
    scope: str
    requests: int = 0
    not_modified: int = 0
    pages: int = 0
    records: int = 0
    batches: int = 0
    elapsed_seconds: float = 0.0
    retries: int = 0
    waited_seconds: float = 0.0
    graphql_queries: int = 0  # of `requests`, the GraphQL queries answered
    graphql_points: int = 0  # their cost in GitHub's GraphQL points (`rateLimit { cost }`)

    def line(self) -> str:
        graphql = (
            f", {self.graphql_queries} GraphQL quer(ies) = {self.graphql_points} point(s)"
            if self.graphql_queries
            else ""
        )
        return (
            f"{self.source} {self.stream} {self.scope}: {self.pages} page(s), {self.records} record(s), "
            f"{self.batches} batch(es), {self.requests} request(s) ({self.not_modified} not modified, "
            f"{self.retries} retried){graphql}, {self.elapsed_seconds:.1f} s"
        )


# -- time ------------------------------------------------------------------------------------------
def parse_time(value: object) -> datetime | None:
    """ISO 8601 from any of the three APIs (`Z`, `+00:00`, Jira's `+0000`), as aware UTC; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(hour=0, minute=0, second=0, microsecond=0)


def payload_hash(payload: object) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ChangeFilter:
    """Skips records already landed with the same content inside the overlap window.

    `recent` maps natural key -> [cursor ISO time, payload hash] for the records whose cursor lies
    within the overlap window below the watermark; it is part of the stream state.
    """

    def __init__(self, recent: Mapping[str, list] | None) -> None:
        self.old = dict(recent or {})
        self.seen: dict[str, list] = {}

    def changed(self, key: str, cursor: datetime | None, payload: object) -> bool:
        digest = payload_hash(payload)
        self.seen[key] = [iso(cursor) if cursor else None, digest]
        old = self.old.get(key)
        return old is None or old[1] != digest

    def state(self, floor: datetime | None) -> dict[str, list]:
        merged = {**self.old, **self.seen}
        if floor is None:
            return merged
        return {k: v for k, v in merged.items() if v[0] is not None and parse_time(v[0]) >= floor}


# -- the per-task context ----------------------------------------------------------------------------
class StreamContext:
    """What a stream function needs: settings, the HTTP client, its state and a buffered lander."""

    def __init__(self, settings: Settings, task: StreamTask, client: HttpClient, progress: Progress) -> None:
        self.settings = settings
        self.task = task
        self.spec: StreamSpec = get_stream(task.source, task.stream)
        self.client = client
        self.progress = progress
        self.scope = task.scope
        self.index = ScopeIndex(settings.landing_dir, task.source, task.stream, task.scope)
        self.state: dict = dict(self.index.state or {})
        self._landed_state: dict | None = self.index.state
        self.buffer: list[tuple[str | None, object]] = []
        self.records = 0
        self.batches = 0
        self.extra: dict[str, ScopeIndex] = {}
        self.extracted_at = utc_now()

    # where the previous run stopped
    def floor(self, watermark: str | None, overlap: timedelta | None = None) -> datetime:
        overlap = self.spec.overlap if overlap is None else overlap
        start = datetime.combine(self.settings.extract_start_date, dtime.min, tzinfo=UTC)
        moment = parse_time(watermark)
        return start if moment is None else max(start, moment - overlap)

    def parent_index(self, stream: str) -> ScopeIndex:
        return ScopeIndex(self.settings.landing_dir, self.task.source, stream, self.scope)

    def add(self, parent_id: object, payload: object) -> None:
        self.buffer.append((None if parent_id is None else str(parent_id), payload))
        if len(self.buffer) >= FLUSH_RECORDS:
            self.flush(None)

    def flush(self, state: dict | None) -> None:
        """Land the buffered records; `state` (if given) is the state after them."""
        if state is not None and state == self._landed_state and not self.buffer:
            return
        if state is None and not self.buffer:
            return
        self.index.write_batch(self.buffer, state, self.extracted_at)
        self.records += len(self.buffer)
        self.batches += 1
        self.buffer = []
        if state is not None:
            self._landed_state = state
            self.state = dict(state)

    def land_other(self, stream: str, records: list[tuple[str | None, object]]) -> None:
        """Land records of a stream this task also produces (compare commits), without state."""
        if not records:
            return
        index = self.extra.get(stream)
        if index is None:
            index = self.extra[stream] = ScopeIndex(
                self.settings.landing_dir, self.task.source, stream, self.scope
            )
        index.write_batch(records, None, self.extracted_at)
        self.records += len(records)
        self.batches += 1


# -- clients -------------------------------------------------------------------------------------------
def make_client(settings: Settings, source: str) -> HttpClient:
    common = dict(
        timeout=settings.http_timeout_seconds,
        max_retries=settings.http_max_retries,
        rate_limit_max_wait=settings.rate_limit_max_wait_seconds,
    )
    if source == "github":
        gh = settings.github
        return HttpClient(
            "github",
            gh.api_url,
            headers={
                "Authorization": f"Bearer {gh.token.reveal()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            credential_hint="GITHUB_TOKEN",
            **common,
        )
    if source == "jira":
        jira = settings.jira
        return HttpClient(
            "jira",
            jira.base_url,
            headers={"Accept": "application/json"},
            auth=(jira.email, jira.api_token.reveal()),
            credential_hint="JIRA_EMAIL and JIRA_API_TOKEN",
            **common,
        )
    if source == "pagerduty":
        pd = settings.pagerduty
        return HttpClient(
            "pagerduty",
            pd.api_url,
            headers={
                "Authorization": f"Token token={pd.token.reveal()}",
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
            credential_hint="PAGERDUTY_TOKEN",
            **common,
        )
    raise ValueError(f"unknown source {source!r}")


# -- planning and running ----------------------------------------------------------------------------
def _scopes(settings: Settings, source: str) -> tuple[str, ...]:
    if source == "github":
        return settings.github.repos
    if source == "jira":
        return settings.jira.projects
    return ("pagerduty",)


def plan_streams(settings: Settings, sources: Sequence[str] | None = None) -> list[StreamTask]:
    """Every (source, stream, scope) to extract, parents before children."""
    wanted = [s for s in settings.configured_sources if sources is None or s in sources]
    tasks: list[StreamTask] = []
    for source in wanted:
        for spec in STREAMS:
            if spec.source == source and spec.planned:
                tasks.extend(StreamTask(source, spec.name, scope) for scope in _scopes(settings, source))
    return tasks


def _stream_function(task: StreamTask):
    if task.source == "github":
        from extractors import github as module
    elif task.source == "jira":
        from extractors import jira as module
    else:
        from extractors import pagerduty as module
    return module.STREAM_FUNCTIONS[task.stream]


def extract_stream(settings: Settings, task: StreamTask, progress: Progress = print) -> StreamResult:
    """Extract one stream of one scope into landing batches; its state advances with each landed batch."""
    task = StreamTask.of(task)
    if task.source not in settings.configured_sources:
        raise SourceError(
            f"{task.source}: not configured ({'; '.join(settings.skipped_sources) or 'no settings'})"
        )
    function = _stream_function(task)
    clock = time.monotonic()
    with make_client(settings, task.source) as client:
        context = StreamContext(settings, task, client, progress)
        try:
            function(context)
        finally:
            counters: Counters = client.counters
            result = StreamResult(
                task.source,
                task.stream,
                task.scope,
                requests=counters.requests,
                not_modified=counters.not_modified,
                pages=counters.pages,
                records=context.records,
                batches=context.batches,
                elapsed_seconds=round(time.monotonic() - clock, 3),
                retries=counters.retries,
                waited_seconds=round(counters.waited_seconds, 3),
                graphql_queries=counters.graphql_queries,
                graphql_points=counters.graphql_points,
            )
    progress(result.line())
    return result


def extract_sources(
    settings: Settings, sources: Sequence[str] | None = None, progress: Progress = print
) -> list[StreamResult]:
    """The whole extract: scopes in parallel (EXTRACT_CONCURRENCY threads), a scope's streams in order.

    A failing scope does not stop the others; a source whose credentials are refused (401/403) stops
    its remaining scopes. Raises `SourceError` at the end with one line per failing source.
    """
    tasks = plan_streams(settings, sources)
    groups: dict[tuple[str, str], list[StreamTask]] = {}
    for task in tasks:
        groups.setdefault((task.source, task.scope), []).append(task)
    results: dict[StreamTask, StreamResult] = {}
    errors: dict[str, list[str]] = {}
    refused: set[str] = set()
    lock = Lock()

    def run_group(group: list[StreamTask]) -> None:
        for task in group:
            with lock:
                if task.source in refused:
                    return
            try:
                results[task] = extract_stream(settings, task, progress)
            except SourceError as error:
                message = str(error)
                with lock:
                    errors.setdefault(task.source, []).append(message)
                    if " HTTP 401 " in message or " HTTP 403 " in message:
                        refused.add(task.source)
                progress(f"{task}: failed: {message}")
                return

    with ThreadPoolExecutor(max_workers=max(1, settings.extract_concurrency)) as pool:
        for future in [pool.submit(run_group, group) for group in groups.values()]:
            future.result()
    if errors:
        lines = []
        for source in sorted(errors):
            first, count = errors[source][0], len(errors[source])
            lines.append(first if count == 1 else f"{first} (and {count - 1} more failing {source} scope(s))")
        raise SourceError("\n".join(lines))
    return [results[task] for task in tasks if task in results]


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def chunks(values: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


__all__ = [
    "ChangeFilter",
    "StreamContext",
    "StreamResult",
    "StreamTask",
    "extract_sources",
    "extract_stream",
    "iso",
    "parse_time",
    "plan_streams",
]
