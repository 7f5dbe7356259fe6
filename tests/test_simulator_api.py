"""The three API servers: fidelity to the official specs, pagination, budgets, auth, ground truth."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from simulator import Simulator, SimulatorConfig
from simulator.github_model import is_production

END = datetime(2026, 11, 20, tzinfo=UTC)
GH = {"Authorization": "Bearer sim-github-token", "Accept": "application/vnd.github+json"}
JIRA_AUTH = ("simulator@example.com", "sim-jira-token")
PD = {
    "Authorization": "Token token=sim-pagerduty-token",
    "Accept": "application/vnd.pagerduty+json;version=2",
}


def config(**overrides) -> SimulatorConfig:
    values = dict(seed=11, repositories=2, services=2, days=20, jira_issues_per_project=12, end_at=END)
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.fixture(scope="module")
def sim():
    with Simulator(config(empty_repository=True)) as running:
        yield running


@pytest.fixture(scope="module")
def spec(specs_dir):
    sys.path.insert(0, str(specs_dir))
    from spec_validate import KNOWN_RELAXATIONS, validate_payload

    def check(operation: str, status: int | str, payload) -> None:
        api = operation.split("/")[0]
        errors = validate_payload(
            f"{specs_dir}/{operation}.json", str(status), payload, **KNOWN_RELAXATIONS[api]
        )
        assert not errors, (operation, errors[:5])

    return check


def gh(sim, path, **params):
    return requests.get(sim.urls["github"] + path, headers=GH, params=params, timeout=10)


def jira(sim, path, method="GET", **kwargs):
    return requests.request(method, sim.urls["jira"] + path, auth=JIRA_AUTH, timeout=10, **kwargs)


def pd(sim, path, **params):
    return requests.get(sim.urls["pagerduty"] + path, headers=PD, params=params, timeout=10)


def walk_github(url: str, params: dict | None = None) -> list:
    """Follow Link rel="next" from the first page to the end, as a client must."""
    items, pages = [], 0
    response = requests.get(url, headers=GH, params=params, timeout=10)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["workflow_runs"] if isinstance(body, dict) else body)
        pages += 1
        following = response.links.get("next")
        if not following:
            return items
        assert pages < 1000
        response = requests.get(following["url"], headers=GH, timeout=10)


# ---------------------------------------------------------------- GitHub
def test_github_lists_validate_against_the_spec(sim, spec):
    repo = "/repos/acme/checkout"
    pulls = gh(sim, f"{repo}/pulls", state="all", per_page=5).json()
    spec("github/pulls_list", 200, pulls)
    merged = next(p for p in gh(sim, f"{repo}/pulls", state="closed", per_page=100).json() if p["merged_at"])
    number = merged["number"]
    spec("github/pull_get", 200, gh(sim, f"{repo}/pulls/{number}").json())
    spec("github/pull_commits_list", 200, gh(sim, f"{repo}/pulls/{number}/commits").json())
    reviewed = next(p for r in sim.org.github.repos[:1] for p in r.pulls if p.reviews)
    reviews = gh(sim, f"{repo}/pulls/{reviewed.number}/reviews").json()
    assert reviews
    spec("github/pull_reviews_list", 200, reviews)
    commits = gh(sim, f"{repo}/commits", per_page=5).json()
    spec("github/commits_list", 200, commits)
    spec("github/commit_get", 200, gh(sim, f"{repo}/commits/{commits[0]['sha']}").json())
    spec(
        "github/commit_pulls_list", 200, gh(sim, f"{repo}/commits/{merged['merge_commit_sha']}/pulls").json()
    )
    deployments = gh(sim, f"{repo}/deployments", per_page=5).json()
    spec("github/deployments_list", 200, deployments)
    spec(
        "github/deployment_statuses_list",
        200,
        gh(sim, f"{repo}/deployments/{deployments[0]['id']}/statuses").json(),
    )
    spec("github/workflow_runs_list", 200, gh(sim, f"{repo}/actions/runs", per_page=5).json())
    spec("github/releases_list", 200, gh(sim, f"{repo}/releases").json())
    spec("github/rate_limit_get", 200, gh(sim, "/rate_limit").json())
    compare = gh(sim, f"{repo}/compare/{commits[4]['sha']}...{commits[0]['sha']}").json()
    spec("github/compare_get", 200, compare)


def test_github_error_bodies_validate(sim, spec):
    missing = gh(sim, "/repos/acme/checkout/pulls/99999")
    assert missing.status_code == 404
    spec("github/pull_get", 404, missing.json())
    bad_commit = gh(sim, "/repos/acme/checkout/commits/deadbeefdeadbeef")
    assert bad_commit.status_code == 422
    spec("github/commit_get", 422 if "errors" in bad_commit.json() else 404, bad_commit.json())
    empty = gh(sim, "/repos/acme/empty/commits")
    assert empty.status_code == 409 and empty.json()["message"] == "Git Repository is empty."
    spec("github/commits_list", 409, empty.json())
    assert gh(sim, "/repos/acme/empty/pulls").json() == []
    invalid = gh(sim, "/repos/acme/checkout/pulls", state="merged")
    assert invalid.status_code == 422
    spec("github/pulls_list", 422, invalid.json())
    assert gh(sim, "/repos/acme/nothing/pulls").status_code == 404


def test_github_link_pagination_walks_every_pull_request_once(sim):
    repo = sim.org.github.repos[0]
    n = len(repo.pulls)
    assert n > 20
    first = gh(sim, "/repos/acme/checkout/pulls", state="all", per_page=10)
    last_page = (n + 9) // 10  # worked out: ceil(n / 10)
    assert parse_qs(urlsplit(first.links["last"]["url"]).query)["page"] == [str(last_page)]
    assert parse_qs(urlsplit(first.links["next"]["url"]).query)["page"] == ["2"]
    assert "prev" not in first.links and "first" not in first.links
    numbers = [
        p["number"]
        for p in walk_github(
            sim.urls["github"] + "/repos/acme/checkout/pulls", {"state": "all", "per_page": 20}
        )
    ]
    assert sorted(numbers) == list(range(1, n + 1))
    assert numbers == sorted(numbers, reverse=True), "default sort: created, descending"
    by_updated = walk_github(
        sim.urls["github"] + "/repos/acme/checkout/pulls",
        {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100},
    )
    stamps = [p["updated_at"] for p in by_updated]
    assert stamps == sorted(stamps, reverse=True)
    one_page = gh(sim, "/repos/acme/checkout/releases", per_page=100)
    assert "Link" not in one_page.headers
    middle = gh(sim, "/repos/acme/checkout/pulls", state="all", per_page=10, page=2)
    assert set(middle.links) == {"prev", "next", "last", "first"}


def test_github_commits_since_until_and_sha(sim):
    repo = sim.org.github.repos[1]
    everything = walk_github(sim.urls["github"] + f"/repos/{repo.full_name}/commits", {"per_page": 100})
    assert len(everything) == len(repo.main_order)
    dates = [c["commit"]["committer"]["date"] for c in everything]
    assert dates == sorted(dates, reverse=True)
    cut = dates[len(dates) // 2]
    since = walk_github(
        sim.urls["github"] + f"/repos/{repo.full_name}/commits", {"since": cut, "per_page": 100}
    )
    assert len(since) == sum(1 for d in dates if d >= cut)
    until = walk_github(
        sim.urls["github"] + f"/repos/{repo.full_name}/commits", {"until": cut, "per_page": 100}
    )
    assert len(until) == sum(1 for d in dates if d <= cut)
    older = everything[10]["sha"]
    from_older = walk_github(
        sim.urls["github"] + f"/repos/{repo.full_name}/commits", {"sha": older, "per_page": 100}
    )
    assert from_older[0]["sha"] == older and len(from_older) < len(everything)
    merge_commits = [c for c in everything if len(c["parents"]) == 2]
    assert merge_commits, "merge-commit merges have two parents"


def test_github_compare_reports_ahead_behind_and_pages_commits(sim):
    repo = sim.org.github.repos[0]
    main = repo.main_order
    heads = [c for c in main if c.pr is None]  # commits made on main itself (not merged branch commits)
    base, head = heads[3], heads[20]
    path = f"/repos/acme/checkout/compare/{base.sha}...{head.sha}"
    ahead = gh(sim, path).json()
    expected = [c.sha for c in repo.only_in(head, base)]
    assert ahead["status"] == "ahead" and ahead["behind_by"] == 0
    # worked out: everything that became reachable from main after base, up to head, by position
    assert len(expected) == head.reach - base.reach >= 17
    assert ahead["ahead_by"] == ahead["total_commits"] == len(expected)
    assert [c["sha"] for c in ahead["commits"]] == expected
    assert ahead["merge_base_commit"]["sha"] == base.sha
    paged, page = [], 1
    while True:
        response = gh(sim, path, per_page=7, page=page)
        paged.extend(c["sha"] for c in response.json()["commits"])
        if "next" not in response.links:
            break
        page += 1
    assert paged == expected and page == (len(expected) + 6) // 7
    behind = gh(sim, f"/repos/acme/checkout/compare/{head.sha}...{base.sha}").json()
    assert behind["status"] == "behind" and behind["ahead_by"] == 0 and behind["behind_by"] == len(expected)
    same = gh(sim, f"/repos/acme/checkout/compare/{head.sha}...{head.sha}").json()
    assert same["status"] == "identical" and same["commits"] == []
    open_pr = next((p for p in repo.pulls if p.state == "open" and p.base_reach < main[-1].reach), None)
    if open_pr is not None:
        diverged = gh(sim, f"/repos/acme/checkout/compare/main...{open_pr.commits[-1].sha}").json()
        assert diverged["status"] == "diverged" and diverged["ahead_by"] == len(open_pr.commits)


def test_github_deployments_filters_and_order(sim):
    repo = sim.org.github.repos[0]
    everything = walk_github(sim.urls["github"] + "/repos/acme/checkout/deployments", {"per_page": 100})
    assert [d["id"] for d in everything] == sorted((d.id for d in repo.deployments), reverse=True)
    staging = walk_github(
        sim.urls["github"] + "/repos/acme/checkout/deployments", {"environment": "staging", "per_page": 100}
    )
    assert staging and {d["environment"] for d in staging} == {"staging"}
    sha = everything[0]["sha"]
    assert {d["sha"] for d in gh(sim, "/repos/acme/checkout/deployments", sha=sha).json()} == {sha}
    statuses = gh(sim, f"/repos/acme/checkout/deployments/{everything[-1]['id']}/statuses").json()
    assert [s["state"] for s in statuses][-1] == "queued", "statuses newest first"


def test_github_workflow_runs_created_filter(sim):
    repo = sim.org.github.repos[0]
    day = (END - timedelta(days=3)).date().isoformat()
    body = gh(sim, "/repos/acme/checkout/actions/runs", created=f">={day}", per_page=100).json()
    cutoff = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
    assert body["total_count"] == sum(1 for r in repo.runs if r.created_at >= cutoff) > 0
    assert gh(sim, "/repos/acme/checkout/actions/runs").json()["total_count"] == len(repo.runs)


def test_github_etag_gives_free_304(sim):
    first = gh(sim, "/repos/acme/checkout/releases")
    etag = first.headers["ETag"]
    used = int(first.headers["x-ratelimit-used"])
    again = requests.get(
        sim.urls["github"] + "/repos/acme/checkout/releases",
        timeout=10,
        headers={**GH, "If-None-Match": etag},
    )
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-used"]) == used, "a 304 is not charged"
    changed = requests.get(
        sim.urls["github"] + "/repos/acme/checkout/releases",
        timeout=10,
        headers={**GH, "If-None-Match": 'W/"other"'},
    )
    assert changed.status_code == 200 and int(changed.headers["x-ratelimit-used"]) == used + 1


def test_github_budget_is_enforced_per_token():
    with Simulator(config(github_rate_limit=3)) as small:
        seen = []
        for _ in range(3):
            response = gh(small, "/repos/acme/checkout")
            assert response.status_code == 200
            seen.append(int(response.headers["x-ratelimit-remaining"]))
        assert seen == [2, 1, 0]
        refused = gh(small, "/repos/acme/checkout/pulls")
        assert refused.status_code == 403
        assert refused.json()["message"].startswith("API rate limit exceeded for")
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert int(refused.headers["x-ratelimit-reset"]) > datetime.now(UTC).timestamp()
        assert gh(small, "/rate_limit").json()["resources"]["core"]["remaining"] == 0


def test_github_rejects_bad_credentials(sim):
    response = requests.get(
        sim.urls["github"] + "/repos/acme/checkout/pulls",
        timeout=10,
        headers={"Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401
    assert response.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    legacy = requests.get(
        sim.urls["github"] + "/repos/acme/checkout",
        timeout=10,
        headers={"Authorization": "token sim-github-token"},
    )
    assert legacy.status_code == 200


# ---------------------------------------------------------------- Jira
def test_jira_search_pages_with_next_page_token(sim, spec):
    jql = 'project in (PAY, CORE) AND updated >= "2020-01-01 00:00" ORDER BY updated ASC, key ASC'
    keys, token, pages = [], None, 0
    while True:
        params = {"jql": jql, "maxResults": 5, "fields": "summary,status,updated", "expand": "changelog"}
        if token:
            params["nextPageToken"] = token
        body = jira(sim, "/rest/api/3/search/jql", params=params).json()
        spec("jira/search_jql_get", 200, body)
        assert "total" not in body
        keys.extend(i["key"] for i in body["issues"])
        pages += 1
        token = body.get("nextPageToken")
        if body["isLast"]:
            assert token is None
            break
    assert sorted(keys) == sorted(i.key for i in sim.org.jira.issues)
    assert pages == (len(keys) + 4) // 5
    ids = jira(sim, "/rest/api/3/search/jql", params={"jql": "project = PAY"}).json()
    assert set(ids["issues"][0]) == {"id"}, "only ids unless fields are asked for"


def test_jira_search_post_with_time_bounds(sim, spec):
    issues = [i for i in sim.org.jira.issues if i.project == "CORE"]
    middle = sorted(i.updated for i in issues)[len(issues) // 2]
    stamp = datetime.fromtimestamp(middle, UTC).strftime("%Y-%m-%d %H:%M")
    cutoff = datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()
    body = jira(
        sim,
        "/rest/api/3/search/jql",
        "POST",
        json={
            "jql": f'project = "CORE" AND updated >= "{stamp}" ORDER BY updated DESC',
            "maxResults": 100,
            "fields": ["updated"],
        },
    ).json()
    spec("jira/search_jql_post", 200, body)
    assert {i["key"] for i in body["issues"]} == {i.key for i in issues if i.updated >= cutoff}
    updated = [i["fields"]["updated"] for i in body["issues"]]
    assert updated == sorted(updated, reverse=True)
    assert all(len(u) == 28 and u.endswith("+0000") for u in updated)


def test_jira_embedded_changelog_is_capped_at_100_newest_first(sim):
    long_issue = next(i for i in sim.org.jira.issues if len(i.histories) > 100)
    body = jira(
        sim,
        "/rest/api/3/search/jql",
        params={"jql": f"key = {long_issue.key}", "fields": "summary", "expand": "changelog"},
    ).json()
    changelog = body["issues"][0]["changelog"]
    assert changelog["total"] == len(long_issue.histories)
    assert [h["id"] for h in changelog["histories"]] == [h.id for h in long_issue.histories[::-1][:100]]


def test_jira_issue_changelog_pages_with_start_at(sim, spec):
    long_issue = next(i for i in sim.org.jira.issues if len(i.histories) > 100)
    ids, start = [], 0
    while True:
        body = jira(
            sim, f"/rest/api/3/issue/{long_issue.key}/changelog", params={"startAt": start, "maxResults": 40}
        ).json()
        spec("jira/issue_changelog_get", 200, body)
        ids.extend(h["id"] for h in body["values"])
        assert body["total"] == len(long_issue.histories)
        if body["isLast"]:
            break
        start += 40
    assert ids == [h.id for h in long_issue.histories], "oldest first, each once"
    spec("jira/issue_get", 200, jira(sim, f"/rest/api/3/issue/{long_issue.id}").json())
    assert jira(sim, "/rest/api/3/issue/NOPE-1").status_code == 404


def test_jira_bulkfetch_pages_every_history_once(sim, spec):
    issues = sim.org.jira.issues
    collected, token = [], None
    while True:
        payload = {"issueIdsOrKeys": [i.id for i in issues], "maxResults": 50}
        if token:
            payload["nextPageToken"] = token
        body = jira(sim, "/rest/api/3/changelog/bulkfetch", "POST", json=payload).json()
        spec("jira/changelog_bulkfetch_post", 200, body)
        for log in body["issueChangeLogs"]:
            collected.extend((log["issueId"], h["id"]) for h in log["changeHistories"])
        token = body.get("nextPageToken")
        if not token:
            break
    expected = [(i.id, h.id) for i in issues for h in i.histories]
    assert collected == expected
    status_only = jira(
        sim,
        "/rest/api/3/changelog/bulkfetch",
        "POST",
        json={"issueIdsOrKeys": [issues[0].key], "fieldIds": ["status"]},
    ).json()
    items = [
        it for log in status_only["issueChangeLogs"] for h in log["changeHistories"] for it in h["items"]
    ]
    assert items and {it["fieldId"] for it in items} == {"status"}
    too_many = jira(sim, "/rest/api/3/changelog/bulkfetch", "POST", json={"issueIdsOrKeys": ["1"] * 1001})
    assert too_many.status_code == 400 and too_many.json()["errorMessages"]


def test_jira_projects_and_errors(sim, spec):
    body = jira(sim, "/rest/api/3/project/search", params={"maxResults": 1}).json()
    spec("jira/project_search_get", 200, body)
    assert body["total"] == 2 and body["isLast"] is False and "nextPage" in body
    removed = jira(sim, "/rest/api/3/search", params={"jql": "project = PAY"})
    assert removed.status_code == 410 and "/rest/api/3/search/jql" in removed.json()["errorMessages"][0]
    unbounded = jira(sim, "/rest/api/3/search/jql", params={"jql": "ORDER BY created DESC"})
    assert unbounded.status_code == 400
    assert unbounded.json() == {
        "errorMessages": [
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
        ],
        "errors": {},
    }
    unknown = jira(sim, "/rest/api/3/search/jql", params={"jql": "project = NOPE"})
    assert unknown.status_code == 400
    bad_date = jira(sim, "/rest/api/3/search/jql", params={"jql": 'project = PAY AND updated >= "yesterday"'})
    assert bad_date.status_code == 400
    denied = requests.get(
        sim.urls["jira"] + "/rest/api/3/project/search", auth=("x@example.com", "no"), timeout=10
    )
    assert denied.status_code == 401 and denied.json()["errorMessages"]


# ---------------------------------------------------------------- PagerDuty
def test_pagerduty_offset_paging_and_validation(sim, spec):
    everything, offset = [], 0
    while True:
        body = pd(sim, "/incidents", date_range="all", limit=3, offset=offset, total="true").json()
        spec("pagerduty/incidents_list", 200, body)
        assert body["total"] == len(sim.org.pagerduty.incidents)
        everything.extend(i["id"] for i in body["incidents"])
        if not body["more"]:
            break
        offset += 3
    assert everything == [i.id for i in sim.org.pagerduty.incidents]
    first = sim.org.pagerduty.incidents[0]
    spec("pagerduty/incident_get", 200, pd(sim, f"/incidents/{first.id}").json())
    entries = pd(sim, f"/incidents/{first.id}/log_entries").json()
    spec("pagerduty/incident_log_entries_list", 200, entries)
    assert [e["id"] for e in entries["log_entries"]] == [e.id for e in first.log_entries[::-1]]
    spec("pagerduty/log_entries_list", 200, pd(sim, "/log_entries", limit=100).json())
    services = pd(sim, "/services").json()
    spec("pagerduty/services_list", 200, services)
    assert {s["name"] for s in services["services"]} == {"checkout", "payments", "legacy-billing"}
    assert pd(sim, "/incidents").json()["total"] is None, "total only when asked for"


def test_pagerduty_window_rules(sim, spec):
    default = pd(sim, "/incidents", limit=100).json()
    month_ago = sim.org.clock - 30 * 86400
    assert len(default["incidents"]) == sum(
        1 for i in sim.org.pagerduty.incidents if i.created_at >= month_ago
    )
    too_long = pd(sim, "/incidents", since="2025-01-01T00:00:00Z", until="2025-09-01T00:00:00Z")
    assert too_long.status_code == 400
    spec("pagerduty/incidents_list", 400, too_long.json())
    ceiling = pd(sim, "/incidents", date_range="all", offset=9950, limit=100)
    assert ceiling.status_code == 400
    assert ceiling.json()["error"]["code"] == 2002
    assert ceiling.json()["error"]["errors"][0].startswith(
        "Offset+limit exceeds maximum allowed value of 10000"
    )
    assert pd(sim, "/incidents", date_range="all", offset=9900, limit=100).status_code == 200
    resolved = pd(sim, "/incidents", date_range="all", **{"statuses[]": "resolved"}, limit=100).json()
    assert {i["status"] for i in resolved["incidents"]} == {"resolved"}
    denied = requests.get(
        sim.urls["pagerduty"] + "/incidents", headers={"Authorization": "Token token=bad"}, timeout=10
    )
    assert denied.status_code == 401 and denied.json() == {"error": {"message": "Unauthorized", "code": 2006}}
    spec("pagerduty/incidents_list", 401, denied.json())
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= {
        k.lower() for k in pd(sim, "/services").headers
    }


def test_pagerduty_rate_limit_answers_429():
    with Simulator(config(pagerduty_rate_limit=2)) as small:
        assert [pd(small, "/services").status_code for _ in range(3)] == [200, 200, 429]
        refused = pd(small, "/services")
        assert refused.json()["error"]["code"] == 2020 and refused.headers["ratelimit-remaining"] == "0"


# ---------------------------------------------------------------- whole-organisation checks
def _walk_everything(sim) -> dict[str, set]:
    keys: dict[str, set] = {table: set() for table in sim.org.TABLES}
    base = sim.urls["github"]
    for full_name in sim.env()["GITHUB_REPOS"].split(","):
        repo_url = f"{base}/repos/{full_name}"
        for pr in walk_github(f"{repo_url}/pulls", {"state": "all", "per_page": 100}):
            number = pr["number"]
            keys["github__pull_requests"].add((full_name, number))
            for c in walk_github(f"{repo_url}/pulls/{number}/commits", {"per_page": 100}):
                keys["github__pull_request_commits"].add((full_name, number, c["sha"]))
            for r in walk_github(f"{repo_url}/pulls/{number}/reviews", {"per_page": 100}):
                keys["github__pull_request_reviews"].add((full_name, r["id"]))
        since = sim.env()["EXTRACT_START_DATE"] + "T00:00:00Z"
        for c in walk_github(f"{repo_url}/commits", {"since": since, "per_page": 100}):
            keys["github__commits"].add((full_name, c["sha"]))
        successes = []
        for d in walk_github(f"{repo_url}/deployments", {"per_page": 100}):
            keys["github__deployments"].add((full_name, d["id"]))
            for s in walk_github(f"{repo_url}/deployments/{d['id']}/statuses", {"per_page": 100}):
                keys["github__deployment_statuses"].add((full_name, s["id"]))
                if s["state"] == "success" and is_production(d["environment"]):
                    successes.append((s["created_at"], d["id"], d["sha"]))
        successes.sort()
        for (_, _, b), (_, _, h) in zip(successes, successes[1:], strict=False):
            keys["github__comparisons"].add((full_name, f"{b}...{h}"))
            page = 1
            while True:
                response = requests.get(
                    f"{repo_url}/compare/{b}...{h}",
                    headers=GH,
                    timeout=10,
                    params={"per_page": 100, "page": page},
                )
                for c in response.json()["commits"]:
                    keys["github__comparison_commits"].add((full_name, f"{b}...{h}", c["sha"]))
                if "next" not in response.links:
                    break
                page += 1
        for run in walk_github(f"{repo_url}/actions/runs", {"per_page": 100}):
            keys["github__workflow_runs"].add((full_name, run["id"]))
        for rel in walk_github(f"{repo_url}/releases", {"per_page": 100}):
            keys["github__releases"].add((full_name, rel["id"]))
    projects = sim.env()["JIRA_PROJECTS"].split(",")
    for project in jira(sim, "/rest/api/3/project/search", params={"keys": projects}).json()["values"]:
        keys["jira__projects"].add(project["id"])
    start = sim.env()["EXTRACT_START_DATE"]
    jql = f'project in ({", ".join(projects)}) AND updated >= "{start}" ORDER BY updated ASC'
    token, ids = None, []
    while True:
        params = {"jql": jql, "maxResults": 100, "fields": "updated"}
        if token:
            params["nextPageToken"] = token
        body = jira(sim, "/rest/api/3/search/jql", params=params).json()
        ids.extend(i["id"] for i in body["issues"])
        token = body.get("nextPageToken")
        if body["isLast"]:
            break
    keys["jira__issues"] = set(ids)
    token = None
    while True:
        payload = {"issueIdsOrKeys": ids}
        if token:
            payload["nextPageToken"] = token
        body = jira(sim, "/rest/api/3/changelog/bulkfetch", "POST", json=payload).json()
        for log in body["issueChangeLogs"]:
            keys["jira__issue_changelogs"].update((log["issueId"], h["id"]) for h in log["changeHistories"])
        token = body.get("nextPageToken")
        if not token:
            break
    keys["pagerduty__services"] = {s["id"] for s in pd(sim, "/services", limit=100).json()["services"]}
    since = datetime.fromisoformat(start).replace(tzinfo=UTC)
    while since < sim.now:
        until = min(since + timedelta(days=90), sim.now + timedelta(seconds=1))
        offset = 0
        while True:
            body = pd(
                sim, "/incidents", since=since.isoformat(), until=until.isoformat(), limit=100, offset=offset
            ).json()
            for incident in body["incidents"]:
                keys["pagerduty__incidents"].add(incident["id"])
                entries = pd(sim, f"/incidents/{incident['id']}/log_entries", limit=100).json()["log_entries"]
                keys["pagerduty__incident_log_entries"].update(e["id"] for e in entries)
            if not body["more"]:
                break
            offset += 100
        since = until
    return keys


@pytest.mark.slow
def test_truth_agrees_with_walking_every_api(sim):
    walked = _walk_everything(sim)
    truth = sim.truth()
    for table in sim.org.TABLES:
        assert walked[table] == sim.truth_keys(table), table
        assert len(walked[table]) == truth[table] > 0, table


@pytest.mark.slow
def test_advance_shows_in_the_api():
    with Simulator(config(days=10)) as moving:
        before = moving.truth()
        prs_before = len(walk_github(moving.urls["github"] + "/repos/acme/checkout/pulls", {"state": "all"}))
        changes = moving.advance(hours=36)
        after = moving.truth()
        assert (
            after["github__pull_requests"]
            == before["github__pull_requests"] + changes["github__pull_requests"]["added"]
        )
        prs_after = walk_github(moving.urls["github"] + "/repos/acme/checkout/pulls", {"state": "all"})
        repo = moving.org.github.repos[0]
        assert len(prs_after) == len(repo.pulls) > prs_before
        walked = _walk_everything(moving)
        for table in moving.org.TABLES:
            assert walked[table] == moving.truth_keys(table), table
        newest = max(i.created for i in moving.org.jira.issues)
        assert newest > END.timestamp(), "new Jira issues appear after the original end"


def test_same_seed_serves_the_same_payloads():
    def snapshot(running) -> str:
        bodies = [
            gh(running, "/repos/acme/payments/pulls", state="all", per_page=10).json(),
            gh(running, "/repos/acme/payments/deployments", per_page=10).json(),
            gh(running, "/repos/acme/payments/commits", per_page=10).json(),
            jira(
                running, "/rest/api/3/search/jql", params={"jql": "project = CORE", "fields": "*all"}
            ).json(),
            pd(running, "/incidents", date_range="all", limit=10).json(),
        ]
        text = json.dumps(bodies, sort_keys=True)
        for url in running.urls.values():
            text = text.replace(url, "http://simulator")
        return text

    with Simulator(config()) as one:
        first = snapshot(one)
    with Simulator(config()) as two:
        second = snapshot(two)
    with Simulator(config(seed=12)) as other:
        third = snapshot(other)
    assert first == second
    assert first != third


def test_issue_events_and_run_jobs_follow_githubs_public_docs(sim):
    """Not in the specs: shapes after GitHub's REST docs ("Issue events", "Workflow jobs")."""
    repo = sim.org.github.repos[0]
    draft = next(pr for pr in repo.pulls if pr.draft_events)
    events = gh(sim, f"/repos/{repo.full_name}/issues/{draft.number}/events", per_page=100).json()
    mine = [e for e in events if e["event"] in ("ready_for_review", "convert_to_draft")]
    assert [(e["event"], e["id"]) for e in mine] == [(name, ident) for name, _at, ident in draft.draft_events]
    assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)  # oldest first
    assert {"id", "node_id", "actor", "event", "created_at", "commit_id"} <= set(events[0])
    pull = gh(sim, f"/repos/{repo.full_name}/pulls/{draft.number}").json()
    assert pull["additions"] == sum(c.additions for c in draft.commits) and "changed_files" in pull

    rerun = next(run for run in repo.runs if run.run_attempt > 1 and run.status == "completed")
    path = f"/repos/{repo.full_name}/actions/runs/{rerun.id}/jobs"
    latest, every = gh(sim, path).json(), gh(sim, path, filter="all").json()
    assert {job["run_attempt"] for job in latest["jobs"]} == {rerun.run_attempt}
    assert {job["run_attempt"] for job in every["jobs"]} == set(range(1, rerun.run_attempt + 1))
    assert every["total_count"] == len(every["jobs"]) > latest["total_count"]
    job = every["jobs"][0]
    assert job["run_id"] == rerun.id and job["steps"] and job["steps"][0]["number"] == 1
    assert job["created_at"] <= job["started_at"] <= job["completed_at"]
    assert gh(sim, path, filter="nope").status_code == 422  # validation failed, as GitHub answers
    assert gh(sim, f"/repos/{repo.full_name}/actions/runs/1/jobs").status_code == 404
