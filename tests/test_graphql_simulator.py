"""The simulator's GitHub GraphQL endpoint: validation against GitHub's schema, cost, limits, cursors, errors."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from simulator import github_graphql
from simulator.config import GITHUB_TOKEN, SimulatorConfig
from simulator.http import Request
from simulator.server import Simulator

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sim():
    return Simulator(SimulatorConfig(seed=5, repositories=2, days=30))  # not started: requests go to the app


@pytest.fixture(scope="module")
def full_schema(specs_dir):
    path = specs_dir / "github-graphql" / "schema.graphql"
    if not path.is_file():
        pytest.skip(f"GitHub GraphQL schema not found at {path}")
    return path


@pytest.fixture(autouse=True)
def schema_in_use(request, monkeypatch):
    """Tests that name `full_schema` run against GitHub's whole schema; the others against the vendored subset."""
    if "full_schema" in request.fixturenames:
        monkeypatch.setenv(github_graphql.SCHEMA_ENV, str(request.getfixturevalue("full_schema")))
    else:
        monkeypatch.setenv(github_graphql.SCHEMA_ENV, str(github_graphql.VENDORED_SCHEMA))


def ask(sim, query: str, variables: dict | None = None, token: str = GITHUB_TOKEN, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps({"query": query, "variables": variables or {}}).encode()
    request = Request("POST", "/graphql", {}, {"authorization": f"Bearer {token}"}, body, "http://sim")
    response, _delay = sim.apps["github"].serve(request)
    return response


def repo_name(sim, index: int = 0) -> str:
    return sim.org.github.repos[index].name


def test_a_valid_query_is_answered_with_the_model(sim, full_schema):
    repo = sim.org.github.repos[0]
    query = """query($owner: String!, $name: String!) {
      rateLimit { cost remaining resetAt }
      repository(owner: $owner, name: $name) {
        pullRequests(first: 5, orderBy: {field: UPDATED_AT, direction: DESC}) {
          totalCount
          nodes { number state fullDatabaseId commits(first: 3) { totalCount nodes { commit { oid } } } }
        }
      }
    }"""
    response = ask(sim, query, {"owner": "acme", "name": repo.name})
    assert response.status == 200
    data = response.body["data"]
    newest = sorted(repo.pulls, key=lambda pr: (pr.updated_at, pr.number), reverse=True)[:5]
    pulls = data["repository"]["pullRequests"]
    assert pulls["totalCount"] == len(repo.pulls)
    assert [n["number"] for n in pulls["nodes"]] == [pr.number for pr in newest]
    first = newest[0]
    assert pulls["nodes"][0]["fullDatabaseId"] == str(first.id)
    assert pulls["nodes"][0]["state"] == ("MERGED" if first.merged_at else first.state.upper())
    assert pulls["nodes"][0]["commits"]["totalCount"] == len(first.commits)
    assert [c["commit"]["oid"] for c in pulls["nodes"][0]["commits"]["nodes"]] == [
        c.sha for c in first.commits[:3]
    ]
    # 1 (pullRequests) + 5 (commits of each of 5 pull requests) = 6 requests -> rounds to 0 -> 1 point
    assert data["rateLimit"]["cost"] == 1
    assert response.headers["x-ratelimit-resource"] == "graphql"


def test_cost_follows_githubs_documented_formula(sim):
    prs = sim.org.github.repos[0].pulls[:3]
    ids = [github_graphql.node_id("PullRequest", pr.id) for pr in prs]
    query = """query($ids: [ID!]!) { rateLimit { cost nodeCount }
      nodes(ids: $ids) { ... on PullRequest {
        commits(first: 50) { nodes { commit { parents(first: 2) { nodes { oid } } } } }
        reviews(first: 100) { nodes { state } } } } }"""
    rate = ask(sim, query, {"ids": ids}).body["data"]["rateLimit"]
    # commits: 3 requests (one per pull request); parents: 3 x 50 = 150; reviews: 3 -> 156 / 100 -> 2 points
    assert rate["cost"] == 2
    # nodes: commits 3 x 50 + parents 150 x 2 + reviews 3 x 100
    assert rate["nodeCount"] == 150 + 300 + 300


def test_points_are_charged_to_their_own_budget(sim):
    query = "query { rateLimit { remaining used } }"
    before = ask(sim, query, token=GITHUB_TOKEN).body["data"]["rateLimit"]
    after = ask(sim, query, token=GITHUB_TOKEN).body["data"]["rateLimit"]
    assert after["used"] == before["used"] + 1 and after["remaining"] == before["remaining"] - 1
    dry = ask(sim, "query { rateLimit(dryRun: true) { remaining } }").body["data"]["rateLimit"]
    assert dry["remaining"] == after["remaining"]  # a dry run costs nothing


def test_cursors_walk_every_item_once(sim):
    repo = sim.org.github.repos[1]
    query = """query($name: String!, $after: String) { repository(owner: "acme", name: $name) {
      deployments(first: 7, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
        pageInfo { hasNextPage endCursor } nodes { databaseId } } } }"""
    seen, after = [], None
    while True:
        page = ask(sim, query, {"name": repo.name, "after": after}).body["data"]["repository"]["deployments"]
        seen.extend(node["databaseId"] for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [d.id for d in sorted(repo.deployments, key=lambda d: (d.created_at, d.id), reverse=True)]


def test_bad_queries_get_githubs_error_shapes(sim, full_schema):
    name = repo_name(sim)
    text = f'{{ repository(owner: "acme", name: "{name}") {{ nope }} }}'
    unknown = ask(sim, text).body
    assert "data" not in unknown
    assert unknown["errors"][0]["message"].startswith("Cannot query field 'nope' on type 'Repository'.")
    assert unknown["errors"][0]["locations"] == [{"line": 1, "column": text.index("nope") + 1}]

    syntax = ask(sim, "{ repository(").body
    assert syntax["errors"][0]["extensions"]["code"] == "parseError"

    unbounded = ask(
        sim, f'{{ repository(owner: "acme", name: "{name}") {{ pullRequests {{ nodes {{ id }} }} }} }}'
    )
    assert unbounded.body["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert "`pullRequests` connection" in unbounded.body["errors"][0]["message"]

    too_many = ask(
        sim,
        f'{{ repository(owner: "acme", name: "{name}") {{ pullRequests(first: 101) {{ totalCount }} }} }}',
    )
    error = too_many.body["errors"][0]
    assert error["type"] == "EXCESSIVE_PAGINATION"
    assert error["message"] == (
        "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records."
    )

    huge = ask(
        sim,
        f'{{ repository(owner: "acme", name: "{name}") {{ pullRequests(first: 100) {{ nodes {{ '
        "commits(first: 100) { nodes { commit { parents(first: 100) { nodes { oid } } } } } } } } }",
    ).body
    # 100 + 100 x 100 + 100 x 100 x 100 possible nodes
    assert huge["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    assert "1,010,100 possible nodes" in huge["errors"][0]["message"]

    missing = ask(sim, '{ repository(owner: "acme", name: "missing") { name } }').body
    assert missing["data"] == {"repository": None}
    assert missing["errors"][0]["type"] == "NOT_FOUND"

    no_query = ask(sim, "", raw=b'{"variables": {}}').body
    assert no_query["errors"][0]["message"] == "A query attribute must be specified and must be a string."


def test_nodes_answers_null_in_place_of_an_unknown_id(sim):
    pr = sim.org.github.repos[0].pulls[0]
    unknown = base64.b64encode(b"011:PullRequest999").decode()
    body = ask(
        sim,
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on PullRequest { number } } }",
        {"ids": [github_graphql.node_id("PullRequest", pr.id), unknown]},
    ).body
    assert body["data"]["nodes"] == [{"number": pr.number}, None]
    assert body["errors"][0]["type"] == "NOT_FOUND" and body["errors"][0]["path"] == ["nodes", 1]


def test_bad_token_absent_endpoint_and_refused_scope(sim):
    assert ask(sim, "{ rateLimit { cost } }", token="wrong").status == 401
    app = sim.apps["github"]
    try:
        app.graphql_mode = "absent"
        assert ask(sim, "{ rateLimit { cost } }").status == 404
        app.graphql_mode = "no_scope"
        refused = ask(sim, "{ rateLimit { cost } }")
        assert refused.status == 200 and refused.body["errors"][0]["type"] == "INSUFFICIENT_SCOPES"
    finally:
        app.graphql_mode = "on"


def test_the_vendored_subset_is_githubs_schema_cut_down(full_schema):
    """simulator/github_graphql_schema.graphql is what scripts/vendor_graphql_schema.py makes of the full schema."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        import vendor_graphql_schema
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    expected = vendor_graphql_schema.subset(full_schema.read_text(encoding="utf-8"))
    assert github_graphql.VENDORED_SCHEMA.read_text(encoding="utf-8") == expected


def test_the_extractors_queries_are_valid_against_githubs_schema(full_schema):
    """Every query shape the extractor sends validates against the full schema (graphql-core)."""
    import graphql

    from extractors import github_graphql as extractor

    schema = github_graphql.load_schema(full_schema)
    for kind in extractor.CONNECTIONS:
        queries = (
            extractor.first_pass_query(kind),
            extractor.follow_up_query(kind, [("x", 7, "c"), ("y", 100, "d")]),
        )
        for query in queries:
            assert graphql.validate(schema, graphql.parse(query)) == [], kind
