"""The static HTML report: one self-contained file (plotly.js inline, no network), from the serving copy.

`write_report(settings)` reads `warehouse/dora_serving.duckdb` and writes `warehouse/dora_report.html`. Every
figure shown is also embedded, unrounded, in `<script type="application/json" id="doraflow-data">` and in the
`data-value` attributes of the scorecard, so tests (and curious readers) can compare the report with the
marts.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import duckdb

from doraflow.config import Settings
from doraflow.errors import PublishError
from doraflow.report.data import collect
from doraflow.report.render import render_html
from doraflow.report.value_stream import collect_value_stream

__all__ = ["write_report", "build_report_data", "render_html"]


def build_report_data(
    settings: Settings,
    path: Path | None = None,
    *,
    today: date | None = None,
    published_as: Path | None = None,
) -> dict:
    """The report's figures, read from the serving copy (or the given DuckDB file).

    `published_as` is the path readers will open when `path` is a copy still being built under a temporary
    name (publish): the report names that, never the temporary file.
    """
    source = Path(path) if path is not None else settings.serving_path
    if not source.is_file():
        raise PublishError(
            f"no serving copy at {source}: run `doraflow run` (or `doraflow publish`) first to build it"
        )
    try:
        connection = duckdb.connect(str(source), read_only=True)
    except duckdb.Error as error:
        raise PublishError(f"cannot open {source} read-only: {str(error).splitlines()[0]}") from None
    try:
        targets = {
            "deployments_per_day": settings.targets.deployments_per_day,
            "lead_time_minutes": settings.targets.lead_time_minutes,
            "change_failure_rate": settings.targets.change_failure_rate,
            "time_to_restore_minutes": settings.targets.time_to_restore_minutes,
        }
        data = collect(
            connection, targets=targets, reporting_timezone=settings.reporting_timezone, today=today
        )
        data["value_stream"] = collect_value_stream(connection, data["period"])
    except LookupError as missing:
        raise PublishError(
            f"{source} has no {missing.args[0]} table: the marts are incomplete; rerun the transform step"
        ) from None
    except duckdb.Error as error:
        raise PublishError(f"cannot read the marts from {source}: {str(error).splitlines()[0]}") from None
    finally:
        connection.close()
    data["source"] = str(published_as if published_as is not None else source)
    data["benchmark_edition"] = settings.benchmark_edition
    return data


def write_report(
    settings: Settings,
    path: Path | None = None,
    *,
    output: Path | None = None,
    today: date | None = None,
    published_as: Path | None = None,
) -> Path:
    """Write the HTML report (default `settings.report_path`) from the serving copy (or `path`); returns it.

    `path` names the DuckDB file to read; for convenience a `path` ending in `.html` is taken as the output.
    """
    if path is not None and output is None and Path(path).suffix.lower() in (".html", ".htm"):
        path, output = None, Path(path)
    data = build_report_data(settings, path, today=today, published_as=published_as)
    target = Path(output) if output is not None else settings.report_path
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        temporary.write_text(render_html(data), encoding="utf-8")
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise PublishError(f"cannot write the report {target}: {error.strerror or error}") from None
    return target


def embedded_data(html: str) -> dict:
    """The JSON data block of a report (for tests and tools)."""
    marker = '<script type="application/json" id="doraflow-data">'
    start = html.index(marker) + len(marker)
    end = html.index("</script>", start)
    return json.loads(html[start:end])
