"""Runs expectation suites with Great Expectations (GX Core 1.x) and builds the Data Docs.

A suite is declared as code (`Target` + `Check`s) and turned into GX objects here, in an ephemeral
context: pandas DataFrames for DuckDB data and landed batches (GX's SQL data source does not work on
DuckDB), the SQL data source with a query asset when the warehouse is PostgreSQL.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doraflow.quality import CRITICAL, CheckResult, QualityResult

log = logging.getLogger(__name__)
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Check:
    """One expectation: the GX class name, its arguments and its severity."""

    expectation: str  # e.g. "ExpectColumnValuesToBeUnique"
    kwargs: dict[str, Any]
    severity: str = CRITICAL


@dataclass
class Target:
    """A table (or landed stream) and the checks of its suite."""

    suite: str
    table: str
    checks: list[Check]
    frame: Any = None  # a pandas DataFrame, or
    query: str | None = None  # a SQL query run by GX's SQL data source (PostgreSQL)
    sample_columns: list[str] = field(default_factory=list)  # identify a failing row in samples


def _snake(name: str) -> str:
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def _context(docs_dir: Path | None):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    for site in list(context.get_site_names()):  # the default site would write to a temporary folder
        context.delete_data_docs_site(site)
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            site_name="doraflow",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),  # GX wants an absolute path
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "item"):  # numpy scalars
        try:
            return _jsonable(value.item())
        except (ValueError, TypeError):
            pass
    if hasattr(value, "isoformat"):
        try:
            return value.isoformat()
        except ValueError:  # NaT
            return None
    return str(value)


def _sample(target: Target, check: Check, result: dict[str, Any]) -> list[Any]:
    frame = target.frame
    indexes = result.get("unexpected_index_list") or []
    if frame is not None and indexes:
        columns = [c for c in target.sample_columns if c in frame.columns]
        for key in ("column", "column_A", "column_B"):
            column = check.kwargs.get(key)
            if column and column not in columns and column in frame.columns:
                columns.append(column)
        for column in check.kwargs.get("column_list") or []:
            if column not in columns and column in frame.columns:
                columns.append(column)
        rows = frame.loc[[i for i in indexes[:SAMPLE_SIZE] if i in frame.index], columns]
        return [_jsonable(row) for row in rows.to_dict(orient="records")]
    values = result.get("partial_unexpected_list") or result.get("unexpected_list")
    if values:
        return _jsonable(list(values)[:SAMPLE_SIZE])
    if "observed_value" in result:
        return [_jsonable(result["observed_value"])]
    return []


def _failing_count(result: dict[str, Any], success: bool) -> int:
    if success:
        return 0
    count = result.get("unexpected_count")
    return int(count) if count is not None else 1


def _observed(result: dict[str, Any]) -> float | None:
    value = result.get("observed_value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def run_targets(
    targets: list[Target],
    docs_dir: Path | None,
    *,
    postgres_url: str | None = None,
) -> QualityResult:
    """Validate every target with its suite; return one CheckResult per expectation."""
    import great_expectations as gx

    context = _context(docs_dir)
    pandas_source = None
    sql_source = None
    results: list[CheckResult] = []
    for number, target in enumerate(targets):
        suite = context.suites.add(gx.ExpectationSuite(name=target.suite))
        configs = []
        for check in target.checks:
            expectation = getattr(gx.expectations, check.expectation)(**check.kwargs, severity=check.severity)
            suite.add_expectation(expectation)
            configs.append(check)
        asset_name = f"{target.suite}-{number}"
        if target.query is not None:
            if sql_source is None:
                sql_source = context.data_sources.add_postgres("warehouse", connection_string=postgres_url)
            asset = sql_source.add_query_asset(asset_name, query=target.query)
            batch_parameters = None
        else:
            if pandas_source is None:
                pandas_source = context.data_sources.add_pandas("frames")
            asset = pandas_source.add_dataframe_asset(asset_name)
            batch_parameters = {"dataframe": target.frame}
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=f"{target.suite}#{number}",
                data=asset.add_batch_definition_whole_dataframe("all")
                if target.query is None
                else asset.add_batch_definition_whole_table("all"),
                suite=suite,
            )
        )
        validation = definition.run(
            batch_parameters=batch_parameters,
            result_format={"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_SIZE},
        )
        for check, outcome in zip(configs, _ordered(suite, validation), strict=True):
            result = outcome.result or {}
            success = bool(outcome.success)
            error = (outcome.exception_info or {}).get("exception_message")
            if error and (outcome.exception_info or {}).get("raised_exception"):
                success, sample = False, [f"expectation raised: {error}"]
            else:
                sample = [] if success else _sample(target, check, result)
            column = _label(check)
            results.append(
                CheckResult(
                    suite=target.suite,
                    expectation=_snake(check.expectation),
                    table=target.table,
                    severity=check.severity,
                    success=success,
                    failing_count=_failing_count(result, success),
                    sample=sample,
                    observed_value=_observed(result),
                    column=column,
                )
            )
    docs_path = None
    if docs_dir is not None and targets:
        try:
            context.build_data_docs(site_names=["doraflow"])
            docs_path = docs_dir / "index.html"
        except Exception as error:  # docs are a by-product: never fail the gate because of them
            log.warning("could not build Great Expectations Data Docs in %s: %s", docs_dir, error)
    return QualityResult(results, docs_path)


def _label(check: Check) -> str | None:
    """The column(s) an expectation is about, as shown in messages."""
    kwargs = check.kwargs
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        a, b = (kwargs[k].removesuffix("__ts") for k in ("column_A", "column_B"))
        operator = ">=" if kwargs.get("or_equal") else (">" if "GreaterThan" in check.expectation else "=")
        return f"{a} {operator} {b}"
    if "column_list" in kwargs:
        return ", ".join(kwargs["column_list"])
    return None


def _ordered(suite, validation):
    """The validation's results in the order the expectations were added to the suite."""
    by_id = {r.expectation_config.id: r for r in validation.results}
    return [by_id[e.id] for e in suite.expectations]
