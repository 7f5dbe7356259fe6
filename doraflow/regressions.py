"""Regressions against the baseline, reported at the end of every published run (CLI and Airflow alike).

`marts.dora_baseline` stores, per service and metric, the baseline window's value beside the latest complete
period and whether that period regressed beyond DORA_REGRESSION_THRESHOLD (docs/metrics.md, Flow). After a
publish, `report_regressions` prints one line per regression of the latest complete week and sends one alert
through the existing webhook path (ALERT_WEBHOOK_URL), so a team hears of a slide the morning it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from doraflow.config import Settings

REGRESSIONS_SQL = """
    select service, metric, latest_period_start, latest_value, baseline_value, change_vs_baseline
    from marts.dora_baseline
    where period_grain = 'week' and is_regression
    order by service, metric
"""
LOWER_IS_BETTER_UNITS = {
    "lead_time_median_minutes": "min",
    "time_to_restore_median_minutes": "min",
    "ci_feedback_median_minutes": "min",
}


@dataclass(frozen=True)
class Regression:
    service: str
    metric: str
    period_start: date
    latest_value: float | None
    baseline_value: float | None
    change_vs_baseline: float | None

    def line(self) -> str:
        change = (
            f"{self.change_vs_baseline:+.0%} vs baseline"
            if self.change_vs_baseline is not None
            else "from zero at baseline"
        )
        return (
            f"regression: {self.service} {self.metric} {_value(self.metric, self.latest_value)} in the week of "
            f"{self.period_start} (baseline {_value(self.metric, self.baseline_value)}, {change})"
        )


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric in ("change_failure_rate", "flow_efficiency"):
        return f"{value:.0%}"
    unit = LOWER_IS_BETTER_UNITS.get(metric)
    return f"{value:.0f} {unit}" if unit else f"{value:.2f}"


def find_regressions(settings: Settings) -> list[Regression]:
    """The regressions of the latest complete week in marts.dora_baseline (empty when the mart is absent)."""
    from doraflow.warehouse import warehouse_cursor

    with warehouse_cursor(settings) as cursor:
        try:
            cursor.execute(REGRESSIONS_SQL)
        except Exception:  # noqa: BLE001 - a warehouse built before the flow marts has no dora_baseline
            return []
        rows = cursor.fetchall()
    latest = max((row[2] for row in rows), default=None)
    return [Regression(*row) for row in rows if row[2] == latest]


def report_regressions(settings: Settings, progress: Callable[[str], None] = print) -> list[Regression]:
    """Print each regression of the latest complete week and send one alert listing them."""
    from doraflow.notify import send_alert

    regressions = find_regressions(settings)
    for regression in regressions:
        progress(regression.line())
    if regressions:
        send_alert(
            f"doraflow: {len(regressions)} regression(s) against the baseline in the week of "
            f"{regressions[0].period_start}",
            settings=settings,
            extra={"kind": "regression", "regressions": [r.line() for r in regressions]},
        )
    return regressions
