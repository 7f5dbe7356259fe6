"""The whole synthetic organisation: people, GitHub, Jira and PagerDuty sharing one clock."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

from simulator.changes import Changes
from simulator.clock import DAY, HOUR, to_epoch
from simulator.config import SimulatorConfig
from simulator.github_model import GitHubOrg, is_production, jobs_of_attempt
from simulator.jira_model import JiraPlan, JiraSite
from simulator.pagerduty_model import PagerDutyAccount
from simulator.teams import TEAMS, team_of_person

DEPLOY_BOT = -2
PEOPLE = (
    ("Alice", "Martin"),
    ("Bruno", "Costa"),
    ("Chen", "Wei"),
    ("Dana", "Kowalski"),
    ("Emeka", "Obi"),
    ("Fatima", "Haddad"),
    ("Gustav", "Lind"),
    ("Hana", "Sato"),
    ("Ivan", "Petrov"),
    ("Julia", "Rossi"),
    ("Kofi", "Mensah"),
    ("Lena", "Fischer"),
)


@dataclass(frozen=True, slots=True)
class Person:
    login: str
    id: int
    name: str
    email: str
    account_id: str
    pd_id: str


def people(config: SimulatorConfig) -> list[Person]:
    """The organisation's people, GitHub users, Jira accounts and PagerDuty users at once."""
    return [
        Person(
            login=f"{first.lower()}-{last.lower()}",
            id=1_000_000 + i,
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}@{config.owner}.example",
            account_id=f"5f{(config.seed * 7919 + i * 104729) % 16**6:06x}{i:016x}",
            pd_id="PU" + "".join("ABCDEFGHJKLMNPQRSTUVWXYZ"[(i * 7 + k * 3) % 24] for k in range(5)),
        )
        for i, (first, last) in enumerate(PEOPLE)
    ]


def team_member_rows(config: SimulatorConfig) -> list[tuple[str, str, str, str]]:
    """(team, github_login, pagerduty_user_id, name) of every person but the last, a contractor the team file
    leaves out (so the demo shows unmapped responders and reviewers counted apart)."""
    return [
        (TEAMS[team_of_person(i)], person.login, person.pd_id, person.name)
        for i, person in enumerate(people(config)[:-1])
    ]


class Organisation:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.end = to_epoch(config.end_at)
        self.start = self.end - config.days * DAY
        self.clock = self.end
        self.users = people(config)
        self.deploy_bot = DEPLOY_BOT
        self.changes = Changes(enabled=False)
        collecting = gc.isenabled()
        gc.disable()  # millions of small objects: the cyclic collector would rescan them again and again
        try:
            self.jira_plan = JiraPlan(config, self.start, self.end)
            self.pagerduty = PagerDutyAccount(self)
            self.github = GitHubOrg(self)
            self.jira = JiraSite(self)
            self._run(self.end)
        finally:
            if collecting:
                gc.enable()
        self.changes = Changes()

    @property
    def first_object_at(self) -> int:
        return self.start - 2 * DAY

    def _run(self, clock: float) -> None:
        self.github.run_until(clock)
        self.pagerduty.run_until(clock)
        self.jira.run_until(clock)

    def advance(self, hours: float) -> dict[str, dict[str, int]]:
        with self.lock:
            self.changes = Changes()
            self.clock = int(self.clock + hours * HOUR)
            self._run(self.clock)
            summary = self.changes.summary()
            self.changes = Changes()
            return summary

    # ----- ground truth
    def production_pairs(self, repo) -> list[tuple[str, str]]:
        """Consecutive successful production deployments of a repository, by time of success."""
        done = []
        for deployment in repo.deployments:
            if not is_production(deployment.environment):
                continue
            for status in deployment.statuses:
                if status.state == "success":
                    done.append((status.created_at, deployment.id, deployment.sha))
        done.sort()
        pairs = []
        seen = set()
        for (_, _, base), (_, _, head) in zip(done, done[1:], strict=False):
            if (base, head) not in seen:
                seen.add((base, head))
                pairs.append((base, head))
        return pairs

    def truth_keys(self, table: str) -> set:
        with self.lock:
            return self._truth_keys(table)

    def _truth_keys(self, table: str) -> set:
        repos = self.github.repos
        if table == "github__pull_requests":
            return {(r.full_name, pr.number) for r in repos for pr in r.pulls}
        if table == "github__pull_request_commits":
            return {
                (r.full_name, pr.number, c.sha) for r in repos for pr in r.pulls for c in pr.commits[:250]
            }
        if table == "github__pull_request_reviews":
            return {(r.full_name, rv.id) for r in repos for pr in r.pulls for rv in pr.reviews}
        if table == "github__commits":
            return {(r.full_name, c.sha) for r in repos for c in r.main_order}
        if table == "github__deployments":
            return {(r.full_name, d.id) for r in repos for d in r.deployments}
        if table == "github__deployment_statuses":
            return {(r.full_name, s.id) for r in repos for d in r.deployments for s in d.statuses}
        if table == "github__workflow_runs":
            return {(r.full_name, run.id) for r in repos for run in r.runs}
        if table == "github__releases":
            return {(r.full_name, rel.id) for r in repos for rel in r.releases}
        if table == "github__comparisons":
            return {(r.full_name, f"{b}...{h}") for r in repos for b, h in self.production_pairs(r)}
        if table == "github__comparison_commits":
            keys = set()
            for r in repos:
                for b, h in self.production_pairs(r):
                    for c in r.only_in(r.commits[h], r.commits[b]):
                        keys.add((r.full_name, f"{b}...{h}", c.sha))
            return keys
        if table == "github__pull_request_sizes":
            return {(r.full_name, pr.number) for r in repos for pr in r.pulls}
        if table == "github__pull_request_events":
            return {(r.full_name, e[2]) for r in repos for pr in r.pulls for e in pr.draft_events}
        if table == "github__workflow_jobs":
            return {
                (r.full_name, job["id"])
                for r in repos
                for run in r.runs
                for number, attempt in enumerate(run.attempts, start=1)
                if attempt[1] is not None  # completed attempts (a re-run's earlier ones too)
                for job in jobs_of_attempt(run, number, attempt)
            }
        if table == "jira__projects":
            return {p["id"] for p in self.jira.projects}
        if table == "jira__issues":
            return {i.id for i in self.jira.issues}
        if table == "jira__issue_changelogs":
            return {(i.id, h.id) for i in self.jira.issues for h in i.histories}
        if table == "pagerduty__services":
            return {s.id for s in self.pagerduty.services}
        if table == "pagerduty__incidents":
            return {i.id for i in self.pagerduty.incidents}
        if table == "pagerduty__incident_log_entries":
            return {e.id for e in self.pagerduty.log_entries}
        raise KeyError(f"unknown raw table {table!r}")

    TABLES = (
        "github__pull_requests",
        "github__pull_request_commits",
        "github__pull_request_reviews",
        "github__commits",
        "github__deployments",
        "github__deployment_statuses",
        "github__workflow_runs",
        "github__releases",
        "github__comparisons",
        "github__comparison_commits",
        "jira__projects",
        "jira__issues",
        "jira__issue_changelogs",
        "pagerduty__services",
        "pagerduty__incidents",
        "pagerduty__incident_log_entries",
    )

    # landed only when a setting or the GraphQL path asks for them (GITHUB_PULL_REQUEST_DETAILS, GITHUB_CI_JOBS):
    # truth_keys() knows them, truth() leaves them out
    DETAIL_TABLES = ("github__pull_request_sizes", "github__pull_request_events", "github__workflow_jobs")

    def truth(self) -> dict[str, int]:
        with self.lock:
            return {table: len(self._truth_keys(table)) for table in self.TABLES}
