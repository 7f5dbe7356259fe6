"""The synthetic Jira side: projects, issues moving To Do -> In Progress -> In Review -> Done."""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

from simulator.clock import DAY, HOUR, MINUTE, EventLoop
from simulator.config import JIRA_PROJECT_KEYS

STATUSES = {
    "To Do": ("10000", "new", 2, "blue-gray", "To Do"),
    "In Progress": ("3", "indeterminate", 4, "yellow", "In Progress"),
    "In Review": ("10001", "indeterminate", 4, "yellow", "In Progress"),
    "Done": ("10002", "done", 3, "green", "Done"),
}
ISSUE_TYPES = {
    "Epic": ("10000", 1),
    "Story": ("10001", 0),
    "Task": ("10002", 0),
    "Bug": ("10004", 0),
    "Incident": ("10005", 0),
}
PRIORITIES = (("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"))
LABELS = ("backend", "frontend", "tech-debt", "customer", "security", "performance")
PROJECT_NAMES = {
    "PAY": "Payments",
    "CORE": "Core Platform",
    "WEB": "Web Storefront",
    "OPS": "Operations",
    "DATA": "Data",
    "MOB": "Mobile",
    "PLAT": "Platform",
    "SEC": "Security",
}


@dataclass(slots=True, eq=False)
class History:
    id: str
    author: int
    created: float
    items: list  # dicts: field, fieldtype, fieldId, from, fromString, to, toString


@dataclass(slots=True, eq=False)
class Issue:
    id: str
    key: str
    project: str
    issue_type: str
    summary: str
    priority: tuple
    labels: list
    created: float
    updated: float
    reporter: int
    assignee: int | None = None
    status: str = "To Do"
    parent: Issue | None = None
    fix_versions: list = field(default_factory=list)
    resolution: str | None = None
    resolutiondate: float | None = None
    histories: list = field(default_factory=list)


class JiraPlan:
    """Issue creation times and types of the initial window, known before any repository is generated
    so that pull requests only name issues that already exist."""

    def __init__(self, config, start: int, end: int) -> None:
        self.project_keys = JIRA_PROJECT_KEYS[: max(config.jira_projects, 1)]
        self.times: dict[str, list[float]] = {}
        self.types: dict[str, list[str]] = {}
        self.linkable: dict[str, list[tuple[float, str, str]]] = {}
        self.linkable_times: dict[str, list[float]] = {}
        for key in self.project_keys:
            rng = random.Random(f"{config.seed}:jira-plan:{key}")
            n = config.jira_issues_per_project
            times = sorted(rng.uniform(start - 2 * DAY, end - HOUR) for _ in range(n))
            types = []
            for index in range(n):
                if index < 2 and n >= 8:
                    types.append("Epic")
                else:
                    types.append(rng.choices(("Story", "Bug", "Task", "Incident"), (45, 25, 20, 10))[0])
            self.times[key] = times
            self.types[key] = types
            self.linkable[key] = [
                (times[i], f"{key}-{i + 1}", types[i]) for i in range(n) if types[i] != "Epic"
            ]
            self.linkable_times[key] = [entry[0] for entry in self.linkable[key]]

    def pick_before(self, key: str, when: float, rng) -> tuple[str, str] | None:
        """A random non-epic issue of the project created before `when` (None when there is none)."""
        count = bisect.bisect_left(self.linkable_times[key], when)
        if count == 0:
            return None
        _, issue_key, issue_type = self.linkable[key][int(rng.random() * count)]
        return issue_key, issue_type


class JiraSite:
    def __init__(self, org) -> None:
        self.org = org
        config = org.config
        self.plan: JiraPlan = org.jira_plan
        self.rng = random.Random(f"{config.seed}:jira")
        self.loop = EventLoop()
        self.projects = []
        self.issues: list[Issue] = []
        self.by_key: dict[str, Issue] = {}
        self.by_id: dict[str, Issue] = {}
        self.counters: dict[str, int] = {}
        self.epics: dict[str, list[Issue]] = {}
        self._history_ids = 10000
        self._issue_ids = 10000
        self.histories_count = 0
        for index, key in enumerate(self.plan.project_keys):
            self.projects.append({"id": str(10000 + index), "key": key, "name": PROJECT_NAMES[key]})
            self.counters[key] = 0
            self.epics[key] = []
            times = self.plan.times[key]
            for position, when in enumerate(times):
                long_log = position == 2 and index < 99 and config.long_changelog_issues > 0
                self.loop.at(when, self._create, key, self.plan.types[key][position], long_log)
            rate = max(config.jira_issues_per_project, 1) / max(config.days, 1) / DAY
            self.loop.at(org.end + self.rng.expovariate(rate), self._spawn, key, rate)

    def _spawn(self, now, key: str, rate: float) -> None:
        self.loop.at(now + self.rng.expovariate(rate), self._spawn, key, rate)
        issue_type = self.rng.choices(("Story", "Bug", "Task", "Incident"), (45, 25, 20, 10))[0]
        self._create(now, key, issue_type, False)

    def _user(self) -> int:
        return self.rng.randrange(len(self.org.users))

    def _history(self, now, issue: Issue, items: list, author: int | None = None) -> None:
        self._history_ids += 1
        history = History(str(self._history_ids), self._user() if author is None else author, now, items)
        issue.histories.append(history)
        issue.updated = now
        self.histories_count += 1
        self.org.changes.add("jira__issue_changelogs", (issue.id, history.id))
        self.org.changes.update("jira__issues", issue.id)

    def _create(self, now, key: str, issue_type: str, long_log: bool) -> None:
        rng = self.rng
        self.counters[key] += 1
        self._issue_ids += 1
        words = ("checkout", "refund", "search", "latency", "retry", "coupon", "invoice", "login", "cache")
        if issue_type == "Epic":
            summary = f"{rng.choice(words).title()} improvements Q{rng.randint(1, 4)}"
        elif issue_type == "Bug":
            summary = (
                f"{rng.choice(words).title()} fails with {rng.choice(('500', 'timeout', 'wrong total'))}"
            )
        else:
            verb = rng.choice(("Add", "Improve", "Support", "Clean up"))
            summary = f"{verb} {rng.choice(words)} {rng.choice(words)}"
        issue = Issue(
            id=str(self._issue_ids),
            key=f"{key}-{self.counters[key]}",
            project=key,
            issue_type=issue_type,
            summary=summary,
            priority=rng.choice(PRIORITIES),
            labels=sorted(set(rng.sample(LABELS, rng.randint(0, 2)))),
            created=now + rng.randint(0, 999) / 1000,
            updated=now,
            reporter=self._user(),
        )
        issue.updated = issue.created
        if issue_type != "Epic" and self.epics[key] and rng.random() < 0.5:
            issue.parent = rng.choice(self.epics[key])
        if issue_type == "Epic":
            self.epics[key].append(issue)
        self.issues.append(issue)
        self.by_key[issue.key] = issue
        self.by_id[issue.id] = issue
        self.org.changes.add("jira__issues", issue.id)
        scale = 4.0 if issue_type == "Epic" else 1.0
        start_work = now + rng.uniform(0.1, 4.0) * DAY * scale
        self.loop.at(start_work, self._transition, issue, "In Progress")
        if long_log:
            horizon = max(self.org.end - now, DAY)
            for _ in range(rng.randint(120, 140)):
                self.loop.at(now + rng.uniform(MINUTE, horizon), self._edit, issue)

    def _transition(self, now, issue: Issue, target: str) -> None:
        rng = self.rng
        before = issue.status
        old_id, new_id = STATUSES[before][0], STATUSES[target][0]
        items = [
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": old_id,
                "fromString": before,
                "to": new_id,
                "toString": target,
            }
        ]
        author = issue.assignee
        if target == "In Progress" and issue.assignee is None:
            issue.assignee = self._user()
            author = issue.assignee
            user = self.org.users[issue.assignee]
            items.insert(
                0,
                {
                    "field": "assignee",
                    "fieldtype": "jira",
                    "fieldId": "assignee",
                    "from": None,
                    "fromString": None,
                    "to": user.account_id,
                    "toString": user.name,
                },
            )
        issue.status = target
        if target == "Done":
            issue.resolution = "Done"
            issue.resolutiondate = now
            items.append(
                {
                    "field": "resolution",
                    "fieldtype": "jira",
                    "fieldId": "resolution",
                    "from": None,
                    "fromString": None,
                    "to": "10000",
                    "toString": "Done",
                }
            )
            if rng.random() < 0.6 and issue.issue_type != "Epic":
                version = self.version_for(issue.project, now)
                issue.fix_versions = [version]
                items.append(
                    {
                        "field": "Fix Version",
                        "fieldtype": "jira",
                        "fieldId": "fixVersions",
                        "from": None,
                        "fromString": None,
                        "to": version["id"],
                        "toString": version["name"],
                    }
                )
        elif before == "Done":
            issue.resolution = None
            issue.resolutiondate = None
        self._history(now, issue, items, author)
        scale = 4.0 if issue.issue_type == "Epic" else 1.0
        if target == "In Progress":
            self.loop.at(now + rng.uniform(0.2, 4.0) * DAY * scale, self._transition, issue, "In Review")
        elif target == "In Review":
            if issue.issue_type == "Bug" and rng.random() < 0.25:
                self.loop.at(now + rng.uniform(0.1, 1.0) * DAY, self._transition, issue, "In Progress")
            else:
                self.loop.at(now + rng.uniform(0.1, 2.5) * DAY * scale, self._transition, issue, "Done")

    def version_for(self, project: str, when: float) -> dict:
        month = int((when - self.org.start) // (30 * DAY))
        number = 10100 + JIRA_PROJECT_KEYS.index(project) * 100 + month
        return {"id": str(number), "name": f"{project.lower()}-2.{month}", "released": False}

    def _edit(self, now, issue: Issue) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            old = " ".join(issue.labels)
            label = rng.choice(LABELS)
            issue.labels = sorted(set(issue.labels) ^ {label})
            items = [
                {
                    "field": "labels",
                    "fieldtype": "jira",
                    "fieldId": "labels",
                    "from": None,
                    "fromString": old,
                    "to": None,
                    "toString": " ".join(issue.labels),
                }
            ]
        else:
            old = issue.priority
            issue.priority = rng.choice([p for p in PRIORITIES if p != old])
            items = [
                {
                    "field": "priority",
                    "fieldtype": "jira",
                    "fieldId": "priority",
                    "from": old[0],
                    "fromString": old[1],
                    "to": issue.priority[0],
                    "toString": issue.priority[1],
                }
            ]
        self._history(now, issue, items)

    def run_until(self, clock: float) -> None:
        self.loop.run_until(clock)
