"""Configuration: defaults, skipped sources, and a clear error naming the variable for every malformed value."""

import re
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
    assert loaded.production_environment_pattern == "^prod(uction)?([-_/ .].*)?$"
    assert loaded.use_github_production_flag is True
    assert loaded.rework_issue_types == ("Bug", "Incident")
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
        "use_github_production_flag": True,
        "rework_issue_types": "Bug,Incident",
        "extract_start_date": "",  # not set: dbt anchors the grid on the first load, not on a moving default
        "as_of_date": "2026-11-26",  # TODAY was given: the grid's last day
        **FlowSettings().dbt_vars(),  # the flow settings' defaults (tests/test_flow_marts.py)
    }
    assert settings(EXTRACT_START_DATE="2026-01-31").dbt_vars()["extract_start_date"] == "2026-01-31"
    # Without a given day the build uses its own current date (a scheduler must not freeze a parse-time one).
    assert load_settings({}).dbt_vars()["as_of_date"] == ""


# Values Python accepts but the engine that uses them does not (issue 11, item 9): one test per case, each
# stopping load_settings before any request with a line naming the variable and the fix.


def refused(**env) -> str:
    with pytest.raises(ConfigError) as raised:
        settings(**{**GITHUB, **env})
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_lookahead_pattern_is_refused_because_duckdb_re2_rejects_it():
    message = refused(PRODUCTION_ENVIRONMENT_PATTERN="(?=prod)")
    assert message.startswith(
        "PRODUCTION_ENVIRONMENT_PATTERN is not a regular expression DuckDB (RE2) accepts"
    )
    assert "lookarounds" in message


def test_backreference_pattern_is_refused_because_duckdb_re2_rejects_it():
    assert refused(HOTFIX_PATTERN=r"(hot)fix-\1").startswith(
        "HOTFIX_PATTERN is not a regular expression DuckDB"
    )


def test_pattern_postgresql_rejects_is_refused():
    assert "PostgreSQL" in refused(HOTFIX_PATTERN="(?P<kind>hotfix)")
    assert "PostgreSQL" in refused(HOTFIX_PATTERN=r"\bhotfix\b")
    assert refused(PRODUCTION_ENVIRONMENT_PATTERN=r"^prod\B").startswith(
        "PRODUCTION_ENVIRONMENT_PATTERN uses \\b or \\B, which PostgreSQL reads as a backspace"
    )
    assert (
        settings(HOTFIX_PATTERN=r"hot\\bfix").hotfix_pattern == r"hot\\bfix"
    )  # an escaped backslash, then b


def test_patterns_both_engines_accept_pass():
    loaded = settings(
        PRODUCTION_ENVIRONMENT_PATTERN="^(live|prod[-_].*)$", HOTFIX_PATTERN="(?i)^(hot)?fix[/-]"
    )
    assert loaded.production_environment_pattern == "^(live|prod[-_].*)$"


def test_posixrules_is_not_a_time_zone_duckdb_knows():
    message = refused(REPORTING_TIMEZONE="posixrules")
    assert message.startswith("REPORTING_TIMEZONE must be an IANA time zone like Europe/Paris that DuckDB")
    assert settings(REPORTING_TIMEZONE="America/New_York").reporting_timezone == "America/New_York"


def test_attribution_window_beyond_a_year_is_refused_before_it_overflows():
    message = refused(INCIDENT_ATTRIBUTION_WINDOW_HOURS="2147483648")
    assert message == "INCIDENT_ATTRIBUTION_WINDOW_HOURS must be at most 8784, got '2147483648'"
    assert settings(INCIDENT_ATTRIBUTION_WINDOW_HOURS="8784").incident_attribution_window_hours == 8784


def test_zero_memory_limit_is_refused():
    for value in ("0GB", "0%", "0.0MiB"):
        assert refused(DUCKDB_MEMORY_LIMIT=value) == (
            "DUCKDB_MEMORY_LIMIT must be a size like 4GB or 512MiB, or a share like 50%, more than zero and a share"
            f" at most 100% (unset it for DuckDB's default of 80%), got '{value}'"
        )
    assert settings(DUCKDB_MEMORY_LIMIT="512MiB").duckdb_memory_limit == "512MiB"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_http_timeout_must_be_finite(value):
    assert refused(HTTP_TIMEOUT_SECONDS=value).startswith(
        "HTTP_TIMEOUT_SECONDS must be a number (not nan or inf)"
    )


def test_rate_limit_wait_nan_is_refused_instead_of_disabling_the_cap():
    assert refused(RATE_LIMIT_MAX_WAIT_SECONDS="nan").startswith(
        "RATE_LIMIT_MAX_WAIT_SECONDS must be a number"
    )


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("postgresql://u:pw-secret@db:99999/dora", "99999"),
        ("postgresql://u:pw-secret@db:0/dora", "0"),
        ("postgresql://u:pw-secret@db:54x2/dora", "54x2"),
    ],
)
def test_postgres_url_with_a_bad_port_is_refused_without_showing_the_password(url, port):
    message = refused(WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=url)
    assert message.startswith(f"WAREHOUSE_POSTGRES_URL has port '{port}': a port is a number from 1 to 65535")
    assert "pw-secret" not in message


def test_postgres_url_libpq_cannot_read_is_refused_without_showing_the_password():
    message = refused(
        WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL="postgresql://u:pw-secret@[::1/dora"
    )
    assert message.startswith("WAREHOUSE_POSTGRES_URL is not a URL libpq can read")
    assert "pw-secret" not in message


def test_start_date_before_1970_is_refused():
    message = refused(EXTRACT_START_DATE="0999-12-31")
    assert (
        message
        == "EXTRACT_START_DATE must be on or after 1970-01-01 (no source holds older objects), got '0999-12-31'"
    )
    assert settings(EXTRACT_START_DATE="1970-01-01").extract_start_date == date(1970, 1, 1)


def test_same_repository_in_two_cases_is_refused():
    message = refused(GITHUB_REPOS="acme/API,acme/web,Acme/api")
    assert message == (
        "GITHUB_REPOS lists 'acme/API' and 'Acme/api', the same entry in two spellings (names are case-insensitive):"
        " keep one"
    )


def test_quality_and_alert_settings_are_read_from_dotenv(tmp_path):
    from doraflow.config import environment

    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "QUALITY_MIN_COVERAGE=0.8\nQUALITY_MIN_COVERAGE_INCIDENTS_ATTRIBUTED=0.25\n"
        "QUALITY_VOLUME_HISTORY_RUNS=3\nALERT_WEBHOOK_URL=https://hooks.example.com/T0K3N\n"
    )
    loaded = load_settings(environment({}, dotenv=dotenv), today=TODAY)
    assert loaded.quality.min_coverage == 0.8
    assert loaded.quality.coverage_floor("incidents_attributed") == 0.25
    assert loaded.quality.coverage_floor("deployments_with_change_set") == 0.8
    assert loaded.quality.volume_history_runs == 3
    assert loaded.alert_webhook_url.reveal() == "https://hooks.example.com/T0K3N"
    assert "T0K3N" not in repr(loaded)


def test_misspelt_coverage_threshold_is_refused_naming_the_known_measures():
    message = refused(QUALITY_MIN_COVERAGE_INCIDENT_ATTRIBUTED="0.3")
    assert message.startswith("QUALITY_MIN_COVERAGE_INCIDENT_ATTRIBUTED names no coverage measure; known: ")
    assert "QUALITY_MIN_COVERAGE_INCIDENTS_ATTRIBUTED" in message
    assert "QUALITY_MIN_COVERAGE_DEPLOYMENTS_WITH_CHANGE_SET" in message


def test_quality_share_nan_is_refused():
    assert (
        refused(QUALITY_VOLUME_TOLERANCE="nan")
        == "QUALITY_VOLUME_TOLERANCE must be a number between 0 and 1, got 'nan'"
    )


def test_alert_webhook_that_is_not_a_url_is_refused_without_quoting_it():
    message = refused(ALERT_WEBHOOK_URL="hooks.example.com/T0K3N")
    assert message.startswith("ALERT_WEBHOOK_URL must be an http(s):// URL")
    assert "T0K3N" not in message


@pytest.mark.parametrize(
    "path", ["warehouse/dora_serving.duckdb", "warehouse/../warehouse/dora_serving.duckdb"]
)
def test_warehouse_path_at_the_serving_copy_is_refused(path):
    assert refused(WAREHOUSE_PATH=path).startswith(
        f"WAREHOUSE_PATH '{path}' is the serving copy's path, which every publish replaces"
    )


def test_warehouse_path_symlinked_to_the_serving_copy_is_refused(tmp_path):
    (tmp_path / "dora_serving.duckdb").touch()
    (tmp_path / "dora.duckdb").symlink_to(tmp_path / "dora_serving.duckdb")
    assert "is the serving copy's path" in refused(WAREHOUSE_PATH=str(tmp_path / "dora.duckdb"))


def test_postgresql_engine_agrees_with_the_pattern_and_zone_rules(postgres_server):
    """The constructs refused for PostgreSQL really fail there; the accepted forms and zones really work."""
    import psycopg2

    connection = psycopg2.connect(postgres_server)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            with pytest.raises(psycopg2.Error):
                cursor.execute("select 'x' ~ %s", ("(?P<kind>hotfix)",))
            cursor.execute("select 'a hotfix' ~ %s", (r"\bhotfix\b",))
            assert cursor.fetchone() == (False,)  # DuckDB says true: the same pattern, another answer
            for pattern in ("^(live|prod[-_].*)$", "(?i)^(hot)?fix[/-]", "^prod(uction)?$"):
                cursor.execute("select 'production' ~* %s", (pattern,))
            cursor.execute("select count(*) from pg_timezone_names where name = 'America/New_York'")
            assert cursor.fetchone() == (1,)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("environment", "production"),
    [
        ("production", True),
        ("Prod", True),
        ("production-eu", True),
        ("prod_us", True),
        ("production/blue", True),
        ("prod.canary", True),
        ("preproduction", False),
        ("products", False),
        ("staging", False),
    ],
)
def test_default_production_pattern_accepts_the_usual_suffixes(environment, production):
    pattern = re.compile(settings().production_environment_pattern, re.IGNORECASE)
    assert bool(pattern.search(environment)) is production


def test_production_flag_and_rework_issue_types_are_validated():
    loaded = settings(USE_GITHUB_PRODUCTION_FLAG="false", REWORK_ISSUE_TYPES="Bug, Production Incident")
    assert loaded.use_github_production_flag is False
    assert loaded.dbt_vars()["rework_issue_types"] == "Bug,Production Incident"
    with pytest.raises(ConfigError, match=r"USE_GITHUB_PRODUCTION_FLAG must be true or false, got 'maybe'"):
        settings(USE_GITHUB_PRODUCTION_FLAG="maybe")
    with pytest.raises(ConfigError, match=r"REWORK_ISSUE_TYPES lists an entry twice"):
        settings(REWORK_ISSUE_TYPES="Bug,Bug")


def test_alert_webhook_from_dotenv_is_the_one_notify_posts_to(tmp_path, monkeypatch):
    """`.env` alone names the webhook: the alert of a failed run reaches it (not only the process env)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from doraflow.config import environment
    from doraflow.notify import on_failure

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    (tmp_path / ".env").write_text(f"ALERT_WEBHOOK_URL=http://127.0.0.1:{server.server_port}/hook/T0K3N\n")
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    loaded = load_settings(environment({}, dotenv=tmp_path / ".env"), today=TODAY)
    alert = on_failure("doraflow run r1 failed: boom", settings=loaded)
    thread.join(timeout=30)
    server.server_close()
    assert alert["delivered"] is True
    assert (
        received == [("/hook/T0K3N", received[0][1])]
        and received[0][1]["message"] == "doraflow run r1 failed: boom"
    )


@pytest.mark.parametrize("url", ["https://api.github.com:99999", "https://api.github.com:x", "https://[::1"])
def test_api_url_with_a_bad_port_is_refused(url):
    assert refused(GITHUB_API_URL=url) == (
        f"GITHUB_API_URL must be a well-formed https:// URL (host, and a port from 1 to 65535), got '{url}'"
    )
