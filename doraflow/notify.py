"""Failure notifications: a log line, plus an optional webhook (env ALERT_WEBHOOK_URL) POSTed as JSON.

`on_failure` is the CLI's hook (called with a message); under Airflow, doraflow.airflow_notify.WebhookNotifier
posts the same alert once per failed DAG run (it can also serve as a task's `on_failure_callback`). It never raises: a broken alert channel must not hide the failure
that triggered it. The webhook URL may hold a token, so it is never logged; only its host is.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger("doraflow.notify")
WEBHOOK_ENV = "ALERT_WEBHOOK_URL"
TIMEOUT_SECONDS = 10.0


def _from_context(context: dict[str, Any]) -> dict[str, Any]:
    """The alert fields of an Airflow task context (ids and the exception's message only)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    error = context.get("exception")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None)
    task_id = getattr(ti, "task_id", None)
    run_id = getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None)
    map_index = getattr(ti, "map_index", -1)
    where = f"{dag_id}.{task_id}" + (f"[{map_index}]" if map_index not in (None, -1) else "")
    message = f"{where} failed in run {run_id}: {error}" if error else f"{where} failed in run {run_id}"
    return {
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "map_index": map_index,
        "try_number": getattr(ti, "try_number", None),
        "error": f"{type(error).__name__}: {error}" if error else None,
        "message": message,
    }


def _environment() -> dict[str, str]:
    """`.env` + the process environment, like every setting; a broken `.env` must not stop the alert."""
    from doraflow.config import ConfigError, environment

    try:
        return environment()
    except ConfigError:
        return dict(os.environ)


def build_alert(context_or_message: Any) -> dict[str, Any]:
    if isinstance(context_or_message, str):
        alert = {"message": context_or_message}
    elif isinstance(context_or_message, dict):
        alert = _from_context(context_or_message)
    else:
        alert = {"message": str(context_or_message)}
    return {"source": "doraflow", "sent_at": datetime.now(UTC).isoformat(), **alert}


def on_failure(
    context_or_message: Any, settings=None, *, env: dict[str, str] | None = None, extra: dict | None = None
) -> dict:
    """Log the failure and POST it to ALERT_WEBHOOK_URL when set; returns the alert that was sent."""
    alert = {**build_alert(context_or_message), **(extra or {})}
    # INFO: the CLI prints the error itself and Airflow logs the exception; this line is for the log trail.
    log.info("doraflow failure: %s", alert["message"])
    return _post(alert, settings, env)


def send_alert(
    message: str, settings=None, *, env: dict[str, str] | None = None, extra: dict | None = None
) -> dict:
    """POST a notice that is not a failure (e.g. regressions against the baseline) the same way as failures."""
    alert = {**build_alert(message), **(extra or {})}
    log.info("doraflow notice: %s", alert["message"])
    return _post(alert, settings, env)


def _post(alert: dict, settings, env: dict[str, str] | None) -> dict:
    if env is None and getattr(settings, "alert_webhook_url", None) is not None:
        url = settings.alert_webhook_url.reveal()  # validated with the other settings, `.env` included
    else:
        url = ((_environment() if env is None else env).get(WEBHOOK_ENV) or "").strip()
    if not url:
        return alert
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        log.error("%s must be an http(s) URL; alert not sent", WEBHOOK_ENV)
        return alert
    try:
        import requests

        response = requests.post(
            url,
            data=json.dumps(alert, default=str),
            headers={"Content-Type": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
        if response.status_code >= 400:
            log.error("alert webhook at %s answered HTTP %s", parsed.hostname, response.status_code)
        else:
            alert["delivered"] = True
    except Exception as error:  # noqa: BLE001 - an alert must never raise
        log.error("alert webhook at %s could not be reached: %s", parsed.hostname, type(error).__name__)
    return alert
