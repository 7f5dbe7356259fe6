"""Compare ranges over GraphQL `Commit.history`: the same rows as REST compare (merges, a rollback, a force push
left to REST and counted), queries valid against GitHub's schema, the simulator's `history` in `git log` order."""

from __future__ import annotations

import json
import logging

import graphql
import pytest
import requests

from doraflow.config import load_settings
from extractors import github_graphql as gql
from extractors.core import StreamContext, StreamTask, make_client
from extractors.github_graphql_compare import Walk, compare_ranges, history_query
from simulator import Simulator, SimulatorConfig, github_graphql
from simulator.config import GITHUB_TOKEN
from simulator.github_model import WEB_FLOW
from simulator.http import Request

GH = {"Authorization": f"Bearer {GITHUB_TOKEN}", "Accept": "application/vnd.github+json"}


@pytest.fixture(scope="module")
def full_schema(specs_dir):
    path = specs_dir / "github-graphql" / "schema.graphql"
    if not path.is_file():
        pytest.skip(f"GitHub GraphQL schema not found at {path}")
    return path


def test_history_query_is_valid_against_githubs_schema(full_schema):
    schema = github_graphql.load_schema(full_schema)
    query = history_query([Walk("a" * 40), Walk("b" * 40, cursor="Y3Vyc29yOnYyOjEwMA==")])
    assert graphql.validate(schema, graphql.parse(query)) == []


def ask(sim, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = Request("POST", "/graphql", {}, {"authorization": f"Bearer {GITHUB_TOKEN}"}, body, "http://sim")
    response, _delay = sim.apps["github"].serve(request)
    return response.body


def test_simulator_history_is_git_log_order_with_cursors_and_cost(full_schema, monkeypatch):
    monkeypatch.setenv(github_graphql.SCHEMA_ENV, str(full_schema))
    sim = Simulator(SimulatorConfig(seed=5, repositories=1, days=2))  # not started: requests go to the app
    repo = sim.org.github.repos[0]
    # a hand-made graph: root A (t=1), B (t=2) on A, C (t=3) on A, merge M (t=4) of B and C, D (t=4) on M.
    # `git log D`: newest committer date first, equal dates in the order reached -> D, M, C, B, A
    t = 1_000_000_000
    a = repo._commit("A", 0, t + 1, 0, t + 1, ())
    b = repo._commit("B", 0, t + 2, 0, t + 2, (a.sha,))
    c = repo._commit("C", 0, t + 3, 0, t + 3, (a.sha,))
    m = repo._commit("M", 0, t + 4, WEB_FLOW, t + 4, (b.sha, c.sha))
    d = repo._commit("D", 0, t + 4, 0, t + 4, (m.sha,))
    query = """query($owner: String!, $name: String!, $oid: GitObjectID!, $after: String) {
      rateLimit { cost }
      repository(owner: $owner, name: $name) {
        one: object(oid: $oid) { ... on Commit { history(first: 2, after: $after) {
          totalCount pageInfo { hasNextPage endCursor } nodes { oid parents(first: 10) { nodes { oid } } } } } }
        two: object(oid: $oid) { ... on Commit { history(first: 100) { nodes { oid } } } }
      }
    }"""
    variables = {"owner": "acme", "name": repo.name, "oid": d.sha, "after": None}
    first = ask(sim, query, variables)
    assert "errors" not in first, first
    page = first["data"]["repository"]["one"]["history"]
    assert [n["oid"] for n in page["nodes"]] == [d.sha, m.sha]
    assert page["totalCount"] == 5 and page["pageInfo"]["hasNextPage"]
    assert [p["oid"] for p in page["nodes"][1]["parents"]["nodes"]] == [b.sha, c.sha]
    # cost: `one` 1 + 2 (parents per node) requests, `two` 1 -> 4 requests -> round(0.04) -> minimum 1 point
    assert first["data"]["rateLimit"]["cost"] == 1
    second = ask(sim, query, {**variables, "after": page["pageInfo"]["endCursor"]})
    rest = second["data"]["repository"]["one"]["history"]
    assert [n["oid"] for n in rest["nodes"]] == [c.sha, b.sha]
    assert [n["oid"] for n in second["data"]["repository"]["two"]["history"]["nodes"]] == [
        d.sha,
        m.sha,
        c.sha,
        b.sha,
        a.sha,
    ]
    missing = ask(sim, query, {**variables, "oid": "f" * 40})
    assert missing["data"]["repository"]["one"] is None  # GitHub: null for an object the repository lacks


def rest_compare(sim, repo, pair: str) -> tuple[dict, list[dict]]:
    url = sim.urls["github"] + f"/repos/{repo.full_name}/compare/{pair}"
    body, commits, page = None, [], 1
    while True:
        response = requests.get(url, headers=GH, params={"per_page": 100, "page": page}, timeout=10)
        assert response.status_code == 200
        body = body or response.json()
        commits.extend(response.json()["commits"])
        if "next" not in response.links:
            return body, commits
        page += 1


def read_fields(commit: dict) -> tuple:
    """What stg_github__comparison_commits reads of a commit."""
    return (
        commit["sha"],
        commit["commit"]["author"]["date"],
        commit["commit"]["author"]["email"],
        commit["commit"]["message"],
        [p["sha"] for p in commit["parents"]],
    )


@pytest.mark.slow
def test_graphql_compare_lands_what_rest_compare_lands(tmp_path, caplog):
    gql.forget_unavailable()
    with Simulator(SimulatorConfig(seed=7, repositories=1, days=30)) as sim:
        repo = sim.org.github.repos[0]
        org = sim.org
        deploys = [f"{b}...{h}" for b, h in org.production_pairs(repo)]
        # a branch forked before `base` and merged after it (a merge commit), as base...merge commit
        merged = next(
            pr
            for pr in repo.pulls
            if pr.merge_method == "merge"
            and any(c.pr is None and pr.base_reach < c.reach for c in repo.main_order[: pr.base_reach + 3])
            and repo.commits[pr.merge_commit_sha].reach > pr.base_reach + 2
        )
        merge_commit = repo.commits[merged.merge_commit_sha]
        between = next(
            c for c in repo.main_order if c.pr is None and merged.base_reach < c.reach < merge_commit.reach
        )
        fork_merge = f"{between.sha}...{merge_commit.sha}"
        # a force push: two new commits on an older main commit X; the old head is no ancestor of them
        x = next(c for c in reversed(repo.main_order[:-15]) if c.pr is None)
        moment = repo.head.committed_at + 60
        f1 = repo._commit("rewritten 1", 0, moment, 0, moment, (x.sha,))
        f2 = repo._commit("rewritten 2", 0, moment + 60, 0, moment + 60, (f1.sha,))
        forced = f"{repo.head.sha}...{f2.sha}"
        rebuilt = f"{x.sha}...{f2.sha}"  # ahead of X by F1, F2
        rollback = f"{repo.head.sha}...{x.sha}"  # behind: a deployment of an older commit
        same = f"{x.sha}...{x.sha}"
        pairs = [*deploys, fork_merge, rollback, same, forced, rebuilt]
        settings = load_settings(
            {
                **sim.env(),
                "WAREHOUSE_PATH": str(tmp_path / "d.duckdb"),
                "LANDING_DIR": str(tmp_path / "landing"),
                "GITHUB_API_MODE": "graphql",
            }
        )
        caplog.set_level(logging.DEBUG, logger="doraflow.extract.github")
        with make_client(settings, "github") as client:
            ctx = StreamContext(
                settings, StreamTask("github", "comparisons", repo.full_name), client, lambda line: None
            )
            got = {pair: (comparison, commits) for pair, comparison, commits in compare_ranges(ctx, pairs)}
            queries, points = client.counters.graphql_queries, client.counters.graphql_points
        truth = {pair: rest_compare(sim, repo, pair) for pair in pairs}
    assert set(got) == set(pairs)
    left = [pair for pair, (comparison, _commits) in got.items() if comparison is None]
    assert left == [forced] and truth[forced][0]["status"] == "diverged"
    said = [r.getMessage() for r in caplog.records if "REST compare" in r.getMessage()]
    assert len(said) == 1 and forced in said[0] and "diverged" in said[0]
    statuses = {truth[p][0]["status"] for p in pairs}
    assert {"ahead", "behind", "identical", "diverged"} <= statuses
    # the fork-before-base merge: the branch's commits are in the range, the fork point's ancestry is not
    assert {c["sha"] for c in got[fork_merge][1]} >= {c.sha for c in merged.commits}
    for pair in pairs:
        if pair == forced:
            continue
        comparison, commits = got[pair]
        expected, expected_commits = truth[pair]
        for key in ("status", "ahead_by", "behind_by", "total_commits"):
            assert comparison[key] == expected[key], (pair, key)
        assert comparison["base_commit"]["sha"] == expected["base_commit"]["sha"]
        assert comparison["merge_base_commit"]["sha"] == expected["merge_base_commit"]["sha"], pair
        assert sorted(map(read_fields, commits)) == sorted(map(read_fields, expected_commits)), pair
    # one walk from the newest head reads every range: far fewer queries than REST's one request per pair
    assert queries < len(pairs) / 4 and points >= queries
