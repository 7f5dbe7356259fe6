"""The `doraflow` command. Thin: parses arguments, loads settings, calls doraflow.pipeline."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from doraflow import __version__
from doraflow.config import ConfigError, Settings, environment, load_settings
from doraflow.errors import USER_ERRORS

CONFIGURATION_HELP = """\
configuration (environment variables, also read from ./.env):
  WAREHOUSE_PATH                    DuckDB file of the warehouse (default warehouse/dora.duckdb)
  WAREHOUSE_TARGET                  duckdb (default) or postgres
  WAREHOUSE_POSTGRES_URL            postgresql://user:password@host:port/db (target postgres)
  GITHUB_API_URL, GITHUB_TOKEN, GITHUB_REPOS          API root; token; owner/name,owner/name
  GITHUB_PULL_REQUEST_DETAILS, GITHUB_CI_JOBS  REST sizes/draft events (2 requests per PR), CI jobs
                                    (1 request per run); both default false (demo: CI jobs on)
  JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN, JIRA_PROJECTS   https://x.atlassian.net; basic auth; KEY,KEY
  PAGERDUTY_API_URL, PAGERDUTY_TOKEN, PAGERDUTY_SERVICE_IDS  API root; REST token; ids (all when unset)
  EXTRACT_START_DATE                first run reaches back to this ISO date (default 180 days ago);
                                    the metrics grid starts there
  PRODUCTION_ENVIRONMENT_PATTERN    regex, case-insensitive (default ^prod(uction)?([-_/ .].*)?$)
  USE_GITHUB_PRODUCTION_FLAG        GitHub's production_environment flag counts too (default true)
  HOTFIX_PATTERN, INCIDENT_ATTRIBUTION_WINDOW_HOURS, REPORTING_TIMEZONE, DORA_BENCHMARK_EDITION
  REWORK_ISSUE_TYPES                Jira issue types of the rework defect-key rule (default Bug,Incident)
  SERVICE_CATALOG_PATH              CSV: service,team,github_repository,environment_pattern,path_prefixes,
                                    pagerduty_service_id,jira_project_key (monorepos: docs/metrics.md)
  TEAM_MEMBERS_PATH                 CSV: team,github_login,pagerduty_user_id,name (siloed operations)
  EXTRACT_CONCURRENCY, HTTP_TIMEOUT_SECONDS, HTTP_MAX_RETRIES, RATE_LIMIT_MAX_WAIT_SECONDS, DUCKDB_MEMORY_LIMIT
  TARGET_DEPLOYMENTS_PER_DAY, TARGET_LEAD_TIME_MINUTES, TARGET_CHANGE_FAILURE_RATE, TARGET_TIME_TO_RESTORE_MINUTES
  QUALITY_MIN_COVERAGE[_<MEASURE>], QUALITY_VOLUME_TOLERANCE, ALERT_WEBHOOK_URL   quality gate, alerts
  TRANSFORM_SKIP_UNCHANGED          skip the dbt build when nothing changed since the last one (default true)
A source whose variables are missing is skipped; a malformed value stops the run before any request.
See docs/configuration.md."""


def _print(message: str) -> None:
    # One write per line: extract threads report progress concurrently and print() writes the newline apart.
    sys.stdout.write(f"{message}\n")
    sys.stdout.flush()


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.pipeline import run_pipeline
    from doraflow.summary import print_summary

    started = time.monotonic()
    run = run_pipeline(
        settings,
        args.sources or None,
        trigger="cli",
        progress=_print,
        allow_no_source=args.allow_no_source,
        full_build=args.full_build,
    )
    _print(f"run {run.run_id} succeeded in {time.monotonic() - started:.1f}s")
    print_summary(settings, progress=_print)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.pipeline import run_pipeline
    from doraflow.summary import print_summary
    from simulator import Simulator

    demo_dir = prepare_demo_dir(Path(args.warehouse_dir))
    config = _simulator_config(args)
    started = time.monotonic()
    with Simulator(config) as sim:
        _print(
            f"simulator: github {sim.urls['github']}  jira {sim.urls['jira']}  pagerduty {sim.urls['pagerduty']}"
        )
        env = {
            "GITHUB_CI_JOBS": "true",  # the demo shows fct_ci_jobs (1 request per run; set false to skip)
            **environment(),
            **sim.env(),
            "WAREHOUSE_PATH": str(demo_dir / "dora.duckdb"),
            "SERVICE_CATALOG_PATH": str(_write_demo_catalog(demo_dir, config)),
            "TEAM_MEMBERS_PATH": str(_write_demo_team_members(demo_dir, config)),
        }
        demo_settings = load_settings(env)
        run_pipeline(demo_settings, trigger="demo", progress=_print)
    _print(f"demo pipeline finished in {time.monotonic() - started:.1f}s")
    print_summary(demo_settings, progress=_print)
    _print(f"report: {demo_settings.report_path.resolve()}")
    _print(f"serving copy for BI tools: {demo_settings.serving_path.resolve()}")
    return 0


DEMO_MARKER = ".doraflow-demo"  # written into every demo folder: only a folder holding it is ever emptied


def prepare_demo_dir(demo_dir: Path) -> Path:
    """An empty demo folder with doraflow's marker in it. The demo organisation is regenerated each time, so
    a folder doraflow made (it holds DEMO_MARKER) is emptied; a missing or empty folder is used; anything else
    (a real warehouse, someone's files) is refused, and nothing in it is touched."""
    marker = demo_dir / DEMO_MARKER
    if demo_dir.exists() or demo_dir.is_symlink():
        if not demo_dir.is_dir() or demo_dir.is_symlink():
            raise ConfigError(
                f"--warehouse-dir {demo_dir} is not a folder doraflow made: choose a new or empty folder"
            )
        if marker.is_file():
            shutil.rmtree(demo_dir)
        elif any(demo_dir.iterdir()):
            raise ConfigError(
                f"--warehouse-dir {demo_dir} is not empty and not a demo folder doraflow made (no {DEMO_MARKER} "
                "in it), so the demo will not empty it: choose a new or empty folder"
            )
    demo_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        "Made by `doraflow demo`. Every `doraflow demo --warehouse-dir` on this folder empties it first.\n",
        encoding="utf-8",
    )
    return demo_dir


def _write_demo_catalog(demo_dir: Path, config) -> Path:
    """The demo organisation's service catalog: two services per team, the first repositories' Jira projects,
    and the unmapped PagerDuty service ("legacy-billing", no repository) owned by the first team. Shows
    SERVICE_CATALOG_PATH at work; with the simulator's monorepo, its first repository is listed under two
    services (simulator.monorepo_catalog_rows)."""
    from simulator import monorepo_catalog_rows
    from simulator.config import JIRA_PROJECT_KEYS
    from simulator.teams import TEAMS, team_of_repository  # the teams responders and reviewers are picked by

    demo_dir.mkdir(parents=True, exist_ok=True)
    rows = ["service,team,github_repository,environment_pattern,path_prefixes,jira_project_key"]
    for index in range(config.repositories):
        service = config.service_name(index)
        team = TEAMS[team_of_repository(index)]
        # the simulator's repository i links issues of Jira project i (mod the projects): the first ones own them
        jira_key = JIRA_PROJECT_KEYS[index] if index < config.jira_projects else ""
        if index == 0 and config.monorepo:
            monorepo = monorepo_catalog_rows(config)
            rows.extend(
                ",".join((name, team, *rest, jira_key if number == 0 else ""))
                for number, (name, *rest) in enumerate(monorepo)
            )
            continue
        rows.append(f"{service},{team},{config.owner}/{service},,,{jira_key}")
    rows.append(f"legacy-billing,{TEAMS[0]},,,,")
    path = demo_dir / "service_catalog.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _write_demo_team_members(demo_dir: Path, config) -> Path:
    """The demo organisation's people by team (TEAM_MEMBERS_PATH at work, for the siloed-operations signal);
    one person is left out, so unmapped responders and reviewers show up counted apart."""
    from simulator import team_member_rows

    rows = ["team,github_login,pagerduty_user_id,name"]
    rows.extend(",".join(row) for row in team_member_rows(config))
    path = demo_dir / "team_members.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def cmd_simulate(args: argparse.Namespace, settings: Settings | None) -> int:
    from simulator import serve_forever

    serve_forever(_simulator_config(args), print_fn=_print)
    return 0


def cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.ops import new_run_id
    from doraflow.pipeline import Handoff, run_step
    from doraflow.warehouse import run_lock

    with run_lock(settings, new_run_id("cli")):  # two extracts at once would land the same records twice
        results = run_step("extract", settings, _print, Handoff(sources=args.sources or None))
    records = sum(result.records for result in results)
    requests = sum(result.requests for result in results)
    _print(f"extracted {records} record(s) in {len(results)} stream(s) with {requests} request(s)")
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.pipeline import run_step

    run_step("load", settings, _print)  # runs the landing gate on exactly what it loads
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.raw_loader import replay_landing

    replay_landing(settings, progress=_print)
    return 0


def cmd_transform(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.pipeline import Handoff, run_step

    run_step("transform", settings, _print, Handoff(full_build=args.full_build, select=args.select))
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.pipeline import run_step

    if args.what in ("landing", "all"):
        run_step("check_landing", settings, _print)
    if args.what in ("marts", "all"):
        run_step("check_marts", settings, _print)  # a pass here is what `doraflow publish` requires
    return 0


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.pipeline import run_step

    run_step("publish", settings, _print)  # refuses marts that have not passed the marts gate
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.report import write_report

    path = write_report(settings, output=Path(args.output) if args.output else None)
    _print(f"report: {path.resolve()}")
    return 0


def cmd_summary(args: argparse.Namespace, settings: Settings) -> int:
    from doraflow.summary import SummaryRequest, print_summary, print_value_stream

    if args.value_stream:
        print_value_stream(settings, args.value_stream, progress=_print)
        return 0
    teams = args.team is not None
    request = SummaryRequest(
        period=args.period,
        dimension="team" if teams else "service",
        names=tuple(name for name in (args.team if teams else args.service or []) if name),
        output_format=args.format,
    )
    print_summary(settings, progress=_print, request=request)
    return 0


def cmd_landing(args: argparse.Namespace, settings: Settings) -> int:
    """`doraflow landing quarantine BATCH_ID`: the recovery for a batch the loader cannot read."""
    from doraflow.errors import LoadError
    from doraflow.raw_loader import loaded_batch_ids
    from extractors.landing import find_batch, quarantine_batch

    if find_batch(settings.landing_dir, args.batch_id) is None:
        raise LoadError(f"no landed batch {args.batch_id} under {settings.landing_dir} (see its folders)")
    if args.batch_id in loaded_batch_ids(settings):
        raise LoadError(
            f"batch {args.batch_id} is already merged into raw; moving it aside would not remove its rows "
            "(use `doraflow replay` to rebuild raw from the batches that remain)"
        )
    target = quarantine_batch(settings.landing_dir, args.batch_id)
    _print(f"moved {args.batch_id} to {target}; the next run re-extracts what it held")
    return 0


def _simulator_config(args: argparse.Namespace):
    from simulator import SimulatorConfig

    return SimulatorConfig(
        seed=args.seed,
        repositories=args.repositories,
        services=args.repositories,  # one PagerDuty service per repository, plus the simulator's unmapped one
        days=args.days,
        deploys_per_day=args.deploys_per_day,
        multi_region=args.multi_region,
        monorepo=args.monorepo,
        ports={api: getattr(args, f"{api}_port", 0) for api in ("github", "jira", "pagerduty")},
    )


def _add_simulator_options(parser: argparse.ArgumentParser, *, days: int, untidy: bool = False) -> None:
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic organisation (default 7)")
    on_off = "on" if untidy else "off"
    parser.add_argument(
        "--multi-region",
        action=argparse.BooleanOptionalAction,
        default=untidy,
        help=f"production in two regions, production-eu then production-us, same sha (default {on_off})",
    )
    parser.add_argument(
        "--monorepo",
        action=argparse.BooleanOptionalAction,
        default=untidy,
        help="the first repository is a monorepo of two services, split by environment and by paths "
        f"(default {on_off})",
    )
    parser.add_argument(
        "--repositories", type=int, default=4, help="number of repositories/services (default 4)"
    )
    parser.add_argument("--days", type=int, default=days, help=f"days of history (default {days})")
    parser.add_argument(
        "--deploys-per-day",
        type=float,
        default=2.0,
        help="production deployments per repository and day (default 2)",
    )


def _add_full_build_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full-build",
        action="store_true",
        help="run the dbt build even when nothing changed since the last successful one (no raw row loaded or changed, same "
        "settings, reporting date, dbt project and service catalog), which is otherwise skipped in one line "
        "(also: TRANSFORM_SKIP_UNCHANGED=false); after a skipped build, `run` also skips publish when the "
        "serving copy, exports and report in place were published from the same build on the same day",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doraflow",
        description="DORA and flow metrics warehouse: GitHub, Jira and PagerDuty -> DuckDB/PostgreSQL -> dbt marts.",
        epilog=CONFIGURATION_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"doraflow {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, summary: str, *, needs_settings: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=CONFIGURATION_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler, needs_settings=needs_settings)
        return sub

    run = command(
        "run",
        cmd_run,
        "One full pipeline run against the configured sources: incremental extract, load, dbt build, "
        "quality checks, publish; then print the DORA summary.",
    )
    run.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="limit the extract to these sources (github, jira, pagerduty); default: all configured",
    )
    run.add_argument(
        "--allow-no-source",
        action="store_true",
        help="run even when no source is configured: rebuild and publish from the batches already landed "
        "(without it, such a run fails with 'no source configured')",
    )
    _add_full_build_option(run)

    demo = command(
        "demo",
        cmd_demo,
        "Start the bundled simulator of GitHub, Jira and PagerDuty on free loopback ports, run the whole "
        "pipeline against it into a fresh demo warehouse, print the DORA summary and write the report.",
        needs_settings=False,
    )
    _add_simulator_options(demo, days=90, untidy=True)
    demo.add_argument(
        "--warehouse-dir",
        default="warehouse/demo",
        help="folder of the demo warehouse (default warehouse/demo): a new or empty folder, or one an "
        f"earlier demo made (it holds {DEMO_MARKER}), which is emptied first; any other folder is refused",
    )

    simulate = command(
        "simulate",
        cmd_simulate,
        "Serve the simulator in the foreground; prints its URLs and the export lines to point doraflow at it.",
        needs_settings=False,
    )
    _add_simulator_options(simulate, days=90)
    for api, label in (("github", "GitHub"), ("jira", "Jira"), ("pagerduty", "PagerDuty")):
        simulate.add_argument(
            f"--{api}-port",
            type=int,
            default=0,
            help=f"fixed port of the {label} server (default: a free one)",
        )

    extract = command(
        "extract",
        cmd_extract,
        "Incremental extract of the configured sources into landing batches (no warehouse writes).",
    )
    extract.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="github, jira, pagerduty (default: every configured source)",
    )
    command(
        "load",
        cmd_load,
        "Check the landed batches not loaded yet (landing gate) and merge the ones that pass into the raw tables.",
    )
    command(
        "replay", cmd_replay, "Rebuild the raw tables from every landed batch (e.g. into an empty warehouse)."
    )
    transform = command(
        "transform",
        cmd_transform,
        "dbt build: staging, intermediate and marts, with all dbt data tests (dbt's unit tests run in CI; skipped "
        "when nothing changed since the last successful build).",
    )
    _add_full_build_option(transform)
    transform.add_argument(
        "--select",
        metavar="SELECTION",
        default=None,
        help="build only these dbt nodes (dbt's selection syntax, e.g. 'fct_incidents+'): a partial build, after "
        "which the marts gate checks only the marts it rebuilt, and the next run builds everything",
    )
    check = command(
        "check",
        cmd_check,
        "Great Expectations checks on the pending landed batches and/or the marts (after a partial build, `doraflow "
        "transform --select`, only the marts it rebuilt when the gate had passed the others before it).",
    )
    check.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=["landing", "marts", "all"],
        help="what to check (default all)",
    )
    command(
        "publish",
        cmd_publish,
        "Publish the serving copy, the Parquet exports and the HTML report, of marts that passed the marts gate "
        "(`doraflow check marts`) since they were last built.",
    )
    report = command("report", cmd_report, "Write the self-contained HTML DORA report from the marts.")
    report.add_argument("--output", help="where to write it (default: next to the warehouse)")
    summary = command(
        "summary",
        cmd_summary,
        "Print the DORA summary from the published marts: by default the report's period (the latest complete "
        "month, else week), every service with the organisation first; as a table, then CI jobs by stage "
        "(marts.ci_stage_metrics, with GITHUB_CI_JOBS) for the same period.",
    )
    summary.add_argument(
        "--period",
        metavar="PERIOD",
        help="a month YYYY-MM (e.g. 2026-10) or an ISO week YYYY-Www (e.g. 2026-W43); default: the report's",
    )
    scope = summary.add_mutually_exclusive_group()
    scope.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="only this service (repeat for several); default: every service",
    )
    scope.add_argument(
        "--team",
        nargs="?",
        action="append",
        const="",
        metavar="NAME",
        help="by team (marts.dora_metrics_by_team) instead of by service; with NAME only that team (repeatable)",
    )
    summary.add_argument(
        "--format",
        choices=["table", "csv", "json", "markdown"],
        default="table",
        help="table (default), csv or json (values unrounded, for scripts), markdown (for a pull request or wiki)",
    )
    summary.add_argument(
        "--value-stream",
        metavar="SERVICE",
        help="print the value stream of one service instead: stage medians, bottleneck, CI, anti-patterns",
    )
    landing = command("landing", cmd_landing, "Manage landed batches (see docs/operations.md).")
    landing_actions = landing.add_subparsers(dest="action", required=True, metavar="ACTION")
    quarantine = landing_actions.add_parser(
        "quarantine",
        help="move an unreadable batch aside into <landing>/_quarantine; the next run re-extracts its data",
        description="Move a landed batch that is not merged yet into <landing>/_quarantine/<source>/<stream>/ "
        "and drop its stream's state cache, so the next `doraflow run` derives the state from the batches "
        "that remain and re-extracts what the batch held.",
    )
    quarantine.add_argument("batch_id", metavar="BATCH_ID", help="the batch id named by the error")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings() if args.needs_settings else None
        return args.handler(args, settings)
    except USER_ERRORS as error:
        print(f"doraflow {args.command}: error: {error}", file=sys.stderr, flush=True)
        return 2 if error.__class__.__name__ == "ConfigError" else 1
    except KeyboardInterrupt:
        print(f"doraflow {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
