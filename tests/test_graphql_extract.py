"""GitHub over GraphQL: the same raw layer and marts as over REST, fewer requests, REST when GraphQL is refused."""

from __future__ import annotations

import base64
import math
import sys
from pathlib import Path

import duckdb
import pytest

from doraflow.config import ConfigError, load_settings
from doraflow.errors import SourceError
from doraflow.raw_loader import load_pending_batches
from doraflow.transform import dbt_build
from extractors import extract_sources
from extractors import github_graphql as gql
from extractors.landing import ScopeIndex
from extractors.streams import STREAMS

simulator = pytest.importorskip("simulator", reason="the simulator package is not importable")
from simulator import Simulator, SimulatorConfig  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
from marts_compare import MARTS, sorted_rows  # noqa: E402

QUIET = {"progress": lambda line: None}
GITHUB_TABLES = [s.table for s in STREAMS if s.source == "github"]
CHILD_STREAMS = ("pull_request_commits", "pull_request_reviews", "deployment_statuses")


def settings_for(sim, root: Path, mode: str, **overrides):
    env = {
        **sim.env(),
        "WAREHOUSE_PATH": str(root / mode / "dora.duckdb"),
        "LANDING_DIR": str(root / mode / "landing"),
        "GITHUB_API_MODE": mode,
        "GITHUB_PULL_REQUEST_DETAILS": "true",  # REST fetches what GraphQL's reviews query brings
        "GITHUB_CI_JOBS": "true",
        **overrides,
    }
    return load_settings(env)


def landed_keys(settings, stream: str, batches_before: dict) -> set:
    """(scope, parent id, key) of the records landed by `stream` after `batches_before[scope]`."""
    out = set()
    for scope in settings.github.repos:
        index = ScopeIndex(settings.landing_dir, "github", stream, scope)
        for batch in index.batches_after(batches_before.get(scope)):
            for parent, payload in index.read_batch(batch):
                out.add((scope, parent, payload.get("id") or payload.get("sha")))
    return out


def last_batches(settings, stream: str) -> dict:
    out = {}
    for scope in settings.github.repos:
        batches = ScopeIndex(settings.landing_dir, "github", stream, scope).batches_after(None)
        out[scope] = batches[-1] if batches else None
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One organisation extracted both ways: a backfill, a day later a nightly run, then dbt on each warehouse."""
    root = tmp_path_factory.mktemp("graphql")
    gql.forget_unavailable()
    with Simulator(SimulatorConfig(seed=11, repositories=2, days=20)) as sim:
        modes = {mode: settings_for(sim, root, mode) for mode in ("rest", "graphql")}
        first = {mode: extract_sources(s, **QUIET) for mode, s in modes.items()}
        pulls = {r.full_name: len(r.pulls) for r in sim.org.github.repos}  # as the backfill saw them
        for s in modes.values():
            load_pending_batches(s, **QUIET)
        marks = {mode: {st: last_batches(s, st) for st in CHILD_STREAMS} for mode, s in modes.items()}
        sim.advance(24)
        nightly = {mode: extract_sources(s, **QUIET) for mode, s in modes.items()}
        landed = {
            mode: {st: landed_keys(s, st, marks[mode][st]) for st in CHILD_STREAMS}
            for mode, s in modes.items()
        }
    for s in modes.values():
        load_pending_batches(s, **QUIET)
        dbt_build(s, **QUIET)
    return {
        "settings": modes,
        "first": first,
        "nightly": nightly,
        "landed": landed,
        "pulls": pulls,
    }


@pytest.mark.slow
def test_marts_are_identical_over_graphql_and_rest(both):
    with (
        duckdb.connect(str(both["settings"]["rest"].warehouse_path), read_only=True) as rest,
        duckdb.connect(str(both["settings"]["graphql"].warehouse_path), read_only=True) as graphql,
    ):
        for table in MARTS:
            assert sorted_rows(rest.cursor(), table) == sorted_rows(graphql.cursor(), table), table
        deployments = rest.execute("select count(*) from marts.fct_deployments").fetchone()[0]
        assert deployments > 10


@pytest.mark.slow
def test_raw_keys_and_every_field_dbt_reads_are_identical(both):
    """Same raw keys; the staging views (every payload field dbt reads) hold the same rows both ways."""
    with (
        duckdb.connect(str(both["settings"]["rest"].warehouse_path), read_only=True) as rest,
        duckdb.connect(str(both["settings"]["graphql"].warehouse_path), read_only=True) as graphql,
    ):
        for table in GITHUB_TABLES:
            query = f"select _key, _scope, _parent_id from raw.{table} order by _key"
            assert rest.execute(query).fetchall() == graphql.execute(query).fetchall(), table
        views = [
            row[0]
            for row in rest.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'staging' and table_name like 'stg_github__%'"
            ).fetchall()
        ]
        assert len(views) == len([t for t in GITHUB_TABLES])
        for view in views:
            columns = [
                row[0]
                for row in rest.execute(
                    "select column_name from information_schema.columns "
                    f"where table_schema = 'staging' and table_name = '{view}' and column_name <> '_extracted_at'"
                ).fetchall()
            ]
            query = f"select {', '.join(columns)} from staging.{view} order by all"
            assert rest.execute(query).fetchall() == graphql.execute(query).fetchall(), view


@pytest.mark.slow
def test_graphql_reads_the_children_of_100_parents_per_query(both):
    """Reviews and statuses: one query per 100 parents (ceil per repository); commits: at most a few per 100."""
    graphql = {(r.stream, r.scope): r for r in both["first"]["graphql"]}
    rest = {(r.stream, r.scope): r for r in both["first"]["rest"]}
    for scope, pulls in both["pulls"].items():
        reviews = graphql[("pull_request_reviews", scope)]
        assert reviews.graphql_queries == reviews.requests == math.ceil(pulls / 100)
        # each query asks for <= 100 reviews connections and as many timelineItems (sizes and draft events):
        # round(2 x pull requests / 100) points
        assert reviews.graphql_points == max(1, round(2 * min(pulls, 100) / 100)) * reviews.graphql_queries
        # REST: the reviews listing, GET pulls/{n} and one page of issue events per pull request
        assert rest[("pull_request_reviews", scope)].requests == 3 * pulls
        commits = graphql[("pull_request_commits", scope)]
        assert (
            commits.requests <= math.ceil(pulls / 29) + 3
        )  # 29 per first pass (149 // (1 + 4)), few follow-ups
    for stream in CHILD_STREAMS:
        landed = sum(r.records for r in both["first"]["graphql"] if r.stream == stream)
        assert landed == sum(r.records for r in both["first"]["rest"] if r.stream == stream)


@pytest.mark.slow
def test_the_nightly_run_lands_the_same_records_both_ways(both):
    """Incremental rules kept: changed pull requests' children, new and watched deployments' statuses; a watched
    deployment whose statuses did not change lands nothing over GraphQL, as its 304 does over REST."""
    for stream in CHILD_STREAMS:
        assert both["landed"]["graphql"][stream] == both["landed"]["rest"][stream], stream
    assert both["landed"]["rest"]["deployment_statuses"]  # the day brought new deployments
    points = sum(r.graphql_points for r in both["nightly"]["graphql"] if r.stream == "deployment_statuses")
    assert points >= 1


def test_database_ids_from_legacy_and_next_global_ids():
    legacy = base64.b64encode(b"016:DeploymentStatus123456789").decode()
    assert gql.database_id(legacy) == 123456789
    # next format: <prefix>_ + base64url(msgpack [0, owner id, object id]); 0xce = uint32, big-endian
    packed = (
        bytes([0x93, 0x00, 0xCE])
        + (8_189_753).to_bytes(4, "big")
        + bytes([0xCE])
        + (3_000_000_001).to_bytes(4, "big")
    )
    assert gql.database_id("DES_" + base64.urlsafe_b64encode(packed).decode().rstrip("=")) == 3_000_000_001
    assert gql.database_id("not an id") is None
    assert gql.database_id(None) is None


def test_graphql_url_for_github_and_enterprise_server():
    assert gql.graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert gql.graphql_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/graphql"


def test_api_mode_setting_is_validated(tmp_path):
    env = {"GITHUB_TOKEN": "t", "GITHUB_REPOS": "a/b", "WAREHOUSE_PATH": str(tmp_path / "d.duckdb")}
    assert load_settings(env).github.api_mode == "auto"
    assert load_settings({**env, "GITHUB_API_MODE": "REST"}).github.api_mode == "rest"
    with pytest.raises(ConfigError, match="GITHUB_API_MODE must be one of auto, graphql, rest, got 'soap'"):
        load_settings({**env, "GITHUB_API_MODE": "soap"})


@pytest.fixture
def small_sim():
    gql.forget_unavailable()
    with Simulator(SimulatorConfig(seed=3, repositories=1, days=10)) as sim:
        yield sim
    gql.forget_unavailable()


@pytest.mark.parametrize(
    ("graphql_mode", "said"),
    [
        ("absent", "answered 404 (no GraphQL API at this URL)"),
        ("no_scope", "GraphQL refused the token (INSUFFICIENT_SCOPES"),
        ("forbidden", "answered 403 (Resource not accessible by personal access token)"),
    ],
)
def test_auto_mode_goes_on_over_rest_with_one_line(small_sim, tmp_path, graphql_mode, said):
    small_sim.apps["github"].graphql_mode = graphql_mode
    lines: list[str] = []
    # details off: the reviews task lands reviews only, so its records are the reviews' truth
    settings = settings_for(small_sim, tmp_path, "auto", GITHUB_PULL_REQUEST_DETAILS="false")
    results = extract_sources(settings, ["github"], progress=lines.append)
    told = [line for line in lines if "going on over REST" in line]
    assert len(told) == 1 and said in told[0]
    assert "sim-github-token" not in "\n".join(lines)
    for stream in CHILD_STREAMS:
        landed = sum(r.records for r in results if r.stream == stream)
        assert landed == len(small_sim.truth_keys(f"github__{stream}")), stream
        assert all(r.graphql_queries == 0 for r in results if r.stream == stream)


def test_forced_graphql_mode_fails_with_one_line(small_sim, tmp_path):
    small_sim.apps["github"].graphql_mode = "absent"
    settings = settings_for(small_sim, tmp_path, "graphql")
    with pytest.raises(SourceError) as error:
        extract_sources(settings, ["github"], **QUIET)
    first = str(error.value).splitlines()[0]
    assert "answered 404" in first and "GITHUB_API_MODE=auto or rest" in first


def test_graphql_points_are_recorded_per_stream_in_ops(tmp_path):
    """ops.stream_runs.graphql_points, also in a warehouse whose ops table predates the column."""
    from doraflow.ops import RunRecorder
    from extractors.core import StreamResult

    env = {"GITHUB_TOKEN": "t", "GITHUB_REPOS": "a/b", "WAREHOUSE_PATH": str(tmp_path / "d.duckdb")}
    settings = load_settings(env)
    with duckdb.connect(str(settings.warehouse_path)) as con:  # the table as earlier versions created it
        con.execute("create schema ops")
        con.execute(
            "create table ops.stream_runs (run_id varchar, source varchar, stream varchar, scope varchar, "
            "requests bigint, not_modified bigint, pages bigint, records bigint, batches bigint, "
            "elapsed_seconds double precision)"
        )
    recorder = RunRecorder(settings, "cli")
    recorder.record_streams(
        [
            StreamResult(
                "github", "pull_request_commits", "a/b", requests=3, graphql_queries=3, graphql_points=4
            ),
            StreamResult("github", "releases", "a/b", requests=1),
        ]
    )
    recorder.finish("success")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select stream, requests, graphql_points from ops.stream_runs order by stream"
        ).fetchall()
    assert rows == [("pull_request_commits", 3, 4), ("releases", 1, 0)]


def test_first_page_of_commits_grows_while_the_query_still_costs_one_point():
    # one query over K pull requests with `first: F` commits asks K + K x F connections (commits, parents)
    assert gql.first_page_size("commits", 100) == 2  # 100 + 200 = 300 -> 3 points, the backfill's shape
    assert gql.first_page_size("commits", 49) == 2  # 49 + 98 = 147 -> 1 point
    assert gql.first_page_size("commits", 5) == 28  # 5 + 140 = 145 -> 1 point; 29 would be 150 -> 2 points
    assert gql.first_page_size("commits", 1) == 100  # GitHub's largest page
    assert gql.first_page_size("reviews", 5) == 100  # no nested connection: always a full page


def test_modes_can_alternate_on_one_state(small_sim, tmp_path):
    """A REST backfill, a GraphQL nightly, a REST nightly: the raw tables hold exactly the simulator's truth."""
    shared = {"WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"), "LANDING_DIR": str(tmp_path / "landing")}
    for mode in ("rest", "graphql", "rest"):
        settings = settings_for(small_sim, tmp_path, mode, **shared)
        extract_sources(settings, ["github"], **QUIET)
        load_pending_batches(settings, **QUIET)
        small_sim.advance(30)
    settings = settings_for(small_sim, tmp_path, "graphql", **shared)
    extract_sources(settings, ["github"], **QUIET)
    load_pending_batches(settings, **QUIET)
    truth = small_sim.truth()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for table in GITHUB_TABLES:
            # the detail tables (settings on here, as GraphQL's reviews query): every object the API holds
            expected = truth[table] if table in truth else len(small_sim.truth_keys(table))
            assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] == expected, table


@pytest.mark.slow
def test_compare_ranges_go_over_graphql_history(both):
    """Comparisons: the same pairs and range commits landed, read by walking `history` (a few queries per
    repository) instead of one REST compare per pair; the marts and staging tests above hold for their fields."""
    for scope in both["pulls"]:
        rest = next(r for r in both["first"]["rest"] if (r.stream, r.scope) == ("comparisons", scope))
        graphql = next(r for r in both["first"]["graphql"] if (r.stream, r.scope) == ("comparisons", scope))
        assert graphql.records == rest.records > 0  # pairs + their commits
        assert 1 <= graphql.graphql_queries == graphql.requests < rest.requests / 4
    for stream in ("comparisons", "comparison_commits"):
        keys = {mode: landed_keys(s, stream, {}) for mode, s in both["settings"].items()}
        assert keys["graphql"] == keys["rest"], stream
