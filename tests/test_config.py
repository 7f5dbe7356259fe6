"""Configuration: defaults, skipped sources, and a clear error naming the variable for every malformed value."""

from datetime import date
from pathlib import Path

import pytest

from doraflow.config import ConfigError, FlowSettings, Secret, load_settings, read_dotenv

TODAY = date(2026, 11, 26)
GITHUB = {"GITHUB_TOKEN": "gh-secret-value", "GITHUB_REPOS": "acme/api, acme/web"}
JIRA = {
    "JIRA_BASE_URL": "https://acme.atlassian.net",
    "JIRA_EMAIL": "bot@acme.dev",
    "JIRA_API_TOKEN": "jira-secret-value",
    "JIRA_PROJECTS": "PAY,CORE",
}
PAGERDUTY = {"PAGERDUTY_TOKEN": "pd-secret-value"}


def settings(**env):
    return load_settings(env, today=TODAY)


def test_defaults_with_every_source_configured():
    loaded = settings(**GITHUB, **JIRA, **PAGERDUTY)
    assert loaded.warehouse_path == Path("warehouse/dora.duckdb")
    assert loaded.landing_dir == Path("warehouse/landing")
    assert loaded.serving_path == Path("warehouse/dora_serving.duckdb")
    assert loaded.github.api_url == "https://api.github.com"
    assert loaded.github.repos == ("acme/api", "acme/web")
    assert loaded.jira.projects == ("PAY", "CORE")
    assert loaded.pagerduty.api_url == "https://api.pagerduty.com"
    assert loaded.pagerduty.service_ids == ()  # all services
    assert loaded.extract_start_date == date(2026, 5, 30)  # 180 days before 2026-11-26
    assert loaded.production_environment_pattern == "^prod(uction)?$"
    assert loaded.configured_sources == ("github", "jira", "pagerduty")
    assert loaded.skipped_sources == ()
    assert loaded.targets.change_failure_rate == 0.15


def test_source_with_missing_variables_is_skipped_with_one_line_each():
    loaded = settings(GITHUB_REPOS="acme/api", JIRA_BASE_URL="https://acme.atlassian.net")
    assert loaded.configured_sources == ()
    assert loaded.skipped_sources == (
        "github: skipped, GITHUB_TOKEN not set",
        "jira: skipped, JIRA_EMAIL, JIRA_API_TOKEN, JIRA_PROJECTS not set",
        "pagerduty: skipped, PAGERDUTY_TOKEN not set",
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GITHUB_API_URL", "ftp://api.github.com", "GITHUB_API_URL must be an https:// URL"),
        ("GITHUB_API_URL", "http://api.github.com", "GITHUB_API_URL must be an https:// URL"),
        ("JIRA_BASE_URL", "acme.atlassian.net", "JIRA_BASE_URL must be an https:// URL"),
        ("PAGERDUTY_API_URL", "https://", "PAGERDUTY_API_URL must be an https:// URL"),
        (
            "PRODUCTION_ENVIRONMENT_PATTERN",
            "prod(",
            "PRODUCTION_ENVIRONMENT_PATTERN is not a valid regular expression",
        ),
        ("HOTFIX_PATTERN", "[hotfix", "HOTFIX_PATTERN is not a valid regular expression"),
        ("EXTRACT_START_DATE", "2026-13-01", "EXTRACT_START_DATE must be an ISO date"),
        ("EXTRACT_START_DATE", "yesterday", "EXTRACT_START_DATE must be an ISO date"),
        ("EXTRACT_START_DATE", "2027-01-01", "EXTRACT_START_DATE must not be in the future"),
        ("GITHUB_REPOS", "acme", "GITHUB_REPOS entries must look like owner/name, got 'acme'"),
        ("GITHUB_REPOS", "acme/api/extra", "GITHUB_REPOS entries must look like owner/name"),
        ("GITHUB_REPOS", "acme/api,acme/api", "GITHUB_REPOS lists an entry twice"),
        ("JIRA_PROJECTS", "pay", "JIRA_PROJECTS entries must be project keys"),
        ("WAREHOUSE_TARGET", "sqlite", "WAREHOUSE_TARGET must be 'duckdb' or 'postgres'"),
        ("WAREHOUSE_TARGET", "postgres", "WAREHOUSE_POSTGRES_URL is not set"),
        ("WAREHOUSE_PATH", "warehouse/dora.db", "WAREHOUSE_PATH must name a .duckdb file"),
        ("REPORTING_TIMEZONE", "Mars/Olympus", "REPORTING_TIMEZONE must be an IANA time zone"),
        ("DORA_BENCHMARK_EDITION", "2022", "DORA_BENCHMARK_EDITION must be 2021, 2023 or 2024"),
        (
            "INCIDENT_ATTRIBUTION_WINDOW_HOURS",
            "1.5",
            "INCIDENT_ATTRIBUTION_WINDOW_HOURS must be a whole number",
        ),
        ("INCIDENT_ATTRIBUTION_WINDOW_HOURS", "0", "INCIDENT_ATTRIBUTION_WINDOW_HOURS must be at least 1"),
        ("EXTRACT_CONCURRENCY", "many", "EXTRACT_CONCURRENCY must be a whole number"),
        ("TARGET_CHANGE_FAILURE_RATE", "15", "TARGET_CHANGE_FAILURE_RATE is a share between 0 and 1"),
    ],
)
def test_malformed_value_names_the_variable(variable, value, message):
    with pytest.raises(ConfigError) as raised:
        settings(**{**GITHUB, **JIRA, **PAGERDUTY, variable: value})
    assert message in str(raised.value)


def test_http_is_accepted_for_loopback_only():
    loaded = settings(**GITHUB, GITHUB_API_URL="http://127.0.0.1:8080/")
    assert loaded.github.api_url == "http://127.0.0.1:8080"


def test_secrets_never_show_in_repr_or_str():
    loaded = settings(
        **GITHUB,
        **JIRA,
        **PAGERDUTY,
        WAREHOUSE_TARGET="postgres",
        WAREHOUSE_POSTGRES_URL="postgresql://u:pg-secret-value@db/dora",
    )
    text = repr(loaded) + str(loaded)
    for secret in ("gh-secret-value", "jira-secret-value", "pd-secret-value", "pg-secret-value"):
        assert secret not in text
    assert loaded.github.token.reveal() == "gh-secret-value"
    assert str(Secret("x")) == "Secret('***')"


def test_dotenv_file_is_read_and_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nexport GITHUB_TOKEN='from-file'\nGITHUB_REPOS=acme/api # trailing comment\n"
        'JIRA_EMAIL="a b@c.d"\n'
    )
    assert read_dotenv(dotenv) == {
        "GITHUB_TOKEN": "from-file",
        "GITHUB_REPOS": "acme/api",
        "JIRA_EMAIL": "a b@c.d",
    }
    from doraflow.config import environment

    merged = environment({"GITHUB_TOKEN": "from-env"}, dotenv=dotenv)
    assert merged["GITHUB_TOKEN"] == "from-env"
    assert merged["GITHUB_REPOS"] == "acme/api"


def test_dotenv_syntax_error_names_file_and_line(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GITHUB_TOKEN=x\nthis line is wrong\n")
    with pytest.raises(ConfigError, match=r"\.env:2: expected KEY=VALUE"):
        read_dotenv(dotenv)


def test_dbt_vars_carry_the_metric_settings():
    loaded = settings(INCIDENT_ATTRIBUTION_WINDOW_HOURS="12", PRODUCTION_ENVIRONMENT_PATTERN="^live$")
    assert loaded.dbt_vars() == {
        "production_environment_pattern": "^live$",
        "hotfix_pattern": "(?i)hotfix",
        "incident_attribution_window_hours": 12,
        "reporting_timezone": "UTC",
        "benchmark_edition": "2023",
        **FlowSettings().dbt_vars(),  # the flow settings' defaults (tests/test_flow_marts.py)
    }
