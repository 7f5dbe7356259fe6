"""Configuration from environment variables (12-factor), also read from a `.env` file.

Every value is validated before any request is made: a malformed value raises
`ConfigError` naming the variable, what was expected and what was found. Tokens are
wrapped in `Secret`, whose repr and str never show the value.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_WAREHOUSE_PATH = "warehouse/dora.duckdb"
DEFAULT_PRODUCTION_PATTERN = r"^prod(uction)?([-_/ .].*)?$"  # production-eu, prod_us, production/blue
DEFAULT_REWORK_ISSUE_TYPES = ("Bug", "Incident")
DEFAULT_HOTFIX_PATTERN = r"(?i)hotfix"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
EARLIEST_START_DATE = date(1970, 1, 1)  # no source holds older objects; epoch-ms timestamps start here
MAX_ATTRIBUTION_WINDOW_HOURS = 366 * 24  # a year: beyond it every incident is blamed on something
DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


class Secret:
    """A credential. Its value is only reachable through `.reveal()`, never by printing."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


GITHUB_API_MODES = ("auto", "graphql", "rest")


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str
    token: Secret
    repos: tuple[str, ...]
    api_mode: str = "auto"  # GITHUB_API_MODE: graphql | rest | auto (GraphQL, REST when /graphql is refused)
    # GITHUB_PULL_REQUEST_DETAILS: over REST, lines changed and ready-for-review events cost 2 requests per PR
    # (GraphQL fetches them with the reviews query whatever this says)
    pull_request_details: bool = False
    ci_jobs: bool = (
        False  # GITHUB_CI_JOBS: the jobs and steps of each completed workflow run (1 request per run)
    )


@dataclass(frozen=True)
class JiraSettings:
    base_url: str
    email: str
    api_token: Secret
    projects: tuple[str, ...]


@dataclass(frozen=True)
class PagerDutySettings:
    api_url: str
    token: Secret
    service_ids: tuple[str, ...]  # empty means every service of the account


@dataclass(frozen=True)
class Targets:
    """The team's goals, shown as met or missed in the report."""

    deployments_per_day: float = 2.0
    lead_time_minutes: float = 60.0
    change_failure_rate: float = 0.15
    time_to_restore_minutes: float = 60.0


@dataclass(frozen=True)
class QualityThresholds:
    """The marts gate's warning thresholds (docs/quality.md)."""

    min_coverage: float = 0.5  # QUALITY_MIN_COVERAGE: default floor of every coverage share
    per_share: tuple[tuple[str, float], ...] = ()  # QUALITY_MIN_COVERAGE_<MEASURE>
    volume_tolerance: float = 0.5  # QUALITY_VOLUME_TOLERANCE: allowed relative change vs the median
    volume_history_runs: int = 7  # QUALITY_VOLUME_HISTORY_RUNS: recent runs that form the trend

    def coverage_floor(self, column: str) -> float:
        return dict(self.per_share).get(column, self.min_coverage)


@dataclass(frozen=True)
class FlowSettings:
    """The flow marts' settings (docs/metrics.md, Flow); each is a dbt var of the same name in lowercase."""

    staging_environment_pattern: str = r"^(stag(e|ing)|pre-?prod|uat)"
    deployment_bot_login_pattern: str = r"(\[bot\]$|^bot[-_]|[-_]bot$|^github-actions)"
    long_lived_pull_request_days: float = 7.0
    ci_feedback_threshold_minutes: float = 10.0
    time_to_detect_threshold_minutes: float = 60.0
    manual_deployment_share_threshold: float = 0.2
    staging_bypass_rate_threshold: float = 0.0
    batch_changes_threshold: float = 10.0
    incidents_handled_outside_share_threshold: float = 0.25
    reviews_inside_team_share_threshold: float = 0.9
    baseline_days: int = 30
    baseline_start_date: date | None = None
    regression_threshold: float = 0.2

    def dbt_vars(self) -> dict[str, object]:
        return {
            "staging_environment_pattern": self.staging_environment_pattern,
            "deployment_bot_login_pattern": self.deployment_bot_login_pattern,
            "flow_long_lived_pull_request_days": self.long_lived_pull_request_days,
            "flow_ci_feedback_threshold_minutes": self.ci_feedback_threshold_minutes,
            "flow_time_to_detect_threshold_minutes": self.time_to_detect_threshold_minutes,
            "flow_manual_deployment_share_threshold": self.manual_deployment_share_threshold,
            "flow_staging_bypass_rate_threshold": self.staging_bypass_rate_threshold,
            "flow_batch_changes_threshold": self.batch_changes_threshold,
            "flow_incidents_handled_outside_share_threshold": self.incidents_handled_outside_share_threshold,
            "flow_reviews_inside_team_share_threshold": self.reviews_inside_team_share_threshold,
            "dora_baseline_days": self.baseline_days,
            "dora_baseline_start_date": self.baseline_start_date.isoformat()
            if self.baseline_start_date
            else "",
            "dora_regression_threshold": self.regression_threshold,
        }


@dataclass(frozen=True)
class Settings:
    warehouse_path: Path
    warehouse_target: str  # 'duckdb' or 'postgres'
    postgres_url: Secret | None
    github: GitHubSettings | None
    jira: JiraSettings | None
    pagerduty: PagerDutySettings | None
    extract_start_date: date
    production_environment_pattern: str
    hotfix_pattern: str
    incident_attribution_window_hours: int
    reporting_timezone: str
    benchmark_edition: str
    extract_concurrency: int
    http_timeout_seconds: float
    http_max_retries: int
    rate_limit_max_wait_seconds: float
    targets: Targets = field(default_factory=Targets)
    skipped_sources: tuple[str, ...] = ()  # one line each: why a source is not configured
    service_catalog_path: Path | None = None
    service_catalog: tuple = ()  # doraflow.service_catalog.CatalogEntry rows of service_catalog_path
    team_members_path: Path | None = None
    team_members: tuple = ()  # doraflow.team_members.TeamMember rows of team_members_path
    duckdb_memory_limit: str | None = None  # e.g. '4GB' or '50%'; None: DuckDB's default (80% of RAM)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    alert_webhook_url: Secret | None = None  # may hold a token: never logged
    use_github_production_flag: bool = True  # GitHub's `production_environment: true` also marks production
    rework_issue_types: tuple[str, ...] = (
        DEFAULT_REWORK_ISSUE_TYPES  # Jira issue types of the defect-key rule
    )
    # The day the marts treat as today (their grid's last day); None: the build's own current date. Set only
    # when load_settings is given `today` (tests, replays), so a scheduler never freezes a parse-time date.
    as_of_date: date | None = None
    extract_start_date_is_set: bool = (
        False  # EXTRACT_START_DATE given (else extract_start_date is its default)
    )
    flow: FlowSettings = field(default_factory=FlowSettings)
    # TRANSFORM_SKIP_UNCHANGED: skip the dbt build when nothing changed since the last one (doraflow.transform).
    transform_skip_unchanged: bool = True

    @property
    def warehouse_dir(self) -> Path:
        return self.warehouse_path.parent

    @property
    def landing_dir(self) -> Path:
        """Immutable extracted batches, one file per stream and batch (replayable)."""
        return self.warehouse_dir / "landing"

    @property
    def serving_path(self) -> Path:
        """Read-only copy of the marts for BI tools, replaced atomically after each good run."""
        return self.warehouse_dir / "dora_serving.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.warehouse_dir / "exports"

    @property
    def report_path(self) -> Path:
        return self.warehouse_dir / "dora_report.html"

    @property
    def data_docs_dir(self) -> Path:
        return self.warehouse_dir / "data_docs"

    @property
    def configured_sources(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, value in (
                ("github", self.github),
                ("jira", self.jira),
                ("pagerduty", self.pagerduty),
            )
            if value is not None
        )

    def dbt_vars(self) -> dict[str, object]:
        """The settings the dbt models read as `var()`s."""
        return {
            "production_environment_pattern": self.production_environment_pattern,
            "hotfix_pattern": self.hotfix_pattern,
            "incident_attribution_window_hours": self.incident_attribution_window_hours,
            "reporting_timezone": self.reporting_timezone,
            "benchmark_edition": self.benchmark_edition,
            "use_github_production_flag": self.use_github_production_flag,
            "rework_issue_types": ",".join(self.rework_issue_types),
            # unset: the dbt project anchors the window on the first load (int_reporting_window), not on a date
            # that moves with each run
            "extract_start_date": self.extract_start_date.isoformat()
            if self.extract_start_date_is_set
            else "",
            "as_of_date": self.as_of_date.isoformat() if self.as_of_date else "",
            **self.flow.dbt_vars(),
        }


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a `.env` file: KEY=VALUE lines, `#` comments, optional `export ` and quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw_line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE, got {raw_line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


def environment(env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """The effective variables: the `.env` file first, real environment variables win."""
    merged = read_dotenv(dotenv if dotenv is not None else Path.cwd() / ".env")
    merged.update(os.environ if env is None else env)
    return merged


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _url(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = _get(env, name) or default
    if value is None:
        return None
    try:
        parsed = urlparse(value)
        parsed.port  # noqa: B018 - raises ValueError for a port outside 0-65535 or not a number
    except ValueError:
        raise ConfigError(
            f"{name} must be a well-formed https:// URL (host, and a port from 1 to 65535), got {value!r}"
        ) from None
    host = (parsed.hostname or "").lower()
    if parsed.port == 0:
        raise ConfigError(
            f"{name} must be a well-formed https:// URL (host, and a port from 1 to 65535), got {value!r}"
        )
    if parsed.scheme == "https" and host:
        return value.rstrip("/")
    if parsed.scheme == "http" and host in LOOPBACK_HOSTS:
        return value.rstrip("/")  # the bundled simulator serves plain HTTP on loopback only
    raise ConfigError(f"{name} must be an https:// URL (http:// only for localhost), got {value!r}")


def _list(env: Mapping[str, str], name: str, *, case_insensitive: bool = False) -> tuple[str, ...]:
    value = _get(env, name)
    if value is None:
        return ()
    items = tuple(part.strip() for part in value.split(",") if part.strip())
    seen: dict[str, str] = {}
    for item in items:
        key = item.casefold() if case_insensitive else item
        if key in seen:
            if seen[key] == item:
                raise ConfigError(f"{name} lists an entry twice: {value!r}")
            raise ConfigError(
                f"{name} lists {seen[key]!r} and {item!r}, the same entry in two spellings"
                " (names are case-insensitive): keep one"
            )
        seen[key] = item
    return items


# Constructs Python and RE2 (DuckDB) accept but PostgreSQL's regular expressions (ARE) refuse or read
# differently: the marts must be the same on both targets, so a pattern must mean the same in both engines.
_POSTGRES_UNSUPPORTED = (
    (
        re.compile(r"\(\?P?<[A-Za-z_]"),
        "named groups (?P<name>...), which PostgreSQL's regular expressions reject",
    ),
    (
        re.compile(r"(?<!\\)(\\\\)*\\[bB]"),
        "\\b or \\B, which PostgreSQL reads as a backspace or a backslash, not a word boundary;"
        " use ([^A-Za-z0-9_]|^) instead",
    ),
)


def _regex(env: Mapping[str, str], name: str, default: str) -> str:
    """A pattern the dbt models match with DuckDB's regexp engine (RE2) or PostgreSQL's (ARE)."""
    value = _get(env, name) or default
    try:
        re.compile(value)
    except re.error as error:
        raise ConfigError(f"{name} is not a valid regular expression ({error}): {value!r}") from None
    if value == default:
        return value
    error = _duckdb_regex_error(value)
    if error:
        raise ConfigError(
            f"{name} is not a regular expression DuckDB (RE2) accepts ({error}): {value!r};"
            " lookarounds like (?=...) and backreferences like \\1 are not supported"
        )
    for construct, what in _POSTGRES_UNSUPPORTED:
        if construct.search(value):
            raise ConfigError(f"{name} uses {what}: {value!r}")
    return value


@functools.lru_cache(maxsize=32)  # settings are loaded more than once per process (CLI, DAG parse)
def _duckdb_regex_error(pattern: str) -> str | None:
    import duckdb

    try:
        duckdb.connect().execute("select regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as error:
        return str(error).removeprefix("Invalid Input Error: ")
    return None


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    integer: bool = False,
    maximum: float | None = None,
):
    value = _get(env, name)
    if value is None:
        return default
    kind = "a whole number" if integer else "a number"
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, got {value!r}") from None
    if not math.isfinite(number):  # nan compares false with every bound: it would disable the limit
        raise ConfigError(f"{name} must be {kind} (not nan or inf), got {value!r}")
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value!r}")
    return number


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _get(env, name)
    if value is None:
        return default
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _memory_limit(env: Mapping[str, str]) -> str | None:
    value = _get(env, "DUCKDB_MEMORY_LIMIT")
    if value is None:
        return None
    expected = "DUCKDB_MEMORY_LIMIT must be a size like 4GB or 512MiB, or a share like 50%"
    form = re.fullmatch(r"(\d+(\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)", value, re.IGNORECASE)
    if not form:
        raise ConfigError(f"{expected}, got {value!r}")
    amount, unit = float(form.group(1)), form.group(3)
    if amount <= 0 or (unit == "%" and amount > 100):
        raise ConfigError(
            f"{expected}, more than zero and a share at most 100% (unset it for DuckDB's default of 80%),"
            f" got {value!r}"
        )
    import duckdb

    try:  # DuckDB parses it itself: what it refuses here it would refuse at every connection
        duckdb.connect().execute(f"set memory_limit = '{value}'")
    except duckdb.Error as error:
        raise ConfigError(f"{expected}; DuckDB refuses {value!r}: {error}") from None
    return value


def _postgres_url(env: Mapping[str, str]) -> str | None:
    value = _get(env, "WAREHOUSE_POSTGRES_URL")
    if value is None:
        return None
    hint = "postgresql://user:password@host:5432/database"
    if value.partition("://")[0] not in ("postgresql", "postgres"):
        raise ConfigError(f"WAREHOUSE_POSTGRES_URL must start with postgresql://, like {hint}")
    import psycopg2.extensions

    try:  # libpq's own parser; its message would quote the URL and its password, so it is not shown
        parts = psycopg2.extensions.parse_dsn(value)
    except psycopg2.ProgrammingError:
        raise ConfigError(f"WAREHOUSE_POSTGRES_URL is not a URL libpq can read; expected {hint}") from None
    for port in (parts.get("port") or "").split(","):
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(
                f"WAREHOUSE_POSTGRES_URL has port {port!r}: a port is a number from 1 to 65535 (default 5432)"
            )
    return value


def _reporting_timezone(env: Mapping[str, str]) -> str:
    value = _get(env, "REPORTING_TIMEZONE") or "UTC"
    message = (
        f"REPORTING_TIMEZONE must be an IANA time zone like Europe/Paris that DuckDB and PostgreSQL know,"
        f" got {value!r}"
    )
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(message) from None
    if value != "UTC" and value not in _duckdb_time_zones():
        raise ConfigError(message)  # e.g. 'posixrules': a tzdata file, not a zone
    return value


@functools.lru_cache(maxsize=1)
def _duckdb_time_zones() -> frozenset[str]:
    """The zones DuckDB's ICU knows (PostgreSQL's pg_timezone_names holds these too)."""
    import duckdb

    return frozenset(
        r[0] for r in duckdb.connect().execute("select name from pg_timezone_names()").fetchall()
    )


def _warehouse_path(env: Mapping[str, str]) -> Path:
    warehouse_path = Path(_get(env, "WAREHOUSE_PATH") or DEFAULT_WAREHOUSE_PATH)
    if warehouse_path.suffix != ".duckdb":
        raise ConfigError(f"WAREHOUSE_PATH must name a .duckdb file, got {str(warehouse_path)!r}")
    return warehouse_path


def _refuse_serving_copy_as_warehouse(settings: Settings) -> None:
    """Publishing replaces the serving copy: a warehouse at that path would lose raw at every run."""
    warehouse, serving = settings.warehouse_path, settings.serving_path
    if warehouse == serving or warehouse.resolve() == serving.resolve():
        raise ConfigError(
            f"WAREHOUSE_PATH {str(warehouse)!r} is the serving copy's path, which every publish replaces;"
            f" name another file, e.g. {str(warehouse.with_name('dora.duckdb'))!r}"
        )


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not 0 <= value <= 1:  # also false for nan
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}")
    return value


COVERAGE_PREFIX = "QUALITY_MIN_COVERAGE_"


def coverage_measures(project_dir: Path = DBT_PROJECT_DIR) -> tuple[str, ...]:
    """The measures of marts.dora_coverage: each `select 'name'` of the model's union."""
    model = project_dir / "models" / "marts" / "dora_coverage.sql"
    return tuple(re.findall(r"\bselect\s+'([a-z0-9_]+)'", model.read_text(encoding="utf-8"), re.IGNORECASE))


def quality_thresholds(env: Mapping[str, str]) -> QualityThresholds:
    known = coverage_measures()
    per_share = []
    for name in sorted(env):
        if not name.startswith(COVERAGE_PREFIX):
            continue
        measure = name.removeprefix(COVERAGE_PREFIX).lower()
        if measure not in known:
            names = ", ".join(COVERAGE_PREFIX + m.upper() for m in known)
            raise ConfigError(f"{name} names no coverage measure; known: {names}")
        per_share.append((measure, _share(env, name, 0.0)))
    return QualityThresholds(
        min_coverage=_share(env, "QUALITY_MIN_COVERAGE", 0.5),
        per_share=tuple(per_share),
        volume_tolerance=_share(env, "QUALITY_VOLUME_TOLERANCE", 0.5),
        volume_history_runs=_number(env, "QUALITY_VOLUME_HISTORY_RUNS", 7, minimum=1, integer=True),
    )


def _alert_webhook_url(env: Mapping[str, str]) -> Secret | None:
    value = _get(env, "ALERT_WEBHOOK_URL")
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        # the URL may hold a token: never quote it
        raise ConfigError(
            "ALERT_WEBHOOK_URL must be an http(s):// URL (its value is not shown: it may hold a token)"
        )
    return Secret(value)


def _service_catalog(env: Mapping[str, str]) -> tuple[Path | None, tuple]:
    value = _get(env, "SERVICE_CATALOG_PATH")
    if value is None:
        return None, ()
    from doraflow.service_catalog import read_service_catalog  # it imports ConfigError from here

    path = Path(value).expanduser()
    return path, read_service_catalog(path)


def _team_members(env: Mapping[str, str]) -> tuple[Path | None, tuple]:
    value = _get(env, "TEAM_MEMBERS_PATH")
    if value is None:
        return None, ()
    from doraflow.team_members import read_team_members  # it imports ConfigError from here

    path = Path(value).expanduser()
    return path, read_team_members(path)


def _start_date(env: Mapping[str, str], today: date) -> date:
    value = _get(env, "EXTRACT_START_DATE")
    if value is None:
        return today - timedelta(days=180)
    try:
        start = date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"EXTRACT_START_DATE must be an ISO date like 2024-01-31, got {value!r}") from None
    if start > today:
        raise ConfigError(f"EXTRACT_START_DATE must not be in the future, got {value!r}")
    if start < EARLIEST_START_DATE:
        raise ConfigError(
            f"EXTRACT_START_DATE must be on or after {EARLIEST_START_DATE.isoformat()}"
            f" (no source holds older objects), got {value!r}"
        )
    return start


def _incomplete(source: str, missing: list[str]) -> str:
    return f"{source}: skipped, {', '.join(missing)} not set"


def _github(env: Mapping[str, str], skipped: list[str]) -> GitHubSettings | None:
    api_url = _url(env, "GITHUB_API_URL", "https://api.github.com")
    repos = _list(env, "GITHUB_REPOS", case_insensitive=True)  # GitHub names ignore case
    for repo in repos:
        owner, slash, name = repo.partition("/")
        if not slash or not owner or not name or "/" in name:
            raise ConfigError(f"GITHUB_REPOS entries must look like owner/name, got {repo!r}")
    token = _get(env, "GITHUB_TOKEN")
    api_mode = (_get(env, "GITHUB_API_MODE") or "auto").lower()
    if api_mode not in GITHUB_API_MODES:
        raise ConfigError(
            f"GITHUB_API_MODE must be one of {', '.join(GITHUB_API_MODES)}, got {_get(env, 'GITHUB_API_MODE')!r}"
        )
    missing = [name for name, value in (("GITHUB_TOKEN", token), ("GITHUB_REPOS", repos)) if not value]
    if missing:
        skipped.append(_incomplete("github", missing))
        return None
    return GitHubSettings(
        api_url=api_url,
        token=Secret(token),
        repos=repos,
        api_mode=api_mode,
        pull_request_details=_flag(env, "GITHUB_PULL_REQUEST_DETAILS", False),
        ci_jobs=_flag(env, "GITHUB_CI_JOBS", False),
    )


def _jira(env: Mapping[str, str], skipped: list[str]) -> JiraSettings | None:
    base_url = _url(env, "JIRA_BASE_URL")
    projects = _list(env, "JIRA_PROJECTS")
    for key in projects:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]+", key):
            raise ConfigError(f"JIRA_PROJECTS entries must be project keys like ABC, got {key!r}")
    email = _get(env, "JIRA_EMAIL")
    token = _get(env, "JIRA_API_TOKEN")
    required = (
        ("JIRA_BASE_URL", base_url),
        ("JIRA_EMAIL", email),
        ("JIRA_API_TOKEN", token),
        ("JIRA_PROJECTS", projects),
    )
    missing = [name for name, value in required if not value]
    if missing:
        skipped.append(_incomplete("jira", missing))
        return None
    return JiraSettings(base_url=base_url, email=email, api_token=Secret(token), projects=projects)


def _pagerduty(env: Mapping[str, str], skipped: list[str]) -> PagerDutySettings | None:
    api_url = _url(env, "PAGERDUTY_API_URL", "https://api.pagerduty.com")
    service_ids = _list(env, "PAGERDUTY_SERVICE_IDS")
    token = _get(env, "PAGERDUTY_TOKEN")
    if not token:
        skipped.append(_incomplete("pagerduty", ["PAGERDUTY_TOKEN"]))
        return None
    return PagerDutySettings(api_url=api_url, token=Secret(token), service_ids=service_ids)


def _flow(env: Mapping[str, str]) -> FlowSettings:
    defaults = FlowSettings()
    start = _get(env, "DORA_BASELINE_START_DATE")
    try:
        baseline_start = date.fromisoformat(start) if start else None
    except ValueError:
        raise ConfigError(f"DORA_BASELINE_START_DATE must be a date like 2024-01-31, got {start!r}") from None
    return FlowSettings(
        staging_environment_pattern=_regex(
            env, "STAGING_ENVIRONMENT_PATTERN", defaults.staging_environment_pattern
        ),
        deployment_bot_login_pattern=_regex(
            env, "DEPLOYMENT_BOT_LOGIN_PATTERN", defaults.deployment_bot_login_pattern
        ),
        long_lived_pull_request_days=_number(
            env, "FLOW_LONG_LIVED_PULL_REQUEST_DAYS", defaults.long_lived_pull_request_days, minimum=0
        ),
        ci_feedback_threshold_minutes=_number(
            env, "FLOW_CI_FEEDBACK_THRESHOLD_MINUTES", defaults.ci_feedback_threshold_minutes, minimum=0
        ),
        time_to_detect_threshold_minutes=_number(
            env, "FLOW_TIME_TO_DETECT_THRESHOLD_MINUTES", defaults.time_to_detect_threshold_minutes, minimum=0
        ),
        manual_deployment_share_threshold=_share(
            env, "FLOW_MANUAL_DEPLOYMENT_SHARE_THRESHOLD", defaults.manual_deployment_share_threshold
        ),
        staging_bypass_rate_threshold=_share(
            env, "FLOW_STAGING_BYPASS_RATE_THRESHOLD", defaults.staging_bypass_rate_threshold
        ),
        batch_changes_threshold=_number(
            env, "FLOW_BATCH_CHANGES_THRESHOLD", defaults.batch_changes_threshold, minimum=0
        ),
        incidents_handled_outside_share_threshold=_share(
            env,
            "FLOW_INCIDENTS_HANDLED_OUTSIDE_SHARE_THRESHOLD",
            defaults.incidents_handled_outside_share_threshold,
        ),
        reviews_inside_team_share_threshold=_share(
            env, "FLOW_REVIEWS_INSIDE_TEAM_SHARE_THRESHOLD", defaults.reviews_inside_team_share_threshold
        ),
        baseline_days=_number(env, "DORA_BASELINE_DAYS", defaults.baseline_days, minimum=1, integer=True),
        baseline_start_date=baseline_start,
        regression_threshold=_number(
            env, "DORA_REGRESSION_THRESHOLD", defaults.regression_threshold, minimum=0
        ),
    )


def load_settings(env: Mapping[str, str] | None = None, *, today: date | None = None) -> Settings:
    """Read and validate every setting. `env` defaults to `.env` + the process environment.

    `today` pins the date (tests, replays): the marts' grid ends that day and their "now" is the end of it
    (dbt var `as_of_date`).
    """
    env = environment() if env is None else env
    as_of_date = today
    today = today or datetime.now(UTC).date()
    skipped: list[str] = []

    target = (_get(env, "WAREHOUSE_TARGET") or "duckdb").lower()
    if target not in ("duckdb", "postgres"):
        raise ConfigError(f"WAREHOUSE_TARGET must be 'duckdb' or 'postgres', got {target!r}")
    postgres_url = _postgres_url(env)
    if target == "postgres" and postgres_url is None:
        raise ConfigError("WAREHOUSE_TARGET is 'postgres' but WAREHOUSE_POSTGRES_URL is not set")

    warehouse_path = _warehouse_path(env)
    reporting_timezone = _reporting_timezone(env)

    edition = _get(env, "DORA_BENCHMARK_EDITION") or "2023"
    if edition not in ("2021", "2023", "2024"):
        raise ConfigError(f"DORA_BENCHMARK_EDITION must be 2021, 2023 or 2024, got {edition!r}")

    targets = Targets(
        deployments_per_day=_number(env, "TARGET_DEPLOYMENTS_PER_DAY", 2.0, minimum=0),
        lead_time_minutes=_number(env, "TARGET_LEAD_TIME_MINUTES", 60.0, minimum=0),
        change_failure_rate=_number(env, "TARGET_CHANGE_FAILURE_RATE", 0.15, minimum=0),
        time_to_restore_minutes=_number(env, "TARGET_TIME_TO_RESTORE_MINUTES", 60.0, minimum=0),
    )
    if targets.change_failure_rate > 1:
        raise ConfigError("TARGET_CHANGE_FAILURE_RATE is a share between 0 and 1, e.g. 0.15")

    service_catalog_path, service_catalog = _service_catalog(env)
    team_members_path, team_members = _team_members(env)

    settings = Settings(
        warehouse_path=warehouse_path,
        warehouse_target=target,
        postgres_url=Secret(postgres_url) if postgres_url else None,
        github=_github(env, skipped),
        jira=_jira(env, skipped),
        pagerduty=_pagerduty(env, skipped),
        extract_start_date=_start_date(env, today),
        production_environment_pattern=_regex(
            env, "PRODUCTION_ENVIRONMENT_PATTERN", DEFAULT_PRODUCTION_PATTERN
        ),
        hotfix_pattern=_regex(env, "HOTFIX_PATTERN", DEFAULT_HOTFIX_PATTERN),
        incident_attribution_window_hours=_number(
            env,
            "INCIDENT_ATTRIBUTION_WINDOW_HOURS",
            24,
            minimum=1,
            integer=True,
            maximum=MAX_ATTRIBUTION_WINDOW_HOURS,
        ),
        reporting_timezone=reporting_timezone,
        benchmark_edition=edition,
        extract_concurrency=_number(env, "EXTRACT_CONCURRENCY", 4, minimum=1, integer=True),
        http_timeout_seconds=_number(env, "HTTP_TIMEOUT_SECONDS", 30.0, minimum=0.1),
        http_max_retries=_number(env, "HTTP_MAX_RETRIES", 5, minimum=0, integer=True),
        rate_limit_max_wait_seconds=_number(env, "RATE_LIMIT_MAX_WAIT_SECONDS", 900.0, minimum=0),
        targets=targets,
        skipped_sources=tuple(skipped),
        service_catalog_path=service_catalog_path,
        service_catalog=service_catalog,
        team_members_path=team_members_path,
        team_members=team_members,
        duckdb_memory_limit=_memory_limit(env),
        quality=quality_thresholds(env),
        alert_webhook_url=_alert_webhook_url(env),
        use_github_production_flag=_flag(env, "USE_GITHUB_PRODUCTION_FLAG", True),
        rework_issue_types=_list(env, "REWORK_ISSUE_TYPES") or DEFAULT_REWORK_ISSUE_TYPES,
        as_of_date=as_of_date,
        extract_start_date_is_set=_get(env, "EXTRACT_START_DATE") is not None,
        flow=_flow(env),
        transform_skip_unchanged=_flag(env, "TRANSFORM_SKIP_UNCHANGED", True),
    )
    _refuse_serving_copy_as_warehouse(settings)
    return settings
