"""Configuration of the simulated organisation and of fault injection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

GITHUB_TOKEN = "sim-github-token"
JIRA_EMAIL = "simulator@example.com"
JIRA_API_TOKEN = "sim-jira-token"
PAGERDUTY_TOKEN = "sim-pagerduty-token"

SERVICE_NAMES = (
    "checkout",
    "payments",
    "search",
    "catalog",
    "accounts",
    "inventory",
    "shipping",
    "pricing",
    "notifications",
    "reviews",
    "recommendations",
    "gateway",
    "auth",
    "billing",
    "orders",
    "ledger",
)
JIRA_PROJECT_KEYS = ("PAY", "CORE", "WEB", "OPS", "DATA", "MOB", "PLAT", "SEC")


@dataclass(frozen=True)
class Faults:
    """Fault injection. Probabilities are drawn from a seeded generator, so runs repeat exactly.

    Each fault fires when its probability draw hits or on every `*_every`-th request (0 = never),
    for at most `fail_first_n` faulty answers in all (0 = unbounded), so a retrying client converges.
    `apis` limits faults to some of "github", "jira", "pagerduty" (empty = all).
    """

    seed: int = 0
    apis: tuple[str, ...] = ()
    rate_limit_probability: float = 0.0  # 429 with Retry-After
    rate_limit_every: int = 0
    secondary_rate_limit_probability: float = 0.0  # GitHub 403 "secondary rate limit"
    secondary_rate_limit_every: int = 0
    server_error_probability: float = 0.0  # 500 / 502 / 503 in turn
    server_error_every: int = 0
    timeout_probability: float = 0.0  # hold the answer `timeout_seconds` before sending it
    timeout_every: int = 0
    timeout_seconds: float = 2.0
    bad_json_probability: float = 0.0  # truncated or invalid JSON body with status 200
    bad_json_every: int = 0
    repeat_page_probability: float = 0.0  # a page answers with the previous page's items
    repeat_page_every: int = 0
    shifting_item_probability: float = 0.0  # an item is updated between two page requests
    shifting_item_every: int = 0
    retry_after_seconds: int = 1
    fail_first_n: int = 0


def _default_end() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class SimulatorConfig:
    """Size and shape of the synthetic organisation; same values and seed give the same data."""

    seed: int = 7
    repositories: int = 3
    services: int = 3  # PagerDuty services matching repositories (one extra unmatched service is added)
    days: int = 60
    deploys_per_day: float = 2.0
    incident_rate: float = 0.08  # share of successful production deployments that cause an incident
    jira_issues_per_project: int = 40
    jira_projects: int = 2
    end_at: datetime = field(default_factory=_default_end)
    owner: str = "acme"
    github_rate_limit: int = 5000  # requests per hour per token
    pagerduty_rate_limit: int = 960  # requests per minute per token
    jira_rate_limit: int = 0  # requests per minute (0 = unlimited)
    long_changelog_issues: int = 1  # issues per project with more than 100 changelog histories
    faults: Faults = field(default_factory=Faults)
    empty_repository: bool = False  # also serve <owner>/empty: no commits (409), no pulls (for client tests)
    # Production in two regions: each production deployment goes to <production>-eu, then the same sha to
    # <production>-us 10 to 40 minutes later (a rollout step of the same release).
    multi_region: bool = False
    # The first repository is a monorepo of two services, <name>-api and <name>-web: each production deployment
    # goes to api-production, then web-production (same sha, flagged production_environment), and each commit
    # changes files under services/api/, services/web/ or both (MONOREPO_SERVICES, the catalog rows to use).
    monorepo: bool = False
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(
        default_factory=dict
    )  # fixed ports per API ("github", ...); 0 or absent: free

    def __post_init__(self) -> None:
        if self.end_at.tzinfo is None:
            raise ValueError("SimulatorConfig.end_at must be timezone-aware (UTC)")
        self.end_at = self.end_at.astimezone(UTC)
        if self.repositories < 1 or self.days < 1:
            raise ValueError("SimulatorConfig needs at least one repository and one day")
        for name in (
            "services",
            "jira_issues_per_project",
            "github_rate_limit",
            "pagerduty_rate_limit",
            "jira_rate_limit",
            "long_changelog_issues",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"SimulatorConfig.{name} must not be negative, got {getattr(self, name)}")
        if self.deploys_per_day <= 0:
            raise ValueError(f"SimulatorConfig.deploys_per_day must be positive, got {self.deploys_per_day}")
        if not 0 <= self.incident_rate <= 1:
            raise ValueError(
                f"SimulatorConfig.incident_rate is a share between 0 and 1, got {self.incident_rate}"
            )
        if not 1 <= self.jira_projects <= len(JIRA_PROJECT_KEYS):
            raise ValueError(
                f"SimulatorConfig.jira_projects must be 1 to {len(JIRA_PROJECT_KEYS)}, got {self.jira_projects}"
            )

    def service_name(self, index: int) -> str:
        base = SERVICE_NAMES[index % len(SERVICE_NAMES)]
        return base if index < len(SERVICE_NAMES) else f"{base}-{index // len(SERVICE_NAMES) + 1}"
