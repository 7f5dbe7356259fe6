"""Fault injection: each switch, its bound (`fail_first_n`), its determinism; request counting."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from simulator import Faults, Simulator, SimulatorConfig

END = datetime(2026, 11, 20, tzinfo=UTC)
GH = {"Authorization": "Bearer sim-github-token"}
JIRA_AUTH = ("simulator@example.com", "sim-jira-token")
PD = {
    "Authorization": "Token token=sim-pagerduty-token",
    "Accept": "application/vnd.pagerduty+json;version=2",
}


@pytest.fixture(scope="module")
def sim():
    config = SimulatorConfig(
        seed=3, repositories=1, services=1, days=15, jira_issues_per_project=8, end_at=END
    )
    with Simulator(config) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_after(sim):
    yield
    sim.set_faults(Faults())


def github(sim, path="/repos/acme/checkout/deployments", **params):
    return requests.get(sim.urls["github"] + path, headers=GH, params=params, timeout=10)


def calls(sim) -> dict:
    return {
        "github": lambda: github(sim),
        "jira": lambda: requests.get(
            sim.urls["jira"] + "/rest/api/3/project/search", auth=JIRA_AUTH, timeout=10
        ),
        "pagerduty": lambda: requests.get(sim.urls["pagerduty"] + "/services", headers=PD, timeout=10),
    }


@pytest.mark.parametrize("api", ["github", "jira", "pagerduty"])
def test_rate_limit_fault_answers_429_with_retry_after_then_recovers(sim, api):
    sim.set_faults(Faults(rate_limit_every=1, fail_first_n=2, retry_after_seconds=0))
    call = calls(sim)[api]
    first, second, third = call(), call(), call()
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert {k.lower(): v for k, v in first.headers.items()}["retry-after"] == "0"


def test_secondary_rate_limit_is_a_github_403(sim):
    sim.set_faults(Faults(secondary_rate_limit_every=1, fail_first_n=1, retry_after_seconds=1))
    refused = github(sim)
    assert refused.status_code == 403
    assert "secondary rate limit" in refused.json()["message"]
    assert refused.headers["retry-after"] == "1"
    assert int(refused.headers["x-ratelimit-remaining"]) > 0, "not the primary budget"
    assert github(sim).status_code == 200
    sim.set_faults(Faults(secondary_rate_limit_every=1))
    assert calls(sim)["pagerduty"]().status_code == 200, "GitHub only"


def test_server_errors_cycle_500_502_503(sim):
    sim.set_faults(Faults(server_error_every=1, fail_first_n=3))
    codes = [github(sim).status_code for _ in range(4)]
    assert codes == [500, 502, 503, 200]


def test_timeout_holds_the_answer_longer_than_the_client_waits(sim):
    sim.set_faults(Faults(timeout_every=1, fail_first_n=1, timeout_seconds=0.6))
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(sim.urls["github"] + "/repos/acme/checkout", headers=GH, timeout=0.2)
    assert github(sim).status_code == 200


def test_bad_json_is_truncated_then_invalid(sim):
    sim.set_faults(Faults(bad_json_every=1, fail_first_n=2))
    for _ in range(2):
        response = github(sim)
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)
    assert isinstance(github(sim).json(), list)


def _walk(sim, per_page=5) -> list[int]:
    ids, page = [], 1
    while True:
        response = github(sim, per_page=per_page, page=page)
        ids.extend(d["id"] for d in response.json())
        if "next" not in response.links:
            return ids
        page += 1


def test_repeated_page_serves_the_previous_items_again(sim):
    expected = _walk(sim)
    assert len(expected) > 10
    sim.set_faults(Faults(repeat_page_every=2, fail_first_n=1))
    seen = _walk(sim)
    assert seen[5:10] == seen[0:5], "page 2 repeated page 1"
    assert set(seen) == set(expected) - set(expected[5:10]), "a naive client loses page 2"
    sim.set_faults(Faults(repeat_page_every=2, fail_first_n=1))
    careful, previous, page = [], None, 1
    while True:  # a client that notices a repeated page asks for it again
        response = github(sim, per_page=5, page=page)
        ids = [d["id"] for d in response.json()]
        if ids == previous:
            continue
        careful.extend(ids)
        previous = ids
        if "next" not in response.links:
            break
        page += 1
    assert careful == expected


def test_shifting_item_appears_twice(sim):
    expected = _walk(sim)
    sim.set_faults(Faults(shifting_item_every=2, fail_first_n=1))
    seen = _walk(sim)
    assert seen[5] == seen[4], "the item at the page boundary is served again"
    assert len(seen) == len(expected) + 1, "nothing is lost: the walk is one item longer"
    assert sorted(set(seen)) == sorted(expected)
    assert _walk(sim) == expected, "a fresh walk from page 1 is consistent again"


def test_paging_faults_apply_to_jira_and_pagerduty_pages(sim):
    sim.set_faults(Faults(repeat_page_every=1, fail_first_n=1))
    first = requests.get(
        sim.urls["pagerduty"] + "/log_entries", headers=PD, params={"limit": 2}, timeout=10
    ).json()
    second = requests.get(
        sim.urls["pagerduty"] + "/log_entries", headers=PD, params={"limit": 2, "offset": 2}, timeout=10
    ).json()
    assert [e["id"] for e in second["log_entries"]] == [e["id"] for e in first["log_entries"]]
    sim.set_faults(Faults(repeat_page_every=1, fail_first_n=1))
    issue = sim.org.jira.issues[0]
    page_one = requests.get(
        sim.urls["jira"] + f"/rest/api/3/issue/{issue.key}/changelog",
        params={"startAt": 0, "maxResults": 1},
        auth=JIRA_AUTH,
        timeout=10,
    ).json()
    page_two = requests.get(
        sim.urls["jira"] + f"/rest/api/3/issue/{issue.key}/changelog",
        params={"startAt": 1, "maxResults": 1},
        auth=JIRA_AUTH,
        timeout=10,
    ).json()
    assert page_two["values"] == page_one["values"]


def test_faults_can_target_one_api(sim):
    sim.set_faults(Faults(server_error_every=1, apis=("jira",)))
    assert github(sim).status_code == 200
    assert calls(sim)["jira"]().status_code in (500, 502, 503)


def test_probabilistic_faults_repeat_exactly_and_a_retrying_client_converges(sim):
    def run() -> list[int]:
        sim.set_faults(
            Faults(seed=5, server_error_probability=0.4, rate_limit_probability=0.2, fail_first_n=6)
        )
        codes = []
        for _ in range(20):
            codes.append(github(sim).status_code)
        return codes

    first, second = run(), run()
    assert first == second
    assert sum(code != 200 for code in first) == 6
    assert first[-1] == 200


def test_faults_from_the_config():
    config = SimulatorConfig(
        seed=3,
        repositories=1,
        services=1,
        days=5,
        jira_issues_per_project=3,
        end_at=END,
        faults=Faults(server_error_every=1, fail_first_n=1),
    )
    with Simulator(config) as running:
        assert github(running).status_code == 500
        assert github(running).status_code == 200


def test_request_counts_include_304_and_faults_and_reset(sim):
    sim.reset_request_counts()
    first = github(sim)
    cached = requests.get(
        sim.urls["github"] + "/repos/acme/checkout/deployments",
        headers={**GH, "If-None-Match": first.headers["ETag"]},
        timeout=10,
    )
    assert cached.status_code == 304
    sim.set_faults(Faults(server_error_every=1, fail_first_n=1))
    assert github(sim).status_code == 500
    calls(sim)["pagerduty"]()
    assert sim.request_counts() == {"github": 3, "jira": 0, "pagerduty": 1}
    sim.reset_request_counts()
    assert sim.request_counts() == {"github": 0, "jira": 0, "pagerduty": 0}


def test_fault_bodies_validate_against_the_spec(sim, specs_dir):
    import sys

    sys.path.insert(0, str(specs_dir))
    from spec_validate import KNOWN_RELAXATIONS, validate_payload

    sim.set_faults(Faults(server_error_every=1, fail_first_n=3))
    pull = "/repos/acme/checkout/pulls/1"
    first, _, third = github(sim, pull), github(sim, pull), github(sim, pull)
    assert (first.status_code, third.status_code) == (500, 503)
    assert not validate_payload(f"{specs_dir}/github/pull_get.json", "500", first.json())
    assert not validate_payload(f"{specs_dir}/github/pull_get.json", "503", third.json())
    sim.set_faults(Faults(rate_limit_every=1, fail_first_n=1, retry_after_seconds=0))
    limited = requests.get(sim.urls["pagerduty"] + "/incidents", headers=PD, timeout=10)
    assert limited.status_code == 429
    errors = validate_payload(
        f"{specs_dir}/pagerduty/incidents_list.json", "429", limited.json(), **KNOWN_RELAXATIONS["pagerduty"]
    )
    assert not errors, errors


def test_fixed_ports_and_a_clear_error_when_taken(sim):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = SimulatorConfig(
        repositories=1, services=1, days=2, jira_issues_per_project=2, end_at=END, ports={"github": free}
    )
    with Simulator(config) as fixed:
        assert fixed.urls["github"] == f"http://127.0.0.1:{free}"
        clash = Simulator(config)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{free} for github"):
            clash.start()
