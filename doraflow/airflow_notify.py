"""The Airflow notifier of doraflow: one webhook alert per failed DAG run, listing its failed tasks.

A `BaseNotifier` (Airflow's notification interface) that posts the same JSON as doraflow.notify.on_failure
(the CLI's alert) to ALERT_WEBHOOK_URL. The DAG calls it from its last task (`record_ops`, trigger rule
all_done), which runs once per DAG run whatever failed, so a run with two failed extracts (two sources) sends one
alert naming both, not two alerts.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from doraflow.notify import on_failure

BAD_STATES = ("failed", "upstream_failed")


def failed_tasks(context: dict[str, Any]) -> list[str]:
    """task ids (with map index) of this DAG run that failed, from the Airflow API of the running task."""
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    if ti is None or dag_run is None or not hasattr(ti, "get_task_states"):
        return []
    try:
        states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])
    except Exception:  # noqa: BLE001 - the alert goes out without the list rather than not at all
        return []
    per_task = states.get(dag_run.run_id, {}) if isinstance(states, dict) else {}
    return sorted(task for task, state in per_task.items() if str(state) == "failed")


class WebhookNotifier(BaseNotifier):
    """Posts one alert for the DAG run to ALERT_WEBHOOK_URL (and logs it); never raises."""

    def __init__(self, error: str | None = None, steps: list[str] | None = None):
        super().__init__()
        self.error = error
        self.steps = steps or []

    def notify(self, context: dict[str, Any]) -> None:
        dag_run = context.get("dag_run")
        tasks = failed_tasks(context)
        where = f"{getattr(dag_run, 'dag_id', 'dag')} run {getattr(dag_run, 'run_id', '?')}"
        listed = f"; failed tasks: {', '.join(tasks)}" if tasks else ""
        self.alert = on_failure(
            f"{where} failed: {self.error or 'see the task logs'}{listed}",
            extra={"dag_id": getattr(dag_run, "dag_id", None), "run_id": getattr(dag_run, "run_id", None),
                   "failed_tasks": tasks, "failed_steps": self.steps},
        )  # fmt: skip
