"""Simulator switches for untidy organisations (issue #10): multi-region production and a monorepo."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pytest

from simulator import monorepo_catalog_rows
from simulator.config import SimulatorConfig
from simulator.github_api import GitHubApp
from simulator.github_model import is_production
from simulator.model import Organisation

END = datetime(2026, 11, 20, tzinfo=UTC)


def organisation(**switches) -> Organisation:
    return Organisation(
        SimulatorConfig(
            seed=7, repositories=3, services=3, days=30, jira_issues_per_project=5, end_at=END, **switches
        )
    )


def production_deployments(repo):
    return [d for d in repo.deployments if is_production(d.environment)]


def test_switches_are_off_by_default_and_a_repository_has_one_production_name():
    config = SimulatorConfig(end_at=END)
    assert (config.multi_region, config.monorepo) == (False, False)
    org = organisation()
    for repo in org.github.repos:
        names = {d.environment for d in production_deployments(repo)}
        assert names == {repo.production_name}, repo.name  # one spelling per repository, not production/prod
        assert all(not commit.areas for commit in repo.commits.values())


def test_multi_region_deploys_each_sha_to_eu_then_us_minutes_later():
    org = organisation(multi_region=True)
    for repo in org.github.repos:
        names = {d.environment.lower() for d in production_deployments(repo)}
        base = repo.production_name.lower()
        assert names == {f"{base}-eu", f"{base}-us"}
        eu = [d for d in production_deployments(repo) if d.environment.endswith("-eu")]
        us = [d for d in production_deployments(repo) if d.environment.endswith("-us")]
        # every eu deployment has its us step, but for one the history may end before it
        assert len(eu) - 1 <= len(us) <= len(eu), repo.name
        for step in us:  # the same sha, 10 to 40 minutes after an eu deployment of it was created
            gaps = [step.created_at - first.created_at for first in eu if first.sha == step.sha]
            assert any(10 * 60 <= gap <= 40 * 60 + 1 for gap in gaps), step.id


def test_the_monorepo_splits_one_repository_by_environment_and_by_paths():
    org = organisation(monorepo=True)
    repo = org.github.repos[0]
    assert {d.environment for d in production_deployments(repo)} == {"api-production", "web-production"}
    api = [d for d in repo.deployments if d.environment == "api-production"]
    web = [d for d in repo.deployments if d.environment == "web-production"]
    assert len(api) - 1 <= len(web) <= len(api)
    for step in web:  # each sha goes to api, then to web 10 to 40 minutes later
        gaps = [step.created_at - first.created_at for first in api if first.sha == step.sha]
        assert any(10 * 60 <= gap <= 40 * 60 + 1 for gap in gaps), step.id
    areas = [commit.areas for commit in repo.commits.values() if commit.message != "Initial commit"]
    assert {("api",), ("web",), ("api", "web")} <= set(areas)
    # the other repositories stay single-service
    assert all(not commit.areas for other in org.github.repos[1:] for commit in other.commits.values())
    # GET commits/{sha} lists the files under the service folders the commit changes
    api_server = GitHubApp.__new__(GitHubApp)
    both = next(c for c in repo.commits.values() if c.areas == ("api", "web"))
    names = [item["filename"] for item in GitHubApp.files(api_server, repo, [both])]
    assert [name.split("/")[:2] for name in names] == [["services", "api"], ["services", "web"]]
    name = org.config.service_name(0)
    assert monorepo_catalog_rows(org.config) == [
        (name, f"acme/{name}", "^api-production$", "services/api/"),
        (f"{name}-web", f"acme/{name}", "^web-production$", "services/web/"),
    ]


@pytest.mark.slow
def test_extract_and_marts_on_a_multi_region_organisation_with_a_monorepo(tmp_path):
    """Through the extractor and dbt: the monorepo's commits carry their files (one request per compared
    commit, only for that repository), its deployments split into two services, regions are rollout steps."""
    from doraflow.config import load_settings
    from doraflow.raw_loader import load_pending_batches
    from doraflow.transform import dbt_build
    from extractors import extract_sources
    from simulator import Simulator

    config = SimulatorConfig(
        seed=7,
        repositories=2,
        services=2,
        days=12,
        jira_projects=1,
        jira_issues_per_project=5,
        end_at=END,
        multi_region=True,
        monorepo=True,
    )
    name = config.service_name(0)
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "service,github_repository,environment_pattern,path_prefixes\n"
        + "".join(",".join(row) + "\n" for row in monorepo_catalog_rows(config))
    )
    with Simulator(config) as sim:
        env = {
            **sim.env(),
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
            "SERVICE_CATALOG_PATH": str(catalog),
        }
        settings = load_settings(env)
        extract_sources(settings, ["github"], progress=lambda line: None)
        load_pending_batches(settings, progress=lambda line: None)
        repos = {repo.full_name: repo for repo in sim.org.github.repos}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        listed = con.execute(
            "select _scope, payload->>'sha', (payload->'files') is not null, payload->>'files' "
            "from raw.github__comparison_commits"
        ).fetchall()
    assert listed
    for scope, sha, has_files, files in listed:
        if scope == f"acme/{name}":
            assert has_files, sha
            folders = sorted({"/".join(item["filename"].split("/")[:2]) for item in json.loads(files)})
            assert folders == [f"services/{area}" for area in repos[scope].commits[sha].areas]
        else:
            assert not has_files, sha  # no path_prefixes for that repository: no extra request

    assert dbt_build(settings, progress=lambda line: None).failures == []
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        services = dict(
            con.execute(
                "select environment, string_agg(distinct service, ',') from marts.fct_deployments "
                f"where repository = 'acme/{name}' group by 1"
            ).fetchall()
        )
        assert services == {"api-production": name, "web-production": f"{name}-web"}
        other = config.service_name(1)
        rows = con.execute(
            "select environment, commit_sha, deployed_at, deployment_kind from marts.fct_deployments "
            f"where repository = 'acme/{other}' and outcome = 'success'"
        ).fetchall()
        steps = 0
        for environment, sha, deployed_at, kind in rows:
            caught_up = any(e.endswith("-eu") and s == sha and d < deployed_at for e, s, d, _ in rows)
            if environment.endswith("-us") and caught_up:  # a region catching up: never a new release
                assert kind in ("rollout_step", "redeploy", "rollback"), (sha, kind)
                steps += kind == "rollout_step"
        assert steps > 0
        # each monorepo change belongs to a service whose folder it changes; 'all' counts each commit once
        changes = con.execute(
            "select service, commit_sha, is_first_shipment from marts.fct_changes "
            f"where repository = 'acme/{name}'"
        ).fetchall()
        assert changes
        area_of = {name: "api", f"{name}-web": "web"}
        for service, sha, _ in changes:
            assert area_of[service] in repos[f"acme/{name}"].commits[sha].areas
        first = [sha for _, sha, is_first in changes if is_first]
        assert sorted(first) == sorted({sha for _, sha, _ in changes})
        assert len(changes) > len(first)  # some commits changed both services
