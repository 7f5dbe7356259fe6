"""Compare ranges over GitHub GraphQL: what REST `compare/{base}...{head}` lists, exactly, without `Ref.compare`.

GraphQL's `Ref.compare` needs a branch as base; a deployment pair is two SHAs. So the commits are read from
`Commit.history` (the ancestry in `git log` order, 100 a page, each with its `parents`) and the range is worked
out locally. REST lists the commits reachable from head and not from base (from head, not from their merge base).

Exact rule. In the graph read so far, a commit is *known* when its parents are. For a pair, take `m` on base's
first-parent chain (base itself first) such that every path from head, and every path from base, reaches `m`
through known commits only (no unknown commit, no root, on the way). Let R_h and R_b be the commits so reached
before `m`. Then anc(head) = R_h + anc(m) and no commit of R_h is an ancestor of `m` (each has `m` as an
ancestor, and the graph has no cycles); the same for base. So head's commits not in base's ancestry are exactly
R_h - R_b, and base's commits not in head's are R_b - R_h (`behind_by`; `diverged` when both are not empty). The rule
needs no order from `history`, only the parents it reports. When a path from head or base meets base's
first-parent chain deeper than `m` (a branch forked before `m`), `m` moves down to that commit and the check
starts again.

Walking. One walk from the newest head reads the history of every pair of a repository at once (consecutive
deployment pairs share their ends, so the ranges tile the walk); a head the walks never met (a deployment of
another branch or of a commit rewritten away), then a base (a rollback's), gets its own walk once the others stop. Each query asks the next
page of every active walk (aliases `w<i>`; 1 + 100 requests each, so 1 point a walk, read from `rateLimit`).

A pair is left to REST compare (one line in the debug log, counted in the stream's line) when it is
`diverged` (a force push: REST names its merge base), when its range meets a root or more than
`MAX_RANGE` commits, or when walking stops first: two pages in a row that settle no pair (a very long range,
a head that is not in the walks' history), or as many queries as REST would have needed for all the pairs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from extractors.core import StreamContext
from extractors.github_graphql import COMMIT_FIELDS, PAGE, PAGE_INFO, rest_commit, run_query

log = logging.getLogger("doraflow.extract.github")

MAX_RANGE = 2_000  # commits on either side of a pair before it is left to REST (paged REST handles any size)
STALE_ROUNDS = 2  # pages in a row that settle nothing: stop walking


@dataclass
class Walk:
    tip: str
    cursor: str | None = None
    done: bool = False


@dataclass
class Graph:
    parents: dict[str, list[str]] = field(default_factory=dict)  # known commit -> parent shas
    nodes: dict[str, dict] = field(default_factory=dict)  # known commit -> its GraphQL node

    def add(self, node: dict) -> None:
        sha = node.get("oid")
        if not isinstance(sha, str):
            return
        parents = ((node.get("parents") or {}).get("nodes")) or []
        self.parents[sha] = [
            p["oid"] for p in parents if isinstance(p, dict) and isinstance(p.get("oid"), str)
        ]
        self.nodes[sha] = node


@dataclass
class Range:
    """A pair's outcome: `status` ahead/identical/behind with `commits` (oldest first), or why REST must answer."""

    status: str
    commits: list[dict] = field(default_factory=list)
    behind_by: int = 0


UNKNOWN = "unknown"  # more history needed
WHY = {
    "diverged": "diverged (history rewritten: a force push)",
    "root": "reaches a root commit outside base's history",
    "too long": f"has more than {MAX_RANGE:,} commits on one side",
}


def history_query(walks: list[Walk]) -> str:
    aliases = " ".join(
        f"w{i}: object(oid: {json.dumps(walk.tip)}) {{ ... on Commit {{ history(first: {PAGE}"
        + (f", after: {json.dumps(walk.cursor)}" if walk.cursor else "")
        + f") {{ {PAGE_INFO} nodes {{ ...CommitFields }} }} }} }}"
        for i, walk in enumerate(walks)
    )
    return (
        "query($owner: String!, $name: String!) { rateLimit { cost remaining resetAt } "
        f"repository(owner: $owner, name: $name) {{ {aliases} }} }}{COMMIT_FIELDS}"
    )


def _first_parents(graph: Graph, base: str) -> dict[str, int]:
    """Base's first-parent chain through known commits: sha -> depth (base 0)."""
    chain, sha = {base: 0}, base
    while len(chain) <= MAX_RANGE:
        parents = graph.parents.get(sha)
        if not parents or parents[0] in chain:
            break
        sha = parents[0]
        chain[sha] = len(chain)
    return chain


def _region(graph: Graph, start: str, stop: str, chain: dict[str, int]) -> tuple[str, object]:
    """The commits every path from `start` crosses before `stop`: ("ok", set) when all paths reach `stop`
    through known commits, ("deeper", depth) when one meets base's first-parent chain below `stop`,
    else (UNKNOWN | "root" | "too long", None)."""
    if start == stop:
        return "ok", set()
    limit = chain[stop]
    seen, stack, deeper = {start}, [start], None
    while stack:
        parents = graph.parents.get(stack.pop())
        if parents is None:
            return UNKNOWN, None
        if not parents:
            return "root", None
        for sha in parents:
            if sha == stop or sha in seen:
                continue
            depth = chain.get(sha)
            if depth is not None and depth > limit:
                deeper = depth if deeper is None else max(deeper, depth)
                continue
            seen.add(sha)
            stack.append(sha)
        if len(seen) > MAX_RANGE:
            return "too long", None
    return ("deeper", deeper) if deeper is not None else ("ok", seen)


def solve(graph: Graph, base: str, head: str) -> Range:
    """The pair's range from the graph read so far (see the module's doc for why it is exact)."""
    chain = _first_parents(graph, base)
    by_depth = list(chain)
    depth = 0
    while True:
        cut = by_depth[depth]
        outcome, ahead = _region(graph, head, cut, chain)
        if outcome == "ok":
            outcome, behind = _region(graph, base, cut, chain)
        if outcome == "deeper":
            depth = ahead if isinstance(ahead, int) else behind  # type: ignore[assignment]
            if depth >= len(by_depth):
                return Range(UNKNOWN)
            continue
        if outcome == "root" and graph.parents.get(by_depth[-1]) != []:
            return Range(UNKNOWN)  # base's first-parent chain is not read down to its root yet
        if outcome != "ok":
            return Range(outcome)
        break
    assert isinstance(ahead, set) and isinstance(behind, set)
    if base not in graph.nodes or head not in graph.nodes:
        return Range(UNKNOWN)  # the cut, not read yet: its fields make `base_commit`/`merge_base_commit`
    only = ahead - behind
    if behind - ahead:
        # behind (a rollback to an older commit): no commits, head is the merge base; diverged: REST says
        return Range("behind", behind_by=len(behind - ahead)) if not only else Range("diverged")
    # oldest first, as REST lists them (committer date, then authored date, then sha for a stable order)
    nodes = sorted(
        (graph.nodes[sha] for sha in only),
        key=lambda n: (n.get("committedDate") or "", n.get("authoredDate") or "", n.get("oid")),
    )
    return Range("ahead" if only else "identical", [rest_commit(n) for n in nodes])


def comparison_record(ctx: StreamContext, graph: Graph, pair: str, result: Range) -> dict:
    """The `comparisons` row REST lands (its fields without `commits`/`files`), from the walked commits."""
    base, _, head = pair.partition("...")
    base_commit = rest_commit(graph.nodes[base])
    merge_base = base_commit if result.status != "behind" else rest_commit(graph.nodes[head])
    web = str(base_commit.get("html_url") or "").rsplit("/commit/", 1)[0]
    owner = ctx.scope.split("/", 1)[0]
    api = ctx.settings.github.api_url.rstrip("/")
    return {
        "url": f"{api}/repos/{ctx.scope}/compare/{pair}",
        "html_url": f"{web}/compare/{pair}",
        "permalink_url": f"{web}/compare/{owner}:{base}...{owner}:{head}",
        "diff_url": f"{web}/compare/{pair}.diff",
        "patch_url": f"{web}/compare/{pair}.patch",
        "base_commit": base_commit,
        "merge_base_commit": merge_base,  # of the two, the one that is the other's ancestor
        "status": result.status,
        "ahead_by": len(result.commits),
        "behind_by": result.behind_by,
        "total_commits": len(result.commits),
    }


def compare_ranges(ctx: StreamContext, pairs: list[str]) -> Iterator[tuple[str, dict | None, list[dict]]]:
    """(pair, comparison, commits) for each pair in `pairs` (`base...head`, oldest deployment first) as it is
    settled; comparison None = left to REST compare (why: in the debug log). Raises GraphQLUnavailable."""
    owner, _, name = ctx.scope.partition("/")
    graph = Graph()
    open_pairs = list(pairs)
    walks = [Walk(open_pairs[-1].partition("...")[2])] if open_pairs else []
    queries = stale = 0
    while open_pairs:
        active = [walk for walk in walks if not walk.done]
        if not active:
            # heads the walks never met first, then bases (a rollback's or a rewritten history's)
            tips = set(graph.parents) | {walk.tip for walk in walks}
            ends = [p.partition("...")[2] for p in reversed(open_pairs)]
            ends += [p.partition("...")[0] for p in reversed(open_pairs)]
            fresh = next((sha for sha in ends if sha not in tips), None)
            if fresh is None:
                break
            walks.append(Walk(fresh))
            active = [walks[-1]]
        if queries >= len(pairs) + 1 or stale >= STALE_ROUNDS:
            break
        data, _missing = run_query(ctx, history_query(active), {"owner": owner, "name": name})
        queries += 1
        repository = data.get("repository") or {}
        for i, walk in enumerate(active):
            history = (repository.get(f"w{i}") or {}).get("history")
            if not isinstance(history, dict):
                walk.done = True  # the tip is not a commit of this repository
                continue
            for node in history.get("nodes") or []:
                if isinstance(node, dict):
                    graph.add(node)
            info = history.get("pageInfo") or {}
            walk.cursor = info.get("endCursor")
            walk.done = not (info.get("hasNextPage") and walk.cursor)
        still = []
        for pair in open_pairs:
            base, _, head = pair.partition("...")
            result = solve(graph, base, head)
            if result.status == UNKNOWN:
                still.append(pair)
            elif result.status in ("ahead", "identical", "behind"):
                yield pair, comparison_record(ctx, graph, pair, result), result.commits
            else:
                log.debug(
                    "github comparisons %s: %s %s; REST compare",
                    ctx.scope,
                    pair,
                    WHY.get(result.status, result.status),
                )
                yield pair, None, []
        stale = stale + 1 if len(still) == len(open_pairs) else 0
        open_pairs = still
    for pair in open_pairs:
        log.debug("github comparisons %s: %s not settled by walking history; REST compare", ctx.scope, pair)
        yield pair, None, []
