"""Great Expectations bookkeeping of a gate: suites, a Checkpoint with actions, results history, Data Docs.

Each gate has a file-backed GX project beside the warehouse (`<warehouse dir>/great_expectations/<gate>/gx`):
one suite per guarded table or landed stream (named for it: `marts.fct_deployments`,
`landing.github__pull_requests`), a validation definition per suite, and a Checkpoint (`landing_gate`,
`marts_gate`) whose actions store the validation results (kept between runs, the last `HISTORY_RUNS`) and
update the gate's Data Docs site (`<warehouse dir>/data_docs/<gate>/index.html`, rendered offline:
`doraflow.quality.offline_docs`).

The expectations are computed in SQL by `doraflow.quality.runner` (GX's SQL data source does not work on
DuckDB); this module turns those figures into GX's own result objects and runs the Checkpoint's result
handling and actions on them, so a GX user finds what they expect: suites, checkpoints, a results store
with history and Data Docs that show every run.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from doraflow.quality.runner import SAMPLE_SIZE, TargetOutcome

log = logging.getLogger(__name__)
HISTORY_RUNS = 30  # validation results kept per suite
SITE = "doraflow"


def project_dir(settings, gate: str) -> Path:
    return (settings.warehouse_dir / "great_expectations" / gate).resolve()


def _context(settings, gate: str):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = project_dir(settings, gate)
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    docs_dir = (settings.data_docs_dir / gate).resolve()  # GX wants an absolute path
    sites = context.variables.data_docs_sites or {}
    wanted = str(docs_dir)
    if set(sites) != {SITE} or sites[SITE]["store_backend"].get("base_directory") != wanted:
        for site in list(sites):
            context.delete_data_docs_site(site)
        context.add_data_docs_site(
            site_name=SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": wanted},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    bars = context.variables.progress_bars
    globally = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if globally is not False:  # saving the project config costs a file write per call
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _configuration_key(configuration) -> tuple:
    meta = configuration.meta or {}
    return (
        configuration.type,
        sorted(configuration.kwargs.items(), key=str),
        configuration.severity,
        meta.get("where"),
    )


def _suite(context, gx, outcome: TargetOutcome):
    """The target's suite, saved only when its expectations changed (e.g. a column added to a mart)."""
    name = outcome.target.suite
    wanted = [
        getattr(gx.expectations, o.check.expectation)(
            **o.check.kwargs,
            severity=o.check.severity,
            meta={"where": o.check.row_filter} if o.check.row_filter else None,
        )
        for o in outcome.outcomes
    ]
    try:
        suite = context.suites.get(name)
    except Exception:  # noqa: BLE001 - GX raises a DataContextError subclass for a missing suite
        suite = context.suites.add(gx.ExpectationSuite(name=name))
    current = [_configuration_key(e.configuration) for e in suite.expectations]
    changed = current != [_configuration_key(e.configuration) for e in wanted]
    if changed:
        for expectation in list(suite.expectations):
            suite.delete_expectation(expectation)
        for expectation in wanted:
            suite.add_expectation(expectation)
        suite.save()
    return suite, changed


def _validation_definition(context, gx, source, suite):
    name = suite.name
    try:
        return context.validation_definitions.get(name)
    except Exception:  # noqa: BLE001 - missing definition
        try:
            asset = source.get_asset(name)
        except LookupError:
            asset = source.add_dataframe_asset(name)
        batch = (
            asset.batch_definitions[0]
            if asset.batch_definitions
            else asset.add_batch_definition_whole_dataframe("rows")
        )
        return context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))


def _checkpoint(context, gx, name: str, definitions):
    """The gate's Checkpoint, saved again only when a suite it does not yet run appears."""
    from great_expectations.checkpoint import UpdateDataDocsAction

    try:
        current = context.checkpoints.get(name)
    except Exception:  # noqa: BLE001 - GX raises a DataContextError subclass for a missing checkpoint
        current = None
    if current is not None:
        # The landing gate sees only the streams with pending batches: the Checkpoint keeps every suite it
        # has guarded, so it is saved again only when a new one appears.
        known = {d.name for d in current.validation_definitions}
        if {d.name for d in definitions} <= known:
            return current
        definitions = [*current.validation_definitions, *(d for d in definitions if d.name not in known)]
    checkpoint = gx.Checkpoint(
        name=name,
        validation_definitions=definitions,
        actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE])],
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
    )
    return context.checkpoints.add_or_update(checkpoint)


def _result(gx_core, suite, outcome: TargetOutcome, run_id):
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult

    results = []
    for expectation, o in zip(suite.expectations, outcome.outcomes, strict=True):
        nonmissing = o.element_count - o.missing_count
        figures = {"element_count": o.element_count, "observed_value": o.observed_value}
        if o.check.expectation != "ExpectTableRowCountToBeBetween":
            figures = {
                "element_count": o.element_count,
                "missing_count": o.missing_count,
                "missing_percent": 100.0 * o.missing_count / o.element_count if o.element_count else None,
                "unexpected_count": o.unexpected_count,
                "unexpected_percent": 100.0 * o.unexpected_count / nonmissing if nonmissing else None,
                "unexpected_percent_nonmissing": 100.0 * o.unexpected_count / nonmissing
                if nonmissing
                else None,
                "partial_unexpected_list": o.sample[:SAMPLE_SIZE],
            }
        results.append(
            ExpectationValidationResult(
                success=o.success, expectation_config=expectation.configuration, result=figures
            )
        )
    successful = sum(1 for r in results if r.success)
    return ExpectationSuiteValidationResult(
        success=successful == len(results),
        results=results,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": successful,
            "unsuccessful_expectations": len(results) - successful,
            "success_percent": 100.0 * successful / len(results) if results else None,
        },
        meta={
            "great_expectations_version": gx_core.__version__,
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "active_batch_definition": {
                "datasource_name": "doraflow",
                "data_asset_name": outcome.target.table,
            },
            "batch_spec": {"computed_in": "SQL (doraflow.quality.runner)", "table": outcome.target.table},
        },
    )


def record(
    settings, gate: str, outcomes: list[TargetOutcome], run_name: str | None = None, *, render: bool = True
) -> Path | None:
    """Store the outcomes through the gate's Checkpoint and update its Data Docs; returns the docs' index.

    Never raises: the results are a by-product of the gate's decision, which the caller already holds.
    `render=False` stores the results without updating the Data Docs (benchmarks/benchmark_gates.py: the cost of
    rendering apart).
    """
    if not outcomes:
        return None
    try:
        return _record(settings, gate, outcomes, run_name, render)
    except Exception as error:  # noqa: BLE001 - docs and history must never fail the gate
        log.warning("could not store Great Expectations results of the %s gate: %s", gate, error)
        return None


def _record(
    settings, gate: str, outcomes: list[TargetOutcome], run_name: str | None, render: bool = True
) -> Path:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _context(settings, gate)
    try:
        source = context.data_sources.get("doraflow")
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas("doraflow")
    definitions, suites, changed_suites = [], [], []
    for outcome in outcomes:
        suite, changed = _suite(context, gx, outcome)
        suites.append(suite)
        if changed or not (settings.data_docs_dir / gate / "expectations").is_dir():
            changed_suites.append(suite.name)
        definitions.append(_validation_definition(context, gx, source, suite))
    checkpoint = _checkpoint(context, gx, f"{gate}_gate", definitions)

    run_id = RunIdentifier(run_name=run_name or f"{gate}-gate", run_time=datetime.now(UTC))
    store = context.validation_results_store
    run_results = {}
    for outcome, suite, definition in zip(outcomes, suites, definitions, strict=True):
        result = _result(gx, suite, outcome, run_id)
        result.meta["validation_id"] = definition.id
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
            run_id=run_id,
            batch_identifier=outcome.target.table.replace("/", "__").replace(" ", "_"),
        )
        store.store_validation_results(
            suite_validation_result=result,
            suite_validation_result_identifier=key,
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        )
        run_results[key] = result
    _prune(store, {s.name for s in suites})
    # The Checkpoint's own result handling and actions, on the results computed in SQL.
    result = checkpoint._construct_result(run_id=run_id, run_results=run_results)
    if not render:
        return settings.data_docs_dir / gate / "index.html"
    rendered_from = time.time() - 1  # file times may be coarser than the clock
    _run_actions(context, checkpoint, result, changed_suites)
    from doraflow.quality.offline_docs import make_offline

    docs_dir = (settings.data_docs_dir / gate).resolve()
    make_offline(docs_dir, since=rendered_from)
    return settings.data_docs_dir / gate / "index.html"


def _run_actions(context, checkpoint, checkpoint_result, changed_suites: list[str]) -> None:
    """The Checkpoint's actions on its result, as `Checkpoint.run()` does after validating.

    GX's UpdateDataDocsAction rebuilds the site index once per validation result (seconds for the marts'
    suites): it is run here once with every result of the run (and the pages of the suites that changed);
    any other action a user adds runs as is.
    """
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.checkpoint.actions import ActionContext
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    identifiers = list(checkpoint_result.run_results)
    identifiers += [ExpectationSuiteIdentifier(name=name) for name in changed_suites]
    action_context = ActionContext()
    for action in checkpoint.actions:
        action._data_context = context
        if isinstance(action, UpdateDataDocsAction):
            action._build_data_docs(site_names=action.site_names, resource_identifiers=identifiers)
        else:
            action_context.update(action=action, action_result=action.run(checkpoint_result, action_context))


def _prune(store, suite_names: set[str]) -> None:
    """Keep the last HISTORY_RUNS results of each suite (the store would grow by one file per run)."""
    by_suite: dict[str, list] = {}
    for key in store.list_keys():
        name = key.expectation_suite_identifier.name
        if name in suite_names:
            by_suite.setdefault(name, []).append(key)
    for keys in by_suite.values():
        keys.sort(key=lambda k: str(k.run_id.run_time))
        for key in keys[:-HISTORY_RUNS]:
            store.remove_key(key)
