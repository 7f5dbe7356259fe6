"""Quality gates: Great Expectations suites (kept as code) on landed batches and on the marts.

`check_batches()` runs before the loader merges anything into raw; `check_marts()` runs after dbt and
before publish. Both return a `QualityResult`; `raise_for_critical()` stops the pipeline with a
`QualityGateError` naming the expectation, the table and a sample of failing rows. Warnings are kept
in the result (and recorded in `ops.check_results` by `doraflow.ops.RunRecorder`).

Great Expectations is imported only when a check runs: importing this package stays cheap.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from doraflow.errors import QualityGateError

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation on one table (or landed stream)."""

    suite: str
    expectation: str
    table: str
    severity: str  # 'critical' | 'warning'
    success: bool
    failing_count: int = 0
    sample: list[Any] = field(default_factory=list)  # a few failing rows or values
    observed_value: float | None = None  # e.g. the row count for volume checks
    column: str | None = None

    def describe(self) -> str:
        name = f"{self.expectation}({self.column})" if self.column else self.expectation
        sample = _sample_text(self.sample)
        return f"{name} on {self.table}: {self.failing_count} failing rows, e.g. {sample}"


@dataclass
class QualityResult:
    """Every expectation's outcome of one check run, plus where its Data Docs were built."""

    results: list[CheckResult] = field(default_factory=list)
    data_docs_path: Path | None = None

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == CRITICAL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == WARNING]

    @property
    def success(self) -> bool:
        return not self.critical_failures

    def raise_for_critical(self) -> None:
        """Raise `QualityGateError` naming the first critical failure (and how many others there are)."""
        failures = self.critical_failures
        if not failures:
            return
        first = failures[0]
        more = f" (and {len(failures) - 1} more critical failure(s))" if len(failures) > 1 else ""
        docs = f"; see {self.data_docs_path}" if self.data_docs_path else ""
        error = QualityGateError(f"quality gate failed: {first.describe()}{more}{docs}")
        error.result = self  # lets a caller record the checks of a failed gate
        raise error

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [asdict(r) for r in self.results],
            "data_docs_path": str(self.data_docs_path) if self.data_docs_path else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityResult:
        docs = data.get("data_docs_path")
        return cls([CheckResult(**r) for r in data.get("results", [])], Path(docs) if docs else None)


def _sample_text(sample: list[Any], limit: int = 300) -> str:
    text = json.dumps(sample, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_batches(settings, batch_paths: list[Path], *, render: bool = True) -> QualityResult:
    """Run the landed-batch suites on these batch files (before they are merged into raw); `render=False` leaves
    the Data Docs pages to `doraflow.quality.gx_store.render_docs`."""
    from doraflow.quality.batches import check_batches as run

    return run(settings, batch_paths, render=render)


def check_marts(settings, env=None, *, marts=None, render=True) -> QualityResult:
    """Run the mart suites on the warehouse after dbt (before publish): every mart, or only `marts` (names);
    `render=False` leaves the Data Docs pages to `doraflow.quality.gx_store.render_docs`.

    Thresholds come from `settings.quality` (read from `.env` and the environment with every other setting),
    or from `env` when given; see docs/quality.md.
    """
    from doraflow.quality.marts import check_marts as run

    return run(settings, env, marts=marts, render=render)


__all__ = ["CRITICAL", "WARNING", "CheckResult", "QualityResult", "check_batches", "check_marts"]
