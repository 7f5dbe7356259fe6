"""GitHub GraphQL for what REST gives one object at a time: pull request commits and reviews, deployment statuses.

The streams, their state and their incremental rules stay those of `github.py` (children of the pull request
and deployment batches landed since the stream's cursor; watched deployments); only the fetching changes:
one query asks for the children of up to 100 parents (`nodes(ids: [...])`), and the few parents with more
children than the first page held are finished with aliased follow-up queries, each asking for exactly what
is left (known from `totalCount`). Each answer is reshaped into the REST payload the raw layer holds (the
fields dbt reads and their neighbours), so marts do not depend on the path (see docs/extractors.md#graphql).

Cost: each query reads `rateLimit { cost }`, counted in the client's counters (`StreamResult.graphql_points`).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterable, Iterator

from doraflow.errors import SourceError
from extractors.core import StreamContext

PAGE = 100  # GitHub's largest `first`
REQUESTS_PER_QUERY = (
    149  # GitHub prices a query at round(requests / 100): a follow-up up to 149 costs 1 point
)
# First page of commits per pull request. Each commit's `parents` is a nested connection GitHub prices at one
# request per possible commit, so 100 pull requests x 2 commits cost 3 points; 2 holds about 3 in 4 pull
# requests whole, the rest are finished by exact follow-ups (points ~1.2x the bound, see docs/extractors.md).
COMMITS_FIRST = 2
PR_COMMITS_CAP = 250  # GitHub lists at most 250 commits of a pull request (REST and GraphQL)
REFUSED_TYPES = {"INSUFFICIENT_SCOPES", "FORBIDDEN"}

COMMIT_FIELDS = """
fragment CommitFields on Commit {
  oid url message authoredDate committedDate
  author { name email date }
  committer { name email date }
  parents(first: 10) { nodes { oid } }
}"""
REVIEW_FIELDS = """
fragment ReviewFields on PullRequestReview {
  id fullDatabaseId state body submittedAt url authorAssociation
  commit { oid }
  author { __typename login }
}"""
STATUS_FIELDS = """
fragment StatusFields on DeploymentStatus {
  id state description environment createdAt updatedAt logUrl environmentUrl
  creator { __typename login }
}"""
PAGE_INFO = "pageInfo { hasNextPage endCursor }"
# Asked with the reviews' first pass (no extra query: +1 point per 100 pull requests for the nested
# connection): lines changed and the draft <-> ready events the Development stage ends with. 100 events
# per pull request are read; one with more is named in a progress line (docs/extractors.md, "Pull request
# details and CI jobs").
TIMELINE_FIRST = 100
PR_DETAIL_FIELDS = (
    "additions deletions changedFiles "
    f"timelineItems(itemTypes: [READY_FOR_REVIEW_EVENT, CONVERT_TO_DRAFT_EVENT], first: {TIMELINE_FIRST}) "
    "{ totalCount nodes { __typename "
    "... on ReadyForReviewEvent { id createdAt actor { __typename login } } "
    "... on ConvertToDraftEvent { id createdAt actor { __typename login } } } }"
)
TIMELINE_EVENTS = {"ReadyForReviewEvent": "ready_for_review", "ConvertToDraftEvent": "convert_to_draft"}


class GraphQLUnavailable(Exception):
    """`/graphql` is absent (404) or refuses the token: the caller goes on over REST."""


_unavailable_lock = threading.Lock()
_unavailable: dict[str, str] = {}  # GraphQL URL -> why (so one line says it once per process)


def graphql_url(api_url: str) -> str:
    """api.github.com -> /graphql; GitHub Enterprise Server `<host>/api/v3` -> `<host>/api/graphql`."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return f"{base}/graphql"


def use_graphql(ctx: StreamContext) -> bool:
    mode = getattr(ctx.settings.github, "api_mode", "auto")
    if mode == "rest":
        return False
    return not (mode == "auto" and graphql_url(ctx.settings.github.api_url) in _unavailable)


def fall_back(ctx: StreamContext, error: GraphQLUnavailable) -> None:
    """Auto mode: say once why, then REST. Forced GraphQL mode: fail with that line."""
    url = graphql_url(ctx.settings.github.api_url)
    if ctx.settings.github.api_mode == "graphql":
        raise SourceError(f"github: {error}; set GITHUB_API_MODE=auto or rest to use REST") from None
    with _unavailable_lock:
        first = url not in _unavailable
        _unavailable[url] = str(error)
    if first:
        ctx.progress(f"github: {error}; going on over REST (GITHUB_API_MODE=auto)")


def forget_unavailable() -> None:
    """Tests and long-lived workers: ask /graphql again."""
    with _unavailable_lock:
        _unavailable.clear()


def run_query(ctx: StreamContext, query: str, variables: dict | None = None) -> tuple[dict, list[dict]]:
    """POST one query; returns (data, errors about single nodes). Raises GraphQLUnavailable or SourceError."""
    client = ctx.client
    url = graphql_url(ctx.settings.github.api_url)
    for _attempt in range(client.max_retries + 11):
        response = client.post(url, {"query": query, "variables": variables or {}}, allow_status=(403, 404))
        if response.status == 404:
            raise GraphQLUnavailable(f"{url} answered 404 (no GraphQL API at this URL)")
        if response.status == 403:  # rate limits were waited out by the client; this is a refusal
            message = (response.body or {}).get("message") if isinstance(response.body, dict) else None
            raise GraphQLUnavailable(f"{url} answered 403 ({str(message or 'forbidden')[:120]})")
        body = response.body if isinstance(response.body, dict) else {}
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        kinds = {e.get("type") for e in errors}
        if kinds & REFUSED_TYPES:
            refused = next(e for e in errors if e.get("type") in REFUSED_TYPES)
            raise GraphQLUnavailable(
                f"GraphQL refused the token ({refused.get('type')}: {str(refused.get('message'))[:120]})"
            )
        if "RATE_LIMITED" in kinds:
            reset = response.headers.get("x-ratelimit-reset")
            try:
                seconds = max(float(reset) - client.clock(), 0.0) + 1.0 if reset else 60.0
            except ValueError:
                seconds = 60.0
            client.counters.retries += 1
            client._wait(seconds, "GraphQL points exhausted", "POST", url)
            continue
        data = body.get("data")
        node_errors = [e for e in errors if e.get("type") == "NOT_FOUND" and e.get("path")]
        if not isinstance(data, dict) or len(node_errors) != len(errors):
            first = next((e for e in errors if e not in node_errors), None)
            detail = (first or {}).get("message") or f"no data (keys: {sorted(body)})"
            raise SourceError(
                f"github: GraphQL query rejected: {str(detail)[:200]} (report this as a doraflow bug; "
                "GITHUB_API_MODE=rest works around it)"
            )
        rate = data.get("rateLimit")
        client.counters.graphql_queries += 1
        if isinstance(rate, dict) and isinstance(rate.get("cost"), int):
            client.counters.graphql_points += rate["cost"]
        return data, node_errors
    raise SourceError(f"github: GraphQL points stayed exhausted for POST {url}; rerun later (state is kept)")


# ----- ids --------------------------------------------------------------------------------------------
def database_id(global_id: object) -> int | None:
    """The REST integer id inside a global node id: legacy `0<n>:<Type><id>` or next `<PREFIX>_<msgpack>`."""
    if not isinstance(global_id, str) or not global_id:
        return None
    try:
        text = base64.b64decode(global_id, validate=True).decode()
        head, colon, rest = text.partition(":")
        if colon and head.startswith("0") and head[1:].isdigit():
            digits = rest[int(head[1:]) :]
            return int(digits) if digits.isdigit() else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    prefix, underscore, packed = global_id.partition("_")
    if not underscore or not prefix.isalpha():
        return None
    try:
        raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
    except (binascii.Error, ValueError):
        return None
    numbers = _msgpack_ints(raw)
    return numbers[-1] if numbers else None


def _msgpack_ints(raw: bytes) -> list[int]:
    """The integers of a msgpack array of integers (GitHub's next global ids: [0, owner id, object id])."""
    if not raw or raw[0] & 0xF0 != 0x90:
        return []
    out, at = [], 1
    widths = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
    for _ in range(raw[0] & 0x0F):
        if at >= len(raw):
            return []
        kind = raw[at]
        if kind <= 0x7F:
            out.append(kind)
            at += 1
        elif kind in widths:
            width = widths[kind]
            out.append(int.from_bytes(raw[at + 1 : at + 1 + width], "big", signed=kind >= 0xD0))
            at += 1 + width
        else:
            return []
    return out


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _login(actor: object) -> dict | None:
    if not isinstance(actor, dict) or not actor.get("login"):
        return None
    bot = actor.get("__typename") == "Bot"
    return {"login": f"{actor['login']}[bot]" if bot else actor["login"], "type": "Bot" if bot else "User"}


# ----- REST-shaped payloads (the raw layer's one contract) ---------------------------------------------
def rest_commit(node: dict) -> dict:
    """A `Commit` as the REST commit listing shapes it (the fields stg_github__*commits read and more)."""
    parents = ((node.get("parents") or {}).get("nodes")) or []
    return {
        "sha": node.get("oid"),
        "html_url": node.get("url"),
        "commit": {
            "author": node.get("author"),
            "committer": node.get("committer"),
            "message": node.get("message"),
        },
        "parents": [{"sha": p.get("oid")} for p in parents if isinstance(p, dict)],
    }


def rest_review(node: dict) -> dict:
    return {
        "id": _int(node.get("fullDatabaseId")) or database_id(node.get("id")),
        "node_id": node.get("id"),
        "user": _login(node.get("author")),
        "body": node.get("body"),
        "state": node.get("state"),
        "html_url": node.get("url"),
        "submitted_at": node.get("submittedAt"),
        "commit_id": (node.get("commit") or {}).get("oid"),
        "author_association": node.get("authorAssociation"),
    }


def rest_status(node: dict) -> dict:
    state = node.get("state")
    return {
        "id": database_id(node.get("id")),
        "node_id": node.get("id"),
        "state": state.lower() if isinstance(state, str) else state,
        "creator": _login(node.get("creator")),
        "description": node.get("description"),
        "environment": node.get("environment"),
        "target_url": node.get("logUrl"),
        "log_url": node.get("logUrl"),
        "environment_url": node.get("environmentUrl"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
    }


def rest_size(number: object, node: dict) -> dict:
    """The size fields of REST `GET pulls/{n}` (the list omits them): the `pull_request_sizes` payload."""
    return {
        "number": _int(number),
        "additions": _int(node.get("additions")),
        "deletions": _int(node.get("deletions")),
        "changed_files": _int(node.get("changedFiles")),
    }


def rest_issue_event(node: dict) -> dict | None:
    """A timeline event as REST `GET issues/{n}/events` shapes it (the `pull_request_events` payload)."""
    event = TIMELINE_EVENTS.get(node.get("__typename"))
    if event is None:
        return None
    return {
        "id": database_id(node.get("id")),
        "node_id": node.get("id"),
        "event": event,
        "actor": _login(node.get("actor")),
        "created_at": node.get("createdAt"),
    }


def pull_request_details(number: object, node: dict) -> tuple[dict, list[dict], bool]:
    """(size, events, complete) of one pull request node of the reviews' first pass."""
    timeline = node.get("timelineItems") or {}
    events = [
        e for e in (rest_issue_event(n) for n in timeline.get("nodes") or [] if isinstance(n, dict)) if e
    ]
    total = timeline.get("totalCount")
    return rest_size(number, node), events, not isinstance(total, int) or total <= TIMELINE_FIRST


# ----- children of many parents ----------------------------------------------------------------------
CONNECTIONS = {
    # kind: (parent type, connection, node fields, fragment, reshape, first page size)
    "commits": ("PullRequest", "commits", "commit { ...CommitFields }", COMMIT_FIELDS, None, COMMITS_FIRST),
    "reviews": ("PullRequest", "reviews", "...ReviewFields", REVIEW_FIELDS, rest_review, PAGE),
    "statuses": ("Deployment", "statuses", "...StatusFields", STATUS_FIELDS, rest_status, PAGE),
}


def _reshape(kind: str, node: dict) -> dict:
    if kind == "commits":
        return rest_commit(node.get("commit") or {})
    return CONNECTIONS[kind][4](node)


def _requests_per_parent(kind: str, first: int) -> int:
    """GitHub's count for one parent: its connection, plus one per possible commit for `parents`."""
    return 1 + (first if kind == "commits" else 0)


def first_page_size(kind: str, parents: int) -> int:
    """`first` of the first pass: the kind's default, or more while the query still costs one point
    (a nightly run's few changed pull requests get all their commits in one query)."""
    default = CONNECTIONS[kind][5]
    if kind != "commits" or parents <= 0:
        return default
    return max(default, min(PAGE, REQUESTS_PER_QUERY // parents - 1))


def first_pass_query(kind: str, first: int | None = None) -> str:
    """The first page (`first` children, default the kind's) of `kind` for each of `$ids` (up to 100 parents)."""
    parent_type, field, fields, fragment, _reshape_fn, default = CONNECTIONS[kind]
    first = default if first is None else first
    extra = f" {PR_DETAIL_FIELDS}" if kind == "reviews" else ""
    return (
        f"query($ids: [ID!]!) {{ rateLimit {{ cost remaining resetAt }} nodes(ids: $ids) {{ "
        f"... on {parent_type} {{ id {field}(first: {first}) {{ totalCount {PAGE_INFO} nodes {{ {fields} }} }}"
        f"{extra} }} }} }}{fragment}"
    )


def follow_up_query(kind: str, parents: list[tuple[str, int, str]]) -> str:
    """One alias `p<i>` per (node id, first, after cursor): the rest of each parent's children."""
    parent_type, field, fields, fragment, _reshape_fn, _first = CONNECTIONS[kind]
    aliases = " ".join(
        f"p{i}: node(id: {json.dumps(node)}) {{ ... on {parent_type} {{ "
        f"{field}(first: {size}, after: {json.dumps(after)}) {{ {PAGE_INFO} nodes {{ {fields} }} }} }} }}"
        for i, (node, size, after) in enumerate(parents)
    )
    return f"query {{ rateLimit {{ cost remaining resetAt }} {aliases} }}{fragment}"


def children(
    ctx: StreamContext, kind: str, parents: list[tuple[str, str]], details: dict | None = None
) -> Iterator[tuple[str, list[dict]]]:
    """(parent key, REST-shaped children) for each (parent key, node id); a parent gone (NOT_FOUND) yields
    nothing. First pass: `nodes(ids:)` for 100 parents at a time (`first_page_size`); then the unfinished
    parents, each with `first` = what is left, packed into aliased queries of up to one point each.
    `details` (reviews only) receives `pull_request_details` of each pull request found, by parent key."""
    field = CONNECTIONS[kind][1]
    cap = PR_COMMITS_CAP if kind == "commits" else None
    pending: list[tuple[str, str, str, int, list[dict]]] = []  # key, node id, cursor, left, collected
    for group in _groups(parents, PAGE):
        query = first_pass_query(kind, first_page_size(kind, len(group)))
        data, _missing = run_query(ctx, query, {"ids": [node for _, node in group]})
        for (key, node), found in zip(group, data.get("nodes") or [], strict=False):
            if not isinstance(found, dict):
                continue  # deleted since it was listed: nothing to land
            if details is not None and kind == "reviews":
                details[key] = pull_request_details(key, found)
            page = found.get(field) or {}
            items = [_reshape(kind, n) for n in page.get("nodes") or [] if isinstance(n, dict)]
            total = page.get("totalCount") if isinstance(page.get("totalCount"), int) else len(items)
            wanted = min(total, cap) if cap else total
            info = page.get("pageInfo") or {}
            if info.get("hasNextPage") and len(items) < wanted and info.get("endCursor"):
                pending.append((key, node, info["endCursor"], wanted - len(items), items))
            else:
                yield key, items
    yield from _finish(ctx, kind, pending)


def _finish(ctx: StreamContext, kind: str, pending: list) -> Iterator[tuple[str, list[dict]]]:
    field = CONNECTIONS[kind][1]
    while pending:
        batch, budget, rest = [], 0, []
        for entry in pending:
            size = min(entry[3], PAGE)
            cost = _requests_per_parent(kind, size)
            if batch and budget + cost > REQUESTS_PER_QUERY:
                rest.append(entry)
                continue
            batch.append((entry, size))
            budget += cost
        query = follow_up_query(kind, [(entry[1], size, entry[2]) for entry, size in batch])
        data, _missing = run_query(ctx, query)
        for i, (entry, _size) in enumerate(batch):
            key, node, _cursor, left, items = entry
            found = data.get(f"p{i}")
            if not isinstance(found, dict):
                continue
            page = found.get(field) or {}
            more = [_reshape(kind, n) for n in page.get("nodes") or [] if isinstance(n, dict)]
            items.extend(more)
            info = page.get("pageInfo") or {}
            left -= len(more)
            if info.get("hasNextPage") and left > 0 and more and info.get("endCursor"):
                rest.append((key, node, info["endCursor"], left, items))
            else:
                yield key, items
        pending = rest


def _groups(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
