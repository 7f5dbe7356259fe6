"""End to end against the simulator: a first run lands the simulator's truth, no-change runs land nothing,
an advanced clock brings exactly what changed, faults converge, wrong tokens fail in one line per source."""

from __future__ import annotations

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.errors import SourceError
from doraflow.raw_loader import load_pending_batches
from extractors import extract_sources, plan_streams
from extractors.landing import ScopeIndex
from extractors.streams import STREAMS

simulator = pytest.importorskip("simulator", reason="the simulator package is not importable")
Simulator, SimulatorConfig, Faults = simulator.Simulator, simulator.SimulatorConfig, simulator.Faults

SMALL = dict(seed=7, repositories=2, services=2, days=21, jira_projects=1, jira_issues_per_project=25)
QUIET = dict(progress=lambda line: None)


def settings_for(sim, tmp_path, name: str, **overrides):
    env = {**sim.env(), "WAREHOUSE_PATH": str(tmp_path / name / "dora.duckdb"), **overrides}
    return load_settings(env)


def counts(settings) -> dict[str, int]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {s.table: con.execute(f"select count(*) from raw.{s.table}").fetchone()[0] for s in STREAMS}


def snapshot(settings) -> dict[str, list]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {
            s.table: con.execute(
                f"select _key, _scope, _parent_id, payload::varchar from raw.{s.table} order by _key"
            ).fetchall()
            for s in STREAMS
        }


def run(settings):
    results = extract_sources(settings, **QUIET)
    return results, load_pending_batches(settings, **QUIET)


@pytest.fixture(scope="module")
def sim():
    with Simulator(SimulatorConfig(**SMALL)) as running:
        yield running


def test_first_run_second_run_and_changes(sim, tmp_path):
    # REST's request accounting (304s for watched deployments); GraphQL's: tests/test_graphql_extract.py
    settings = settings_for(sim, tmp_path, "main", GITHUB_API_MODE="rest")
    assert (
        len(plan_streams(settings)) == 2 * 10 + 1 * 3 + 3
    )  # 10 GitHub streams per repo, 3 Jira, 3 PagerDuty

    results, loaded = run(settings)
    truth = sim.truth()
    # the detail tables stay empty: GITHUB_PULL_REQUEST_DETAILS and GITHUB_CI_JOBS are off by default
    assert counts(settings) == {table: truth.get(table, 0) for table in counts(settings)}
    # ... and cost nothing: no jobs request, one reviews listing per pull request (no GET pulls/{n}, no events)
    assert [r.requests for r in results if r.stream == "workflow_jobs"] == [0, 0]
    reviews = sum(r.requests for r in results if r.stream == "pull_request_reviews")
    assert reviews == truth["github__pull_requests"]
    assert loaded.quarantined == 0 and loaded.inserted == sum(truth.values())
    assert sum(r.records for r in results) >= sum(truth.values())

    # runs without changes: one request per list and per watched deployment, nothing lands, nothing changes.
    # The second run moves the commits' `since` and the runs' `created` from the start date to the watermark's
    # day (new URLs, so 200s); from the third run on every GitHub request is a free 304.
    before = snapshot(settings)
    watched = sum(
        len(
            (ScopeIndex(settings.landing_dir, "github", "deployment_statuses", repo).state or {}).get(
                "watch", {}
            )
        )
        for repo in settings.github.repos
    )
    for _attempt in ("second", "third"):
        sim.reset_request_counts()
        results, loaded = run(settings)
        github = [r for r in results if r.source == "github"]
        # per repository: pulls, commits, deployments, workflow runs, releases, one request each, plus one per
        # watched deployment; PR children and comparisons have no new parent batch, so no request
        assert sum(r.requests for r in github) == 5 * len(settings.github.repos) + watched
        # Jira: projects + one search page per project; PagerDuty: services, incidents, log entries
        assert sim.request_counts() == {
            "github": 5 * len(settings.github.repos) + watched,
            "jira": 2 * len(settings.jira.projects),
            "pagerduty": 3,
        }
        assert sum(r.records for r in results) == 0 and loaded.records == 0
        assert snapshot(settings) == before
    assert sum(r.not_modified for r in github) == sum(r.requests for r in github)

    # the clock moves: the next run brings exactly what was added and updated
    truth_before = sim.truth()
    changes = sim.advance(hours=30)
    _, loaded = run(settings)
    truth = sim.truth()
    assert counts(settings) == {table: truth.get(table, 0) for table in counts(settings)}
    for spec in STREAMS:
        figures = loaded.per_table.get(spec.table, {"inserted": 0, "updated": 0})
        expected = truth.get(spec.table, 0) - truth_before.get(spec.table, 0)
        assert figures["inserted"] == expected, spec.table
        tracked = changes.get(spec.table)
        if tracked is not None:  # the simulator tracks updates of the objects it mutates
            assert figures["updated"] == tracked["updated"], spec.table
    assert loaded.quarantined == 0


def test_pull_request_details_and_ci_jobs_over_rest(tmp_path, monkeypatch):
    """GITHUB_PULL_REQUEST_DETAILS and GITHUB_CI_JOBS: a backfill lands the simulator's truth (pages of 3 jobs
    or events, so pagination is followed), a run without changes asks nothing more, and after the clock moves
    only the runs landed completed since are read (one listing each, ceil(jobs / 3) pages)."""
    from extractors import github
    from simulator.github_model import jobs_of_attempt

    monkeypatch.setattr(github, "PER_PAGE", 3)
    with Simulator(SimulatorConfig(seed=5, repositories=1, days=6)) as small:
        settings = settings_for(
            small,
            tmp_path,
            "details",
            GITHUB_API_MODE="rest",
            GITHUB_PULL_REQUEST_DETAILS="true",
            GITHUB_CI_JOBS="true",
        )
        results, loaded = run(settings)
        assert loaded.quarantined == 0
        detail_tables = ("github__pull_request_sizes", "github__pull_request_events", "github__workflow_jobs")
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            for table in detail_tables:
                landed = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
                assert landed == len(small.truth_keys(table)) > 0, table
        jobs_requests = sum(r.requests for r in results if r.stream == "workflow_jobs")
        assert jobs_requests > len(
            [run for run in small.org.github.repos[0].runs if run.status == "completed"]
        )

        results, _ = run(settings)  # nothing changed: no new parent batch, no detail request
        assert sum(r.requests for r in results if r.stream in ("workflow_jobs", "pull_request_reviews")) == 0

        repo = small.org.github.repos[0]
        completed_before = {run.id: run.run_attempt for run in repo.runs if run.status == "completed"}
        small.advance(hours=12)
        results, loaded = run(settings)
        newly = [
            run
            for run in repo.runs
            if run.status == "completed" and completed_before.get(run.id) != run.run_attempt
        ]
        # one listing per newly completed run (or attempt), ceil(jobs of its completed attempts / 3) pages each
        pages = 0
        for newly_completed in newly:
            attempts = enumerate(newly_completed.attempts, start=1)
            jobs = [j for n, a in attempts if a[1] for j in jobs_of_attempt(newly_completed, n, a)]
            pages += -(-len(jobs) // 3)
        assert sum(r.requests for r in results if r.stream == "workflow_jobs") == pages > 0
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            landed = con.execute("select count(*) from raw.github__workflow_jobs").fetchone()[0]
        assert landed == len(small.truth_keys("github__workflow_jobs"))


def test_faults_converge_to_a_clean_run(sim, tmp_path, monkeypatch):
    monkeypatch.setenv("DORAFLOW_HTTP_BACKOFF_SECONDS", "0.01")
    clean = settings_for(sim, tmp_path, "clean")
    run(clean)
    faulty = settings_for(sim, tmp_path, "faulty", HTTP_TIMEOUT_SECONDS="0.5", HTTP_MAX_RETRIES="4")
    sim.set_faults(
        Faults(
            seed=3,
            rate_limit_every=17,
            secondary_rate_limit_every=19,
            server_error_every=7,
            timeout_every=29,
            timeout_seconds=0.8,
            bad_json_every=11,
            repeat_page_every=5,
            shifting_item_every=6,
            retry_after_seconds=0,
        )
    )
    try:
        failures = []
        for _ in range(4):  # a run may fail with a clear message; reruns resume from the landed state
            try:
                extract_sources(faulty, **QUIET)
                break
            except SourceError as error:
                failures.append(str(error))
        else:
            pytest.fail(f"no clean run after 4 tries: {failures}")
    finally:
        sim.set_faults(Faults())
    load_pending_batches(faulty, **QUIET)
    assert snapshot(faulty) == snapshot(clean)
    assert all("\n" not in line or line.count("\n") < 3 for line in failures)


def test_wrong_tokens_fail_with_one_line_per_source(sim, tmp_path):
    settings = settings_for(
        sim,
        tmp_path,
        "wrong",
        GITHUB_TOKEN="wrong-gh-secret",
        JIRA_API_TOKEN="wrong-jira-secret",
        PAGERDUTY_TOKEN="wrong-pd-secret",
    )
    with pytest.raises(SourceError) as caught:
        extract_sources(settings, **QUIET)
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["github", "jira", "pagerduty"]
    assert all(" HTTP 401 " in line for line in lines)
    assert "(check GITHUB_TOKEN)" in lines[0] and "(check PAGERDUTY_TOKEN)" in lines[2]
    assert "secret" not in str(caught.value)


def test_compares_follow_the_models_production_rule():
    """Compares are fetched for the deployments the models call production: pattern, or GitHub's flag."""
    import re

    from doraflow.config import DEFAULT_PRODUCTION_PATTERN
    from extractors.github import is_production_deployment

    pattern = re.compile(DEFAULT_PRODUCTION_PATTERN, re.IGNORECASE)
    flagged_live = {"environment": "live", "production_environment": True}
    assert is_production_deployment({"environment": "production-eu"}, pattern, use_flag=True)
    assert is_production_deployment(flagged_live, pattern, use_flag=True)
    assert not is_production_deployment(flagged_live, pattern, use_flag=False)
    assert not is_production_deployment({"environment": "preproduction"}, pattern, use_flag=True)
    assert not is_production_deployment(
        {"environment": None, "production_environment": False}, pattern, use_flag=True
    )
