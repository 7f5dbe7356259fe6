"""Great Expectations bookkeeping of a gate: suites, a Checkpoint with actions, results history, Data Docs.

Each gate has a file-backed GX project beside the warehouse (`<warehouse dir>/great_expectations/<gate>/gx`):
one suite per guarded table or landed stream (named for it: `marts.fct_deployments`,
`landing.github__pull_requests`), a validation definition per suite, and a Checkpoint (`landing_gate`,
`marts_gate`) whose actions store the validation results (kept between runs, the last `HISTORY_RUNS`) and
update the gate's Data Docs site (`<warehouse dir>/data_docs/<gate>/index.html`, rendered offline:
`doraflow.quality.offline_docs`; only the run's pages and the index, `doraflow.quality.gx_docs`), at once or,
in `doraflow run`, after publish (`render_docs`).

The expectations are computed in SQL by `doraflow.quality.runner` (GX's SQL data source does not work on
DuckDB); this module turns those figures into GX's own result objects and runs the Checkpoint's result
handling and actions on them, so a GX user finds what they expect: suites, checkpoints, a results store
with history and Data Docs that show every run.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from doraflow.quality.runner import SAMPLE_SIZE, TargetOutcome

RESULTS_INDEX = "doraflow_results_index.json"  # key path -> what the Data Docs index shows of that result
PENDING_PAGES = "doraflow_pending_pages.json"  # results and suites stored and not rendered yet

log = logging.getLogger(__name__)
HISTORY_RUNS = 30  # validation results kept per suite
SITE = "doraflow"


def project_dir(settings, gate: str) -> Path:
    return (settings.warehouse_dir / "great_expectations" / gate).resolve()


_CONTEXTS: dict[tuple[str, str], object] = {}  # one GX context per project and process (its files are ours)
_DOCS = "doraflow.quality.gx_docs"


def _site_config(docs_dir: str) -> dict:
    """GX's SiteBuilder as GX configures it, with doraflow's subclasses that render only the run's pages."""
    page = {"module_name": _DOCS, "class_name": "PageView"}
    section = {"module_name": _DOCS, "class_name": "RunSectionBuilder", "view": page}
    return {
        "class_name": "RunSiteBuilder",
        "module_name": _DOCS,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
        "site_index_builder": {
            "class_name": "RunIndexBuilder",
            "module_name": _DOCS,
            "view": {"module_name": _DOCS, "class_name": "IndexPageView"},
        },
        # the gates never profile: GX's profiling section would list the results store for nothing
        "site_section_builders": {"expectations": section, "validations": section, "profiling": "None"},
    }


def _context(settings, gate: str):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    root = project_dir(settings, gate)
    docs_dir = str((settings.data_docs_dir / gate).resolve())  # GX wants an absolute path
    cached = _CONTEXTS.get((str(root), docs_dir))
    if cached is not None and (root / "gx" / "great_expectations.yml").is_file():
        return cached
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    sites = context.variables.data_docs_sites or {}
    wanted = _site_config(docs_dir)
    if set(sites) != {SITE} or dict(sites[SITE]) != wanted:
        for site in list(sites):
            context.delete_data_docs_site(site)
        context.add_data_docs_site(site_name=SITE, site_config=wanted)
    bars = context.variables.progress_bars
    globally = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if globally is not False:  # saving the project config costs a file write per call
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    _CONTEXTS[(str(root), docs_dir)] = context
    return context


def _configuration_key(configuration) -> tuple:
    meta = configuration.meta or {}
    return (
        configuration.type,
        sorted(configuration.kwargs.items(), key=str),
        configuration.severity,
        meta.get("where"),
    )


def _checks_key(outcome: TargetOutcome) -> str:
    return repr([(o.check.expectation, sorted(o.check.kwargs.items(), key=str), o.check.severity,
                  o.check.row_filter) for o in outcome.outcomes])  # fmt: skip


def _suite(context, gx, outcome: TargetOutcome, suite=None):
    """The target's suite, saved only when its expectations changed (e.g. a column added to a mart).

    A suite this process already matched against the same checks is not compared again (building GX's
    expectation objects to compare costs more than the checks of a small mart)."""
    name = outcome.target.suite
    memo = _memo(context)
    checks = _checks_key(outcome)
    if suite is not None and memo["suites"].get(name) == (id(suite), checks):
        return suite, False
    wanted = [
        getattr(gx.expectations, o.check.expectation)(
            **o.check.kwargs,
            severity=o.check.severity,
            meta={"where": o.check.row_filter} if o.check.row_filter else None,
        )
        for o in outcome.outcomes
    ]
    if suite is None:
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
    configurations = [e.configuration for e in suite.expectations]
    memo["configurations"][name] = (configurations, [c.to_json_dict() for c in configurations])
    memo["suites"][name] = (id(suite), checks)
    return suite, changed


def _memo(context) -> dict:
    """What this process knows of the context's project (the context is cached per process: `_context`)."""
    memo = getattr(context, "doraflow_memo", None)
    if memo is None:
        memo = context.doraflow_memo = {"checkpoint": None, "suites": {}, "configurations": {}, "in_hand": {}}
    return memo


def _source(context):
    try:
        return context.data_sources.get("doraflow")
    except (KeyError, ValueError):
        return context.data_sources.add_pandas("doraflow")


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


def _load_checkpoint(context, name: str):
    try:
        return context.checkpoints.get(name)
    except Exception:  # noqa: BLE001 - GX raises a DataContextError subclass for a missing checkpoint
        return None


def _checkpoint(context, gx, name: str, definitions, current):
    """The gate's Checkpoint, saved again only when a suite it does not yet run appears."""
    from great_expectations.checkpoint import UpdateDataDocsAction

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


def _result(gx_core, configurations, suite, outcome: TargetOutcome, run_id):
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult

    results = []
    for configuration, o in zip(configurations, outcome.outcomes, strict=True):
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
            ExpectationValidationResult(success=o.success, expectation_config=configuration, result=figures)
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


_NO_EXCEPTION = {"exception_message": None, "exception_traceback": None, "raised_exception": False}


def _result_json(result, configurations_json: list[dict]) -> str:
    """The stored form of a result, as GX's store writes it (`ValidationResultsStore.serialize`, which goes
    through `to_json_dict` and marshmallow at 20-60 ms a suite): the figures are already JSON, the
    expectations' configurations serialised once per process (tests/test_quality_gx.py compares both forms)."""
    run_id = result.meta["run_id"]
    document = {
        "id": None,
        "meta": {
            **result.meta,
            "run_id": {"run_name": run_id.run_name, "run_time": run_id.run_time.isoformat()},
            "validation_time": result.meta["validation_time"].isoformat(),
        },
        "results": [
            {
                "exception_info": dict(_NO_EXCEPTION),
                "expectation_config": configuration,
                "meta": {},
                "result": r.result,
                "success": r.success,
            }
            for r, configuration in zip(result.results, configurations_json, strict=True)
        ],
        "statistics": result.statistics,
        "success": result.success,
        "suite_name": result.suite_name,
        "suite_parameters": {},
    }
    return json.dumps(document, indent=2, sort_keys=True)


def record(
    settings, gate: str, outcomes: list[TargetOutcome], run_name: str | None = None, *, render: bool = True
) -> Path | None:
    """Store the outcomes through the gate's Checkpoint and update its Data Docs; returns the docs' index.

    Never raises: the results are a by-product of the gate's decision, which the caller already holds.
    `render=False` stores the results and leaves their Data Docs pages to `render_docs` (the pipeline renders the
    marts gate's after publish, so they never delay it).
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

    from doraflow.quality.gx_docs import key_path, summary

    context = _context(settings, gate)
    memo = _memo(context)
    name = f"{gate}_gate"
    if memo["checkpoint"] is None:
        memo["checkpoint"] = _load_checkpoint(context, name)
    # the Checkpoint's validation definitions carry their suites: one read of the project, not one per suite
    known = {d.name: d for d in memo["checkpoint"].validation_definitions} if memo["checkpoint"] else {}
    definitions, suites, changed_suites, source = [], [], [], None
    for outcome in outcomes:
        definition = known.get(outcome.target.suite)
        suite, changed = _suite(context, gx, outcome, definition.suite if definition else None)
        suites.append(suite)
        if changed or not (settings.data_docs_dir / gate / "expectations").is_dir():
            changed_suites.append(suite.name)
        if definition is None:
            source = source or _source(context)
            definition = _validation_definition(context, gx, source, suite)
        definitions.append(definition)
    checkpoint = memo["checkpoint"] = _checkpoint(context, gx, name, definitions, memo["checkpoint"])

    run_id = RunIdentifier(run_name=run_name or f"{gate}-gate", run_time=datetime.now(UTC))
    store = context.validation_results_store
    run_results = {}
    summaries = _read_summaries(context)
    for outcome, suite, definition in zip(outcomes, suites, definitions, strict=True):
        configurations, configurations_json = memo["configurations"][suite.name]
        result = _result(gx, configurations, suite, outcome, run_id)
        result.meta["validation_id"] = definition.id
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
            run_id=run_id,
            batch_identifier=outcome.target.table.replace("/", "__").replace(" ", "_"),
        )
        store._store_backend.set(key.to_tuple(), _result_json(result, configurations_json))
        run_results[key] = result
        summaries[key_path(key.to_tuple())] = summary({"success": result.success, "meta": result.meta})
    kept = _prune(store, {s.name for s in suites})
    summaries = {path: summaries[path] for path in map(key_path, kept) if path in summaries}
    _write_summaries(context, summaries)
    # The Checkpoint's own result handling and actions, on the results computed in SQL.
    result = checkpoint._construct_result(run_id=run_id, run_results=run_results)
    _run_actions(context, checkpoint, result)
    memo["in_hand"].update(run_results)
    pending, stored = _read_pending(context), set(kept)
    pending["results"] = [
        key for key in pending["results"] if tuple(key) in stored
    ]  # pruned: no page to draw
    pending["results"] += [list(key.to_tuple()) for key in run_results]
    pending["suites"] = sorted(set(pending["suites"]) | set(changed_suites))
    _write_pending(context, pending)
    if render:
        _render(settings, gate, context, kept, summaries)
    return settings.data_docs_dir / gate / "index.html"


def render_docs(settings, gate: str) -> Path | None:
    """Render the Data Docs pages of the runs stored since the last rendering (`record(render=False)`), and the
    index; returns the index. Never raises, like `record`."""
    index = settings.data_docs_dir / gate / "index.html"
    pending = project_dir(settings, gate) / "gx" / "uncommitted" / PENDING_PAGES
    if not _read_pending_file(pending)[
        "results"
    ]:  # nothing to render: Great Expectations is not even imported
        return index if index.is_file() else None
    try:
        context = _context(settings, gate)
        kept = [key for key in context.validation_results_store._store_backend.list_keys() if len(key) >= 4]
        _render(settings, gate, context, kept, _read_summaries(context))
        return settings.data_docs_dir / gate / "index.html"
    except Exception as error:  # noqa: BLE001 - docs must never fail the run
        log.warning("could not render the Data Docs of the %s gate: %s", gate, error)
        return None


def _render(settings, gate: str, context, kept: list[tuple], summaries: dict) -> None:
    """The pages of the pending results still kept and of the suites that changed, then the index.

    GX's UpdateDataDocsAction rebuilds the site index once per validation result (seconds for the marts' suites)
    and GX's SiteBuilder re-reads what it renders: the site is built once, from the results in hand
    (doraflow.quality.gx_docs)."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    from doraflow.quality.gx_docs import identifier
    from doraflow.quality.offline_docs import make_offline

    memo = _memo(context)
    pending = _read_pending(context)
    stored = set(kept)
    identifiers: list = [identifier(tuple(key)) for key in pending["results"] if tuple(key) in stored]
    identifiers += [ExpectationSuiteIdentifier(name=name) for name in pending["suites"]]
    rendered_from = time.time() - 1  # file times may be coarser than the clock
    # what the site builder renders from: the results in hand, the store listed once, the results index
    context.doraflow_run_results, context.doraflow_stored_keys = memo["in_hand"], kept
    context.doraflow_summaries = summaries
    try:
        context.build_data_docs(site_names=[SITE], resource_identifiers=identifiers)
    finally:
        context.doraflow_run_results = context.doraflow_stored_keys = context.doraflow_summaries = None
    memo["in_hand"].clear()
    _write_pending(context, {"results": [], "suites": []})
    make_offline((settings.data_docs_dir / gate).resolve(), since=rendered_from)


def _pending_path(context) -> Path:
    return Path(context.root_directory) / "uncommitted" / PENDING_PAGES


def _read_pending(context) -> dict[str, list]:
    return _read_pending_file(_pending_path(context))


def _read_pending_file(path: Path) -> dict[str, list]:
    try:
        pending = json.loads(path.read_text(encoding="utf-8"))
        return {"results": list(pending["results"]), "suites": list(pending["suites"])}
    except (OSError, ValueError, KeyError, TypeError):
        return {"results": [], "suites": []}


def _write_pending(context, pending: dict[str, list]) -> None:
    path = _pending_path(context)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(pending), encoding="utf-8")
    temporary.replace(path)


def _summaries_path(context) -> Path:
    return Path(context.root_directory) / "uncommitted" / RESULTS_INDEX


def _read_summaries(context) -> dict[str, list]:
    try:
        return json.loads(_summaries_path(context).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: the index reads those results from their files


def _write_summaries(context, summaries: dict[str, list]) -> None:
    path = _summaries_path(context)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(summaries), encoding="utf-8")
    temporary.replace(path)


def _run_actions(context, checkpoint, checkpoint_result) -> None:
    """The Checkpoint's actions on its result, as `Checkpoint.run()` does after validating, but Data Docs:
    `update_data_docs` is `_render`, once per run or after publish (`render_docs`)."""
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.checkpoint.actions import ActionContext

    action_context = ActionContext()
    for action in checkpoint.actions:
        if not isinstance(action, UpdateDataDocsAction):
            action._data_context = context
            action_context.update(action=action, action_result=action.run(checkpoint_result, action_context))


def _prune(store, suite_names: set[str]) -> list[tuple]:
    """Keep the last HISTORY_RUNS results of each suite (the store would grow by one file per run); returns the
    keys of every result kept, listed once as tuples (GX's own listing parses each key's time with dateutil)."""
    backend = store._store_backend
    by_suite: dict[str, list[tuple]] = {}
    for key in backend.list_keys():
        if len(key) >= 4:  # (suite name's parts..., run name, run time, batch)
            by_suite.setdefault(".".join(key[:-3]), []).append(key)
    kept: list[tuple] = []
    for name, keys in by_suite.items():
        keys.sort(key=lambda k: k[-2])  # GX's run time format sorts as text
        if name in suite_names:
            for key in keys[:-HISTORY_RUNS]:
                backend.remove_key(key)
            keys = keys[-HISTORY_RUNS:]
        kept += keys
    return kept
