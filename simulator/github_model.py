"""The synthetic GitHub side: repositories with commits, pull requests, deployments, runs, releases.

Each repository runs its own seeded discrete-event loop, so its history does not depend on the
other repositories, and moving the clock forward (`advance`) just runs the loops further.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from simulator.clock import DAY, HOUR, MINUTE, EventLoop
from simulator.teams import TeamPicks, team_of_repository

WEB_FLOW = -1  # committer "GitHub <noreply@github.com>" (squash/rebase/merge done on github.com)

PUSH_MESSAGES = (
    "Bump dependencies",
    "Fix typo in README",
    "Tune connection pool size",
    "Update CODEOWNERS",
    "Add metrics for cache hits",
    "Raise request timeout",
    "Clean up feature flag",
    "Update CI image",
)
WORDS = (
    "retry",
    "timeout",
    "cache",
    "rounding",
    "pagination",
    "currency",
    "logging",
    "index",
    "tax",
    "coupon",
    "refund",
    "session",
    "webhook",
    "queue",
    "latency",
    "limits",
    "search",
    "auth",
)


@dataclass(slots=True)
class User:
    login: str
    id: int
    name: str
    email: str
    type: str = "User"


@dataclass(slots=True, eq=False)
class Commit:
    sha: str
    message: str
    author: int
    author_at: int
    committer: int
    committed_at: int
    parents: tuple
    seq: int
    reach: int = -1  # position in the default branch's reach order; -1 while only on a PR branch
    pr: object = None  # the pull request whose branch holds this commit
    pos: int = -1  # position on that branch
    additions: int = 0
    deletions: int = 0
    files: int = 1
    areas: tuple = ()  # monorepo: the services/<area>/ folders it changes (empty: src/<repo>/)
    gen: int = 0  # generation number: 1 + the largest of its parents' (1 for a root commit)


@dataclass(slots=True, eq=False)
class Review:
    id: int
    user: int
    state: str
    body: str
    submitted_at: int
    commit_id: str


@dataclass(slots=True, eq=False)
class PullRequest:
    number: int
    id: int
    title: str
    body: str
    user: int
    head_ref: str
    created_at: int
    updated_at: int
    base_reach: int
    base_sha: str
    commits: list = field(default_factory=list)
    reviews: list = field(default_factory=list)
    labels: tuple = ()
    state: str = "open"
    closed_at: int | None = None
    merged_at: int | None = None
    merge_commit_sha: str | None = None
    merged_by: int | None = None
    merge_method: str = "squash"
    draft: bool = False  # opened as a draft and not marked ready for review yet
    ready_at: int | None = None  # when a draft was marked ready for review
    # (event, at, id): ready_for_review / convert_to_draft, for REST issue events and GraphQL timelineItems
    draft_events: list = field(default_factory=list)


@dataclass(slots=True, eq=False)
class DeploymentStatus:
    id: int
    state: str
    created_at: int
    description: str
    environment: str


@dataclass(slots=True, eq=False)
class Deployment:
    id: int
    sha: str
    ref: str
    task: str
    environment: str
    created_at: int
    updated_at: int
    creator: int
    description: str
    production: bool
    statuses: list = field(default_factory=list)


@dataclass(slots=True, eq=False)
class WorkflowRun:
    id: int
    name: str
    workflow_id: int
    path: str
    event: str
    head_branch: str
    head_sha: str
    created_at: int
    updated_at: int
    run_number: int
    actor: int
    display_title: str
    head_commit: Commit
    pull_requests: tuple = ()
    status: str = "in_progress"
    conclusion: str | None = None
    run_attempt: int = 1
    run_started_at: int | None = None  # the latest attempt's start; None: not started (queued)
    attempts: list = field(default_factory=list)  # [started_at, completed_at, conclusion] per attempt: jobs


@dataclass(slots=True, eq=False)
class Release:
    id: int
    tag_name: str
    name: str
    sha: str
    created_at: int
    author: int
    body: str


def pick(rng: random.Random, items):
    """`rng.choice` without its per-call overhead (generation calls it hundreds of thousands of times)."""
    return items[int(rng.random() * len(items))]


def weighted(rng: random.Random, items, cumulative):
    """`rng.choices(items, weights)[0]` with precomputed cumulative weights."""
    roll = rng.random() * cumulative[-1]
    for item, bound in zip(items, cumulative, strict=True):
        if roll < bound:
            return item
    return items[-1]


MONOREPO_AREAS = ("api", "web")  # services/<area>/ of the monorepo, deployed to <area>-production


def monorepo_catalog_rows(config) -> list[tuple[str, str, str, str]]:
    """(service, github_repository, environment_pattern, path_prefixes) of the monorepo (config.monorepo): the
    api keeps the repository's name (so PagerDuty's service of that name still matches it), the web is
    <name>-web. A commit changing both folders is a change of both services."""
    name = config.service_name(0)
    return [
        (
            name if area == "api" else f"{name}-{area}",
            f"{config.owner}/{name}",
            f"^{area}-production$",
            f"services/{area}/",
        )
        for area in MONOREPO_AREAS
    ]


def is_production(environment: str) -> bool:
    """GitHub's `production_environment` flag as this organisation sets it."""
    name = environment.lower()
    return (
        name in ("production", "prod")
        or name.startswith(("production-", "prod-"))
        or name.endswith("-production")
    )


class Repo:
    """One repository and its event loop."""

    def __init__(self, org, index: int, name: str) -> None:
        self.org = org
        self.index = index
        self.name = name
        self.full_name = f"{org.config.owner}/{name}"
        self.id = 500_000_000 + index
        self.rng = random.Random(f"{org.config.seed}:github:{name}")
        self.team_picks = TeamPicks(f"{org.config.seed}:github-teams:{name}", len(org.users))
        self.id_base = (index + 1) * 10_000_000
        self._ids = 0
        self._seq = 0
        self.commits: dict[str, Commit] = {}
        self.main_order: list[Commit] = []
        self.head: Commit | None = None
        self.pulls: list[PullRequest] = []
        self.deployments: list[Deployment] = []
        self.deployments_by_id: dict[int, Deployment] = {}
        self.statuses_count = 0
        self.runs: list[WorkflowRun] = []
        self.releases: list[Release] = []
        self.loop = EventLoop()
        self.last_prod_sha: str | None = None
        self.prod_history: list[str] = []  # shas of successful production deployments, in order
        self.successful_prod = 0
        self.followers: set[int] = (
            set()
        )  # deployments that are a later region/service of a sha (no incidents)
        self._sorted_main: list[Commit] | None = None
        self._ancestry_sizes: dict[str, int] = {}
        self.jira_key = org.jira_plan.project_keys[index % len(org.jira_plan.project_keys)]
        # Flow detail (CI queues and re-runs, drafts, who deploys) draws from its own generator, so the history
        # the DORA figures rest on is the same with or without it.
        self.flow_rng = random.Random(f"{org.config.seed}:github-flow:{name}")
        self.slow_ci = index % 4 == 1  # a repository whose CI runners are scarce: long queues, long feedback
        self.manual_deploys = index % 3 == 2  # a team that mostly deploys by hand
        self.pd_service = index if index < org.config.services else None
        # One production name per repository ("production" or "prod", a few capitalised), so a repository's
        # production is one environment; its own generator keeps every other seeded draw unchanged.
        roll = random.Random(f"{org.config.seed}:production-name:{name}").random()
        self.production_name = "production" if roll < 0.8 else ("Production" if roll < 0.9 else "prod")
        self.is_monorepo = org.config.monorepo and index == 0
        self._start()

    # ----- helpers
    def next_id(self) -> int:
        self._ids += 1
        return self.id_base + self._ids

    def new_sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def _commit(self, message, author, author_at, committer, committed_at, parents, **extra) -> Commit:
        self._seq += 1
        rng = self.rng
        commit = Commit(
            self.new_sha(),
            message,
            author,
            int(author_at),
            committer,
            int(committed_at),
            tuple(parents),
            self._seq,
            additions=1 + int(rng.random() * 240),
            deletions=int(rng.random() * 81),
            files=1 + int(rng.random() * 9),
            **extra,
        )
        commit.gen = 1 + max((self.commits[p].gen for p in commit.parents), default=0)
        if self.is_monorepo:  # a separate generator: the other draws stay as without the switch
            roll = random.Random(f"{commit.sha}:areas").random()
            commit.areas = ("api",) if roll < 0.45 else (("web",) if roll < 0.9 else MONOREPO_AREAS)
        self.commits[commit.sha] = commit
        return commit

    def _to_main(self, commit: Commit) -> None:
        commit.reach = len(self.main_order)
        self.main_order.append(commit)
        self._sorted_main = None
        self.org.changes.add("github__commits", (self.full_name, commit.sha))

    def _advance_head(self, commit: Commit) -> None:
        self._to_main(commit)
        self.head = commit

    def user(self) -> int:
        return int(self.rng.random() * len(self.org.users))

    def other_user(self, not_this: int) -> int:
        choice = int(self.rng.random() * (len(self.org.users) - 1))
        return choice if choice < not_this else choice + 1

    def sorted_main(self) -> list[Commit]:
        """Default-branch commits newest first, by committer date (git log order)."""
        if self._sorted_main is None:
            self._sorted_main = sorted(self.main_order, key=lambda c: (c.committed_at, c.seq), reverse=True)
        return self._sorted_main

    # ----- generation
    def _start(self) -> None:
        config = self.org.config
        start = self.org.start
        rng = self.rng
        author = self.user()
        first = self._commit("Initial commit", author, start - DAY, author, start - DAY, ())
        self._advance_head(first)
        second = self._commit(
            f"Add {self.name} service skeleton",
            author,
            start - DAY + HOUR,
            author,
            start - DAY + HOUR,
            (first.sha,),
        )
        self._advance_head(second)
        rate = max(config.deploys_per_day, 0.05)
        self.work_rate = rate * 1.3 / DAY
        self.deploy_rate = rate / DAY
        self.loop.at(start + rng.expovariate(self.work_rate), self._work)
        self.loop.at(start + rng.expovariate(self.deploy_rate), self._deploy_tick)
        if self.index % 2 == 0:  # a production deployment still running when the history ends
            end = self.org.end
            self.loop.at(
                end - rng.uniform(30, 100),
                lambda now: self._deploy_production(now, self.head.sha, "main", "Deploy to production"),
            )

    def _work(self, now) -> None:
        self.loop.at(now + self.rng.expovariate(self.work_rate), self._work)
        if self.rng.random() < 0.22:
            self._push(now, pick(self.rng, PUSH_MESSAGES))
        else:
            self._open_pr(now)

    def _push(self, now, message, author=None) -> Commit:
        author = self.user() if author is None else author
        commit = self._commit(message, author, now, author, now, (self.head.sha,))
        self._advance_head(commit)
        self._run(now, "CI", "push", "main", commit, author, commit.message.split("\n")[0])
        return commit

    def _jira_issue(self, now):
        if self.rng.random() < 0.25:
            return None
        return self.org.jira_plan.pick_before(self.jira_key, now, self.rng)

    def _open_pr(self, now, hotfix: bool = False, fixes: str | None = None) -> PullRequest:
        rng = self.rng
        author = self.user()
        issue = self._jira_issue(now)
        topic = f"{pick(rng, WORDS)} {pick(rng, WORDS)}"
        slug = topic.replace(" ", "-")
        if hotfix:
            title = f"Hotfix: {fixes or topic}"
            head_ref = f"hotfix/{slug}-{rng.randrange(1000)}"
            issue = None
        elif issue is not None:
            key, issue_type = issue
            verb = "Fix" if issue_type == "Bug" else pick(rng, ("Add", "Improve", "Refactor", "Support"))
            title = f"{key}: {verb} {topic}" if rng.random() < 0.7 else f"{verb} {topic} ({key})"
            prefix = "bugfix" if issue_type == "Bug" else "feature"
            head_ref = (
                f"{prefix}/{key}-{slug}" if rng.random() < 0.8 else f"{self.org.users[author].login}/{slug}"
            )
        else:
            title = f"{pick(rng, ('Add', 'Improve', 'Refactor', 'Fix'))} {topic}"
            head_ref = f"{self.org.users[author].login}/{slug}-{rng.randrange(100)}"
        number = len(self.pulls) + 1
        pr = PullRequest(
            number=number,
            id=self.next_id(),
            title=title,
            body=f"This pull request changes {topic}." + (f"\n\nJira: {issue[0]}" if issue else ""),
            user=author,
            head_ref=head_ref,
            created_at=int(now),
            updated_at=int(now),
            base_reach=self.head.reach,
            base_sha=self.head.sha,
            labels=("hotfix",) if hotfix else (("bug",) if issue and issue[1] == "Bug" else ()),
        )
        n_commits = 1 if hotfix else min(1 + int(rng.expovariate(0.6)), 12)
        times = sorted(
            now - rng.uniform(5 * MINUTE, (0.3 if hotfix else 2.0) * DAY) for _ in range(n_commits)
        )
        parent = self.head.sha
        for pos, at in enumerate(times):
            message = title if pos == n_commits - 1 else f"WIP {pick(rng, WORDS)}"
            commit = self._commit(
                message, author, at, author, at + rng.randint(0, 300), (parent,), pr=pr, pos=pos
            )
            pr.commits.append(commit)
            parent = commit.sha
            self.org.changes.add("github__pull_request_commits", (self.full_name, number, commit.sha))
        self.pulls.append(pr)
        self.org.changes.add("github__pull_requests", (self.full_name, number))
        flow = self.flow_rng
        if not hotfix and flow.random() < 0.2:
            pr.draft = True
            self.loop.at(now + flow.uniform(1, 30) * HOUR, self._ready_for_review, pr)
        self._run(now, "CI", "pull_request", head_ref, pr.commits[-1], author, title, (number,))
        if hotfix:
            lead = rng.uniform(20 * MINUTE, 90 * MINUTE)
        else:
            lead = min(math.exp(rng.gauss(math.log(8 * HOUR), 1.1)), 12 * DAY)
            if rng.random() < 0.08:
                lead = rng.uniform(3, 20) * DAY  # long-running pull requests
        for _ in range(0 if hotfix and rng.random() < 0.5 else pick(rng, (0, 1, 1, 2, 3))):
            self.loop.at(now + rng.uniform(0.05, 0.9) * lead, self._review, pr)
        if not hotfix and rng.random() < 0.06:
            self.loop.at(now + lead, self._close_pr, pr)
        else:
            method = "squash" if hotfix else weighted(rng, ("squash", "merge", "rebase"), (5, 8, 10))
            self.loop.at(now + lead, self._merge_pr, pr, method, hotfix)
        return pr

    def _draft_event(self, now, pr: PullRequest, event: str) -> None:
        # own id space (not next_id), so the rest of the history keeps its ids
        pr.draft_events.append((event, int(now), 4_000_000_000 + pr.id * 10 + len(pr.draft_events)))

    def _ready_for_review(self, now, pr: PullRequest) -> None:
        if pr.state != "open" or not pr.draft:
            return
        pr.draft = False
        pr.ready_at = pr.updated_at = int(now)
        self._draft_event(now, pr, "ready_for_review")
        self.org.changes.update("github__pull_requests", (self.full_name, pr.number))
        if len(pr.draft_events) == 1 and pr.number % 3 == 0:
            # one in three drafts goes back to draft for a while (no draw: the history does not move)
            self.loop.at(now + (1 + pr.number % 4) * HOUR, self._convert_to_draft, pr)

    def _convert_to_draft(self, now, pr: PullRequest) -> None:
        if pr.state != "open" or pr.draft:
            return
        pr.draft = True
        pr.updated_at = int(now)
        self._draft_event(now, pr, "convert_to_draft")
        self.org.changes.update("github__pull_requests", (self.full_name, pr.number))
        self.loop.at(now + (2 + pr.number % 5) * HOUR, self._ready_for_review, pr)

    def _review(self, now, pr: PullRequest) -> None:
        if pr.state != "open":
            return
        rng = self.rng
        state = weighted(rng, ("APPROVED", "COMMENTED", "CHANGES_REQUESTED"), (6, 9, 10))
        reviewer = self.team_picks.reviewer(team_of_repository(self.index), pr.user, self.other_user(pr.user))
        review = Review(
            self.next_id(),
            reviewer,
            state,
            "" if state == "APPROVED" else "Please have a look at the error handling.",
            int(now),
            pr.commits[-1].sha,
        )
        pr.reviews.append(review)
        pr.updated_at = int(now)
        self.org.changes.add("github__pull_request_reviews", (self.full_name, review.id))
        self.org.changes.update("github__pull_requests", (self.full_name, pr.number))

    def _close_pr(self, now, pr: PullRequest) -> None:
        pr.state = "closed"
        pr.closed_at = pr.updated_at = int(now)
        self.org.changes.update("github__pull_requests", (self.full_name, pr.number))

    def _merge_pr(self, now, pr: PullRequest, method: str, hotfix: bool) -> None:
        if pr.draft:  # a draft cannot be merged: it was marked ready just before
            pr.draft = False
            pr.ready_at = int(now)
            self._draft_event(now, pr, "ready_for_review")
        merger = self.other_user(pr.user) if pr.reviews and self.rng.random() < 0.3 else pr.user
        if method == "squash":
            lines = "\n".join(f"* {c.message.splitlines()[0]}" for c in pr.commits)
            commit = self._commit(
                f"{pr.title} (#{pr.number})\n\n{lines}", pr.user, now, WEB_FLOW, now, (self.head.sha,)
            )
            self._advance_head(commit)
        elif method == "rebase":
            commit = self.head
            for original in pr.commits:
                commit = self._commit(
                    original.message, original.author, original.author_at, WEB_FLOW, now, (commit.sha,)
                )
                self._advance_head(commit)
        else:
            for original in pr.commits:
                self._to_main(original)
            commit = self._commit(
                f"Merge pull request #{pr.number} from {self.org.config.owner}/{pr.head_ref}\n\n{pr.title}",
                merger,
                now,
                WEB_FLOW,
                now,
                (self.head.sha, pr.commits[-1].sha),
            )
            self._advance_head(commit)
        pr.state = "closed"
        pr.merge_method = method
        pr.merged_at = pr.closed_at = pr.updated_at = int(now)
        pr.merge_commit_sha = commit.sha
        pr.merged_by = merger
        self.org.changes.update("github__pull_requests", (self.full_name, pr.number))
        self._run(now, "CI", "push", "main", commit, merger, commit.message.splitlines()[0])
        if hotfix:
            self.loop.at(now + self.rng.uniform(5, 20) * MINUTE, self._deploy, True, "Hotfix deploy")

    # ----- runs
    def _run(self, now, name, event, branch, commit, actor, title, prs=()) -> WorkflowRun:
        workflow_id = 7_000_000 + self.index * 10 + (1 if name == "CI" else 2)
        run = WorkflowRun(
            id=self.next_id(),
            name=name,
            workflow_id=workflow_id,
            path=f".github/workflows/{name.lower()}.yml",
            event=event,
            head_branch=branch,
            head_sha=commit.sha,
            created_at=int(now),
            updated_at=int(now),
            run_number=len(self.runs) + 1,
            actor=actor,
            display_title=title,
            head_commit=commit,
            pull_requests=prs,
        )
        self.runs.append(run)
        self.org.changes.add("github__workflow_runs", (self.full_name, run.id))
        finish = (
            now + self.rng.uniform(3, 12) * MINUTE
        )  # the main generator's draw, as before the flow detail
        flow = self.flow_rng
        # queue: usually seconds, a long tail of minutes; scarce runners queue for minutes and run slower
        queue = math.exp(flow.gauss(math.log(6 * MINUTE if self.slow_ci else 0.4 * MINUTE), 0.9))
        slower = flow.uniform(5, 20) * MINUTE if self.slow_ci and name == "CI" else 0.0
        run.status = "queued"
        self.loop.at(now + min(queue, 0.6 * (finish + slower - now)), self._start_run, run)
        self.loop.at(finish, self._finish_run, run, slower)
        return run

    def _start_run(self, now, run: WorkflowRun) -> None:
        if run.status != "queued":
            return
        run.status = "in_progress"
        run.run_started_at = run.updated_at = int(now)
        run.attempts.append([int(now), None, None])
        self.org.changes.update("github__workflow_runs", (self.full_name, run.id))

    def _finish_run(self, now, run: WorkflowRun, slower: float = 0.0) -> None:
        # The outcome is drawn at the usual moment from the main generator, so the rest of the history does not
        # move; scarce runners report it `slower` seconds later.
        conclusion = "success" if self.rng.random() < 0.92 else "failure"
        if slower:
            self.loop.at(now + slower, self._complete_run, run, conclusion)
        else:
            self._complete_run(now, run, conclusion)

    def _complete_run(self, now, run: WorkflowRun, conclusion: str) -> None:
        run.status = "completed"
        run.conclusion = conclusion
        run.updated_at = int(now)
        if not run.attempts:
            run.attempts.append([run.run_started_at or run.created_at, None, None])
        run.attempts[-1][1:] = [int(now), conclusion]
        self.org.changes.update("github__workflow_runs", (self.full_name, run.id))
        if run.conclusion == "failure" and run.name == "CI" and self.flow_rng.random() < 0.6:
            # a flaky failure: someone re-runs the failed jobs a few minutes later
            self.loop.at(now + self.flow_rng.uniform(2, 15) * MINUTE, self._rerun, run)

    def _rerun(self, now, run: WorkflowRun) -> None:
        run.run_attempt += 1
        run.run_started_at = run.updated_at = int(now)
        run.attempts.append([int(now), None, None])
        run.status = "in_progress"
        run.conclusion = None
        self.org.changes.update("github__workflow_runs", (self.full_name, run.id))
        self.loop.at(now + self.flow_rng.uniform(3, 12) * MINUTE, self._finish_rerun, run)

    def _finish_rerun(self, now, run: WorkflowRun) -> None:
        run.status = "completed"
        run.conclusion = "success" if self.flow_rng.random() < 0.85 else "failure"
        run.updated_at = int(now)
        run.attempts[-1][1:] = [int(now), run.conclusion]
        self.org.changes.update("github__workflow_runs", (self.full_name, run.id))

    # ----- deployments
    def _deploy_tick(self, now) -> None:
        self.loop.at(now + self.rng.expovariate(self.deploy_rate), self._deploy_tick)
        redeploy = self.rng.random() < 0.03
        if self.head.sha == self.last_prod_sha and not redeploy:
            return
        self._deploy(now, False, "Redeploy" if redeploy and self.head.sha == self.last_prod_sha else None)

    def _deploy(self, now, urgent: bool, reason: str | None) -> None:
        sha = self.head.sha
        if not urgent:
            self._create_deployment(now, sha, "main", "staging", "Deploy to staging")
            delay = self.rng.uniform(15, 45) * MINUTE
        else:
            delay = self.rng.uniform(1, 5) * MINUTE
        self.loop.at(now + delay, self._deploy_production, sha, "main", reason or "Deploy to production")

    def _deploy_production(self, now, sha: str, ref: str, description: str) -> None:
        self.rng.random()  # the draw that once picked the name: kept so seeded histories stay the same
        config = self.org.config
        if self.is_monorepo:
            first, *others = [f"{area}-production" for area in MONOREPO_AREAS]
        elif config.multi_region:
            first, *others = [f"{self.production_name}-eu", f"{self.production_name}-us"]
        else:
            first, others = self.production_name, []
        deployment = self._create_deployment(now, sha, ref, first, description)
        for environment in others:  # later targets of the same sha: rollout steps, not new releases
            at = now + random.Random(f"{deployment.id}:{environment}").uniform(10, 40) * MINUTE
            self.loop.at(at, self._rollout_step, sha, ref, environment, description)

    def _rollout_step(self, now, sha: str, ref: str, environment: str, description: str) -> None:
        self.followers.add(self._create_deployment(now, sha, ref, environment, description).id)

    def _create_deployment(self, now, sha, ref, environment, description) -> Deployment:
        rng = self.rng
        deployment = Deployment(
            id=self.next_id(),
            sha=sha,
            ref=ref,
            task="deploy",
            environment=environment,
            created_at=int(now),
            updated_at=int(now),
            creator=self._deployer(),
            description=description,
            production=is_production(environment),
        )
        self.deployments.append(deployment)
        self.deployments_by_id[deployment.id] = deployment
        self.org.changes.add("github__deployments", (self.full_name, deployment.id))
        self._status(now, deployment, "queued")
        started = now + rng.uniform(20, 120)
        self.loop.at(started, self._status, deployment, "in_progress")
        final = weighted(rng, ("success", "failure", "error"), (88, 96, 100))
        self.loop.at(started + rng.uniform(3, 12) * MINUTE, self._status, deployment, final)
        if deployment.production:
            run = self._run(
                now,
                "Deploy",
                "deployment",
                ref,
                self.commits[sha],
                self.org.deploy_bot,
                f"Deploy {sha[:7]} to {environment}",
            )
            run.head_branch = "main"
        return deployment

    def _deployer(self) -> int:
        """The deploy bot, or a person running the deployment by hand (most of the time in manual teams)."""
        flow = self.flow_rng
        if flow.random() < (0.7 if self.manual_deploys else 0.03):
            return int(flow.random() * len(self.org.users))
        return self.org.deploy_bot

    def _status(self, now, deployment: Deployment, state: str) -> None:
        text = {
            "queued": "Deployment queued",
            "in_progress": "Deployment started",
            "success": "Deployment finished successfully.",
            "failure": "Deployment failed: health checks did not pass",
            "error": "Deployment errored: runner lost",
        }[state]
        status = DeploymentStatus(self.next_id(), state, int(now), text, deployment.environment)
        deployment.statuses.append(status)
        deployment.updated_at = int(now)
        self.statuses_count += 1
        self.org.changes.add("github__deployment_statuses", (self.full_name, status.id))
        if state != "queued":
            self.org.changes.update("github__deployments", (self.full_name, deployment.id))
        if state == "success" and deployment.production and deployment.id not in self.followers:
            self._production_success(now, deployment)

    def _production_success(self, now, deployment: Deployment) -> None:
        rng = self.rng
        previous = self.last_prod_sha
        self.last_prod_sha = deployment.sha
        self.prod_history.append(deployment.sha)
        self.successful_prod += 1
        if self.successful_prod % 5 == 0:
            number = len(self.releases) + 1
            release = Release(
                self.next_id(),
                f"v1.{number}.0",
                f"v1.{number}.0",
                deployment.sha,
                int(now),
                self.org.deploy_bot,
                f"Release v1.{number}.0 of {self.name}",
            )
            self.releases.append(release)
            self.org.changes.add("github__releases", (self.full_name, release.id))
        if deployment.description.startswith("Rollback") or self.pd_service is None:
            return
        if rng.random() < self.org.config.incident_rate:
            at = now + rng.uniform(5, 180) * MINUTE
            self.org.pagerduty.schedule_incident(self.pd_service, at, self.full_name, deployment)
            reaction = rng.random()
            react_at = at + rng.uniform(10, 60) * MINUTE
            if reaction < 0.35 and previous and previous != deployment.sha:
                self.loop.at(
                    react_at, self._deploy_production, previous, previous, f"Rollback to {previous[:7]}"
                )
            elif reaction < 0.7:
                self.loop.at(react_at, self._revert, deployment.sha)
            else:
                self.loop.at(react_at, self._hotfix, deployment.sha)

    def _revert(self, now, bad_sha: str) -> None:
        bad = self.commits[bad_sha]
        subject = bad.message.splitlines()[0]
        self._push(now, f'Revert "{subject}"\n\nThis reverts commit {bad.sha}.')
        self.loop.at(now + self.rng.uniform(5, 20) * MINUTE, self._deploy, True, "Deploy revert")

    def _hotfix(self, now, bad_sha: str) -> None:
        self._open_pr(now, hotfix=True, fixes=f"incident after {bad_sha[:7]}")

    # ----- queries
    def resolve_ref(self, ref: str) -> Commit | None:
        if ref in ("main", "heads/main", "refs/heads/main", "HEAD"):
            return self.head
        commit = self.commits.get(ref)
        if commit is not None:
            return commit
        for pr in self.pulls:
            if pr.head_ref == ref and pr.state == "open":
                return pr.commits[-1]
        if 7 <= len(ref) < 40 and all(ch in "0123456789abcdef" for ch in ref):
            matches = [c for c in self.commits.values() if c.sha.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        return None

    def _paint(self, head: Commit, base: Commit) -> tuple[list[Commit], Commit | None]:
        """(commits reachable from head and not from base, oldest first; their best common ancestor or None).

        git's walk down both ancestries in decreasing generation number: a commit's marks are final when it is
        taken (its descendants all have larger numbers), and the walk stops once every commit still queued
        is base's, whose ancestors are all base's too. Exact for any graph (merges, rewritten history)."""
        head_mark, base_mark = 1, 2
        marks = {head.sha: head_mark}
        marks[base.sha] = marks.get(base.sha, 0) | base_mark
        queue = [(-head.gen, head.seq, head)]
        if base is not head:
            queue.append((-base.gen, base.seq, base))
        heapq.heapify(queue)
        queued = {c.sha for _, _, c in queue}
        heads_left = sum(1 for _, _, c in queue if marks[c.sha] == head_mark)
        only_head: list[Commit] = []
        merge_base = None
        while queue and (heads_left or merge_base is None):
            _, _, commit = heapq.heappop(queue)
            queued.discard(commit.sha)
            mark = marks[commit.sha]
            if mark == head_mark:
                heads_left -= 1
                only_head.append(commit)
            elif mark == head_mark | base_mark and merge_base is None:
                merge_base = commit  # the common ancestor of largest generation: no other is its descendant
            for sha in commit.parents:
                parent = self.commits[sha]
                before = marks.get(sha, 0)
                after = before | mark
                marks[sha] = after
                if sha not in queued:
                    if after == before:
                        continue  # taken already with these marks
                    queued.add(sha)
                    heapq.heappush(queue, (-parent.gen, parent.seq, parent))
                    heads_left += after == head_mark
                elif before == head_mark and after != head_mark:
                    heads_left -= 1
        only_head.sort(key=lambda c: (c.committed_at, c.seq))
        return only_head, merge_base

    def only_in(self, head: Commit, base: Commit) -> list[Commit]:
        """Commits reachable from head and not from base (git's `base..head`), oldest first."""
        return self._paint(head, base)[0]

    def merge_base(self, base: Commit, head: Commit) -> Commit | None:
        return self._paint(head, base)[1]

    def log(self, head: Commit, limit: int | None = None) -> list[Commit]:
        """`git log <head>`: its ancestry newest committer date first (equal dates: the first reached first),
        the first `limit` of it."""
        queue = [(-head.committed_at, 0, head)]
        seen = {head.sha}
        out: list[Commit] = []
        reached = 0
        while queue and (limit is None or len(out) < limit):
            _, _, commit = heapq.heappop(queue)
            out.append(commit)
            for sha in commit.parents:
                if sha not in seen:
                    seen.add(sha)
                    reached += 1
                    parent = self.commits[sha]
                    heapq.heappush(queue, (-parent.committed_at, reached, parent))
        return out

    def ancestry_size(self, head: Commit) -> int:
        """How many commits `git log <head>` lists (cached: a commit's ancestry never changes)."""
        sizes = self._ancestry_sizes
        if head.sha not in sizes:
            seen, stack = {head.sha}, [head]
            while stack:
                for sha in stack.pop().parents:
                    if sha not in seen:
                        seen.add(sha)
                        stack.append(self.commits[sha])
            sizes[head.sha] = len(seen)
        return sizes[head.sha]


class GitHubOrg:
    """All repositories of the organisation."""

    def __init__(self, org) -> None:
        self.org = org
        names = [org.config.service_name(i) for i in range(org.config.repositories)]
        self.repos = [Repo(org, index, name) for index, name in enumerate(names)]
        self.by_name = {repo.full_name.lower(): repo for repo in self.repos}

    def run_until(self, clock: float) -> None:
        for repo in self.repos:
            repo.loop.run_until(clock)

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.by_name.get(f"{owner}/{name}".lower())


CI_JOBS = (  # name, share of the attempt after `build`, steps
    ("build", 0.0, ("Set up job", "Checkout", "Install dependencies", "Build")),
    ("unit-tests", 0.55, ("Set up job", "Checkout", "Run unit tests")),
    ("integration-tests", 1.0, ("Set up job", "Checkout", "Start services", "Run integration tests")),
    ("security-scan", 0.4, ("Set up job", "Checkout", "Scan dependencies")),
)
DEPLOY_JOBS = (("deploy", 0.0, ("Set up job", "Checkout", "Deploy", "Health check")),)


def jobs_of_attempt(run, number: int, attempt: list) -> list[dict]:
    """The jobs of one attempt, drawn from the run id (the history does not move): `build` first, then the
    test and scan jobs side by side, each after a runner queue of seconds to a minute; the longest ends with
    the attempt. A failed CI attempt failed in `integration-tests` (the flaky one), the others passed."""
    rng = random.Random(run.id * 31 + number)
    started, completed, conclusion = attempt
    end = completed if completed is not None else max(started + 60, run.updated_at)
    span = max(end - started, 60)
    specs = CI_JOBS if run.name == "CI" else DEPLOY_JOBS
    build_end = started + int(span * (0.35 if len(specs) > 1 else 1.0))
    jobs = []
    for index, (name, share, steps) in enumerate(specs):
        if (
            index == 0
        ):  # queued with the run (a re-run: when it was asked for), picked up as the attempt starts
            created = run.created_at if number == 1 else started - rng.randint(5, 40)
            begin = started
        else:
            created = build_end
            begin = created + rng.randint(2, 60)
        finish = build_end if index == 0 else max(begin + 20, begin + int((end - begin) * share))
        if index == 0 and len(specs) == 1:
            finish = end
        done = completed is not None
        failed = done and conclusion == "failure" and (name == "integration-tests" or len(specs) == 1)
        outcome = ("failure" if failed else "success") if done else None
        step_times = [begin + (finish - begin) * i // len(steps) for i in range(len(steps) + 1)]
        jobs.append(
            {
                "id": run.id * 100 + number * 10 + index,
                "attempt": number,
                "name": name,
                "status": "completed" if done else "in_progress",
                "conclusion": outcome,
                "created_at": created,
                "started_at": begin,
                "completed_at": finish if done else None,
                "runner_id": 1000 + rng.randint(1, 40),
                "steps": [
                    {
                        "name": step,
                        "status": "completed" if done else "in_progress",
                        "conclusion": (
                            ("failure" if failed and i == len(steps) - 1 else "success") if done else None
                        ),
                        "started_at": step_times[i],
                        "completed_at": step_times[i + 1] if done else None,
                    }
                    for i, step in enumerate(steps)
                ],
            }
        )
    return jobs
