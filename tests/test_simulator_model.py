"""The synthetic organisation itself: determinism, realism of the history, ground truth, advance()."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from simulator.config import SimulatorConfig
from simulator.github_model import WEB_FLOW, is_production
from simulator.model import Organisation

END = datetime(2026, 11, 20, tzinfo=UTC)


def small(**overrides) -> SimulatorConfig:
    values = dict(seed=7, repositories=3, services=3, days=45, jira_issues_per_project=20, end_at=END)
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.fixture(scope="module")
def org() -> Organisation:
    return Organisation(small())


def test_same_seed_gives_the_same_organisation():
    first, second = Organisation(small()), Organisation(small())
    assert first.truth() == second.truth()
    for table in Organisation.TABLES:
        assert first.truth_keys(table) == second.truth_keys(table), table
    assert [c.sha for c in first.github.repos[0].main_order] == [
        c.sha for c in second.github.repos[0].main_order
    ]


def test_another_seed_gives_another_organisation():
    assert Organisation(small()).truth_keys("github__commits") != Organisation(small(seed=8)).truth_keys(
        "github__commits"
    )


def test_config_rejects_naive_end_and_empty_sizes():
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatorConfig(end_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="at least one repository"):
        SimulatorConfig(repositories=0, end_at=END)
    with pytest.raises(ValueError, match="incident_rate is a share between 0 and 1, got 1.5"):
        SimulatorConfig(incident_rate=1.5, end_at=END)
    with pytest.raises(ValueError, match="jira_projects must be 1 to 8, got 9"):
        SimulatorConfig(jira_projects=9, end_at=END)
    with pytest.raises(ValueError, match="deploys_per_day must be positive"):
        SimulatorConfig(deploys_per_day=0, end_at=END)


def test_all_history_lies_between_start_and_end(org):
    start = org.first_object_at
    for repo in org.github.repos:
        for commit in repo.commits.values():
            assert start <= commit.author_at <= commit.committed_at <= org.end
        for pr in repo.pulls:
            assert start <= pr.created_at <= pr.updated_at <= org.end
            for commit in pr.commits:
                assert commit.author_at <= pr.created_at
            if pr.merged_at:
                assert pr.created_at <= pr.merged_at == pr.closed_at
        for deployment in repo.deployments:
            times = [s.created_at for s in deployment.statuses]
            assert times == sorted(times) and times[0] == deployment.created_at
    for incident in org.pagerduty.incidents:
        times = [entry.created_at for entry in incident.log_entries]
        assert times == sorted(times) and times[0] == incident.created_at


def test_merge_methods_shape_the_default_branch(org):
    seen = set()
    for repo in org.github.repos:
        for pr in repo.pulls:
            if pr.merged_at is None:
                continue
            merge_commit = repo.commits[pr.merge_commit_sha]
            assert merge_commit.reach >= 0, "the merge commit sha is on the default branch"
            seen.add(pr.merge_method)
            if pr.merge_method == "merge":
                assert len(merge_commit.parents) == 2
                assert merge_commit.parents[1] == pr.commits[-1].sha
                assert all(c.reach >= 0 for c in pr.commits)  # the branch commits became reachable
            elif pr.merge_method == "squash":
                assert len(merge_commit.parents) == 1 and merge_commit.message.startswith(pr.title)
                assert f"(#{pr.number})" in merge_commit.message
                assert all(c.reach < 0 for c in pr.commits)
            else:  # rebase: the last rebased copy of the branch's last commit
                assert merge_commit.message == pr.commits[-1].message
                assert merge_commit.committer == WEB_FLOW and merge_commit.sha != pr.commits[-1].sha
    assert seen == {"merge", "squash", "rebase"}


def test_history_has_the_awkward_cases(org):
    repos = org.github.repos
    deployments = [d for r in repos for d in r.deployments]
    environments = {d.environment for d in deployments}
    assert {"staging", "production"} <= environments
    assert environments & {"Production", "prod"}, "production sometimes spelled differently"
    finals = {d.statuses[-1].state for d in deployments}
    assert {"success", "failure"} <= finals
    assert any(d.description.startswith("Rollback to ") for d in deployments)
    messages = [c.message for r in repos for c in r.main_order]
    reverts = [m for m in messages if m.startswith("Revert ")]
    assert reverts and all(re.search(r"This reverts commit [0-9a-f]{40}\.", m) for m in reverts)
    branches = [pr.head_ref for r in repos for pr in r.pulls]
    assert any(b.startswith("hotfix/") for b in branches)
    assert any(re.search(r"(PAY|CORE)-\d+", pr.title) for r in repos for pr in r.pulls)
    assert any(b.startswith("bugfix/") for b in branches)
    assert any(pr.state == "closed" and pr.merged_at is None for r in repos for pr in r.pulls)
    direct = [c for r in repos for c in r.main_order if c.pr is None and c.committer != WEB_FLOW]
    assert len(direct) > 3, "commits pushed without a pull request"
    assert any(r.releases for r in repos)
    incidents = org.pagerduty.incidents
    assert any(re.search(r"\b[0-9a-f]{7}\b", i.title + i.description) for i in incidents)
    assert any(e.type == "annotate_log_entry" for i in incidents for e in i.log_entries)
    assert any(i.service == len(org.pagerduty.services) - 1 for i in incidents), "legacy-billing incidents"
    names = [s.name for s in org.pagerduty.services]
    assert "legacy-billing" in names and "Search" in names


def test_jira_issues_walk_the_workflow(org):
    jira = org.jira
    assert len(jira.issues) == 2 * 20
    types = {i.issue_type for i in jira.issues}
    assert {"Epic", "Story", "Bug"} <= types
    assert any(i.parent is not None for i in jira.issues)
    for issue in jira.issues:
        statuses = [
            item["toString"] for h in issue.histories for item in h.items if item["field"] == "status"
        ]
        previous = "To Do"
        for status in statuses:
            assert (previous, status) in {
                ("To Do", "In Progress"),
                ("In Progress", "In Review"),
                ("In Review", "Done"),
                ("In Review", "In Progress"),
            }
            previous = status
        assert issue.status == previous
        assert (issue.resolutiondate is not None) == (issue.status == "Done")
        if issue.histories:
            assert issue.updated == issue.histories[-1].created
    long_logs = [i for i in jira.issues if len(i.histories) > 100]
    assert len(long_logs) == 2, "one issue per project pages past the ~100 embedded histories"


def test_pull_requests_only_name_jira_issues_created_before_them(org):
    for repo in org.github.repos:
        for pr in repo.pulls:
            for key in re.findall(r"\b(?:PAY|CORE)-\d+\b", pr.title):
                assert org.jira.by_key[key].created < pr.created_at


def test_some_work_is_in_flight_at_the_end():
    org = Organisation(small(repositories=4, services=4, days=60))
    assert any(pr.state == "open" for r in org.github.repos for pr in r.pulls)
    assert any(i.status != "Done" for i in org.jira.issues)
    assert any(
        d.statuses[-1].state in ("queued", "in_progress") for r in org.github.repos for d in r.deployments
    )


def test_truth_counts_comparisons_from_consecutive_successful_production_deployments(org):
    repo = org.github.repos[0]
    successes = sorted(
        (s.created_at, d.sha)
        for d in repo.deployments
        if is_production(d.environment)
        for s in d.statuses
        if s.state == "success"
    )
    pairs = {f"{a[1]}...{b[1]}" for a, b in zip(successes, successes[1:], strict=False)}
    keys = {key for scope, key in org.truth_keys("github__comparisons") if scope == repo.full_name}
    assert keys == pairs
    commits = org.truth_keys("github__comparison_commits")
    for key in pairs:
        base, head = key.split("...")
        ahead = repo.only_in(repo.commits[head], repo.commits[base])
        assert {(repo.full_name, key, c.sha) for c in ahead} == {k for k in commits if k[1] == key}


def test_advance_reports_what_changed_and_truth_follows():
    org = Organisation(small(repositories=2, services=2, days=20))
    before = {table: org.truth_keys(table) for table in Organisation.TABLES}
    changes = org.advance(48)
    assert org.clock == org.end + 48 * 3600
    for table in Organisation.TABLES:
        after = org.truth_keys(table)
        added = len(after - before[table])
        if table in ("github__comparisons", "github__comparison_commits"):
            continue  # derived: not objects the organisation creates
        assert changes.get(table, {}).get("added", 0) == added, table
    assert changes["github__pull_requests"]["added"] > 0
    assert changes["github__deployments"]["added"] > 0
    assert changes["jira__issues"]["updated"] > 0
    assert sum(v["updated"] for v in changes.values()) > 0


def test_serve_forever_prints_urls_and_exports_and_stops_on_ctrl_c():
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import requests

    script = (
        # Ctrl-C as in a terminal, even when the suite runs in the background (where SIGINT starts ignored)
        "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from datetime import datetime, timezone\n"
        "from simulator import SimulatorConfig, serve_forever\n"
        "serve_forever(SimulatorConfig(repositories=1, services=1, days=3, jira_issues_per_project=3,\n"
        "              end_at=datetime(2026, 11, 20, tzinfo=timezone.utc)),\n"
        "              print_fn=lambda line: print(line, flush=True))\n"
    )
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("# serving"):
                break
        exports = dict(line[len("export ") :].split("=", 1) for line in lines if line.startswith("export "))
        assert set(exports) == {
            "GITHUB_API_URL",
            "GITHUB_TOKEN",
            "GITHUB_REPOS",
            "JIRA_BASE_URL",
            "JIRA_EMAIL",
            "JIRA_API_TOKEN",
            "JIRA_PROJECTS",
            "PAGERDUTY_API_URL",
            "PAGERDUTY_TOKEN",
            "EXTRACT_START_DATE",
        }
        assert exports["GITHUB_REPOS"] == "acme/checkout"
        assert exports["EXTRACT_START_DATE"] == "2026-11-14"  # 3 days before the end, 2 more, 1 of margin
        answer = requests.get(
            exports["GITHUB_API_URL"] + "/repos/acme/checkout",
            timeout=10,
            headers={"Authorization": f"Bearer {exports['GITHUB_TOKEN']}"},
        )
        assert answer.json()["full_name"] == "acme/checkout"
        process.send_signal(signal.SIGINT)
        rest = process.stdout.read()
        assert process.wait(timeout=30) == 0
        assert "stopping the simulator" in rest
    finally:
        if process.poll() is None:
            process.kill()


def test_responders_and_reviewers_belong_to_teams(org):
    from simulator.model import team_member_rows
    from simulator.teams import TEAMS, team_of_person, team_of_repository

    rows = team_member_rows(org.config)
    # every person but the last (left out of the team file: unmapped), teams in turn
    assert [row[1] for row in rows] == [person.login for person in org.users[:-1]]
    assert {row[0] for row in rows} == set(TEAMS)
    assert all(row[2] == person.pd_id for row, person in zip(rows, org.users, strict=False))

    pagerduty = org.pagerduty
    acknowledged = [i for i in pagerduty.incidents if i.acknowledged_by is not None]
    outside = [
        i
        for i in acknowledged
        if team_of_person(i.acknowledged_by)
        != (team_of_repository(i.service) if i.service < org.config.services else 0)
    ]
    # the owning team answers most incidents, a central rota the rest: both kinds occur, neither dominates
    assert 0 < len(outside) < len(acknowledged) / 2

    # repository 0's team reviews almost only inside the author's team; repository 2's (another team) crosses often
    def inside_share(repo) -> float:
        reviews = [(pr.user, r.user) for pr in repo.pulls for r in pr.reviews]
        return sum(team_of_person(a) == team_of_person(b) for a, b in reviews) / len(reviews)

    assert inside_share(org.github.repos[0]) > 0.9 > inside_share(org.github.repos[2])
