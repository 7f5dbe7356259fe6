"""Settings for Airflow tasks: Airflow Connections first, the CLI's environment variables as fallback.

Connections (conn ids `github`, `jira`, `pagerduty`): host = API URL, password = token, login = Jira
email, extra = {"repos": [...]} / {"projects": [...]} / {"service_ids": [...]}. They are read inside
tasks only (never at DAG parse time); the tokens go straight into `Settings` as `Secret`s and never
into XComs, logs or rendered templates. Parse-time values (schedule, time zone, warehouse path) come
from the environment only, so parsing a DAG file needs no metadata database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from doraflow.config import ConfigError, Settings, environment, load_settings

DEFAULT_SCHEDULE = "0 2 * * *"
SCHEDULE_VARIABLE = "dora_nightly_schedule"
SCHEDULE_ENV = "DORA_NIGHTLY_SCHEDULE"
TIMEZONE_ENV = "DORA_TIMEZONE"
WAREHOUSE_POOL = "dora_warehouse"

# conn id -> (connection field or extra key -> environment variable of doraflow.config)
CONNECTION_FIELDS: dict[str, dict[str, str]] = {
    "github": {"host": "GITHUB_API_URL", "password": "GITHUB_TOKEN", "extra.repos": "GITHUB_REPOS"},
    "jira": {
        "host": "JIRA_BASE_URL",
        "login": "JIRA_EMAIL",
        "password": "JIRA_API_TOKEN",
        "extra.projects": "JIRA_PROJECTS",
    },
    "pagerduty": {
        "host": "PAGERDUTY_API_URL",
        "password": "PAGERDUTY_TOKEN",
        "extra.service_ids": "PAGERDUTY_SERVICE_IDS",
    },
}


def _url(connection: Any) -> str | None:
    host = (getattr(connection, "host", None) or "").strip()
    if not host:
        return None
    if "://" not in host:
        schema = (getattr(connection, "schema", None) or "https").strip()
        host = f"{schema if schema in ('http', 'https') else 'https'}://{host}"
        if getattr(connection, "port", None):
            host = f"{host}:{connection.port}"
    return host


def _extra(connection: Any) -> dict[str, Any]:
    extra = getattr(connection, "extra_dejson", None)
    return extra if isinstance(extra, dict) else {}


def env_from_connections(connections: Mapping[str, Any], base: Mapping[str, str]) -> dict[str, str]:
    """`base` overlaid with the values found in the given connections (missing fields keep `base`)."""
    env = dict(base)
    for conn_id, connection in connections.items():
        if connection is None:
            continue
        for field, variable in CONNECTION_FIELDS[conn_id].items():
            if field == "host":
                value = _url(connection)
            elif field.startswith("extra."):
                raw = _extra(connection).get(field.removeprefix("extra."))
                if isinstance(raw, str):
                    raw = [part for part in raw.split(",") if part.strip()]
                if raw is not None and not isinstance(raw, list):
                    raise ConfigError(f"Airflow connection {conn_id!r}: extra {field[6:]!r} must be a list")
                value = ",".join(str(item).strip() for item in raw) if raw else None
            else:
                value = getattr(connection, field, None)
            if value:
                env[variable] = str(value)
    return env


def _airflow_connection(conn_id: str):
    from airflow.sdk import Connection

    try:
        return Connection.get(conn_id)
    except Exception as error:  # AirflowNotFoundException, or no connection backend reachable
        if type(error).__name__ == "AirflowNotFoundException":
            return None
        raise


def settings_from_airflow(
    env: Mapping[str, str] | None = None,
    get_connection: Callable[[str], Any] | None = None,
) -> Settings:
    """Settings inside an Airflow task: Connections `github`/`jira`/`pagerduty`, else the environment."""
    base = environment() if env is None else env
    get_connection = get_connection or _airflow_connection
    connections = {conn_id: get_connection(conn_id) for conn_id in CONNECTION_FIELDS}
    return load_settings(env_from_connections(connections, base))


def schedule(env: Mapping[str, str] | None = None) -> str:
    """The nightly cron at parse time: env DORA_NIGHTLY_SCHEDULE, default "0 2 * * *".

    The Airflow Variable `dora_nightly_schedule` is applied by the DAG file through a Jinja-free
    lookup only when a metadata database is reachable (see dags/dora_nightly.py).
    """
    env = os.environ if env is None else env
    value = (env.get(SCHEDULE_ENV) or "").strip() or DEFAULT_SCHEDULE
    _check_cron(value, SCHEDULE_ENV)
    return value


def _check_cron(value: str, name: str) -> None:
    from croniter import croniter

    if not croniter.is_valid(value):
        raise ConfigError(f"{name} must be a cron expression like '0 2 * * *', got {value!r}")


def _retries(env: Mapping[str, str] | None, name: str, default: int) -> int:
    env = os.environ if env is None else env
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ConfigError(f"{name} must be a whole number of retries (0 or more), got {value!r}")
    return int(value)


def extract_retries(env: Mapping[str, str] | None = None) -> int:
    """Retries of each extract task (exponential backoff from 30 s): env DORA_EXTRACT_RETRIES, default 3."""
    return _retries(env, "DORA_EXTRACT_RETRIES", 3)


def task_retries(env: Mapping[str, str] | None = None) -> int:
    """Retries of the other tasks: env DORA_TASK_RETRIES, default 1."""
    return _retries(env, "DORA_TASK_RETRIES", 1)


def timezone_name(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    value = (env.get(TIMEZONE_ENV) or "").strip() or "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{TIMEZONE_ENV} must be an IANA time zone like Europe/Paris, got {value!r}"
        ) from None
    return value


def dbt_parse_settings(env: Mapping[str, str] | None = None):
    """(project dir, env vars, dbt vars, profile target) for the cosmos DbtTaskGroup, from the environment.

    Used at DAG parse time, so it reads no Connection and no secret: the PostgreSQL password is not put
    in the task's env (rendered templates would show it); workers carry DBT_ENV_SECRET_PG_PASSWORD.
    """
    from doraflow.transform import PROJECT_DIR, dbt_environment

    settings = load_settings(environment() if env is None else env)
    env_vars = {
        name: value
        for name, value in dbt_environment(settings).items()
        if not name.startswith("DBT_ENV_SECRET")
    }
    dbt_vars = settings.dbt_vars()
    # The build's "now" must be the task's, not the parse's (and a value changing at every parse would make a new
    # DAG version each time): without the var the models read the database clock when they run.
    dbt_vars.pop("reference_time", None)
    return PROJECT_DIR, env_vars, dbt_vars, env_vars["DBT_TARGET"]
