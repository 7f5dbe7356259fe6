"""Every benchmark on one simulated organisation, and their ratios in one table (`make benchmark`).

    .venv/bin/python benchmarks/run_all.py                                  # 4 repositories x 60 days, minutes
    .venv/bin/python benchmarks/run_all.py --repos 40 --days 180 --repeat 3 # the organisation of issue 13
    make benchmark ARGS="--repos 40 --days 180"

It measures nothing itself: it runs the benchmark scripts beside it, each in a child process with the same
simulated organisation (the simulator's seed 2026, `--repos` repositories, `--days` days of history), each writing
its figures with `--output`, and reads them back:

- benchmark_github_api.py: GitHub requests and GraphQL points of a backfill and a nightly (+1 % of the history),
  beside the bound counted from the object counts;
- benchmark_load.py: the raw loader's backfill and incremental load beside DuckDB's read_json + upsert of the
  same files;
- benchmark_gates.py (when present): both quality gates beside the same checks as plain SQL;
- benchmark_nightly.py: `doraflow run` with nothing changed at the sources, per step, and with `--full-build`;
- benchmark_transform.py: `doraflow transform --full-build` on that warehouse (with the bound beside it when the
  script reports one);
- benchmark_airflow.py with `--airflow` (slow: a whole run under `airflow dags test`).

Each ratio is project / bound (1.0x = as fast or as cheap as the bound; lower is better), as in issue 13's table;
the peak resident memory is each child's (its own and its children's, e.g. the simulator's, largest). The
figures of every script stay in `--workdir` (`<name>.json`), and the table and all figures go to `--output`.
A script's failure is reported in its row and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_script(name: str, args: list[str], workdir: Path) -> dict:
    """Run benchmarks/<name>.py in a child process: its JSON figures, wall seconds, peak RSS, log."""
    output = workdir / f"{name}.json"
    log = workdir / f"{name}.log"
    output.unlink(missing_ok=True)
    command = [sys.executable, str(HERE / f"{name}.py"), *args, "--output", str(output)]
    print(f"== {name}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as handle:
        child = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=HERE.parent)
        _, status, usage = os.wait4(child.pid, 0)
    figures = {
        "wall_seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "log": str(log),
    }
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not output.is_file():
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
        figures["error"] = f"exit {code}: {tail[0][:200]}"
        print(f"   failed ({figures['error']}); log: {log}", flush=True)
        return figures
    figures["figures"] = json.loads(output.read_text(encoding="utf-8"))
    print(f"   done in {figures['wall_seconds']} s, peak {figures['peak_rss_mb']} MB", flush=True)
    return figures


def _ratio(project: float | None, bound: float | None) -> str:
    if project is None or not bound:
        return "-"
    return f"{project / bound:.2f}x"


def _n(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value:,.2f}{unit}"


def rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """(step, project, bound measured beside it, ratio, peak memory) for each figure of issue 13's table."""
    table = []

    def failed(step: str, script: str) -> bool:
        result = results.get(script)
        if result is None:
            return True
        if "error" in result:
            table.append((step, f"{script} failed: {result['error']}", "-", "-", "-"))
            return True
        return False

    def peak(script: str) -> str:
        return f"{results[script]['peak_rss_mb']:,} MB"

    if not failed("backfill requests (GraphQL streams)", "benchmark_github_api"):
        phases = results["benchmark_github_api"]["figures"]["phases"]
        for phase, step in (("backfill", "backfill"), ("nightly", "nightly (+1 % changed)")):
            graphql = phases.get(f"{phase} graphql")
            if graphql is None:
                continue
            rest = phases.get(f"{phase} rest", {}).get("requests")
            table.append(
                (
                    f"{step} requests, streams GraphQL serves",
                    f"{graphql['requests']:,} GraphQL queries" + (f" (REST: {rest:,})" if rest else ""),
                    f"{graphql['requests_bound']:,}",
                    _ratio(graphql["requests"], graphql["requests_bound"]),
                    peak("benchmark_github_api"),
                )
            )
            everything = phases.get(f"{phase} rest", {}).get("github_requests")
            listed = graphql.get("github_requests_bound")
            table.append(
                (
                    f"{step}, all GitHub requests (REST listings included)",
                    f"{graphql['github_requests']:,}"
                    + (f" (REST only: {everything:,})" if everything else ""),
                    f"{listed:,} (listing pages + the above)" if listed else "-",
                    _ratio(graphql["github_requests"], listed) if listed else "-",
                    peak("benchmark_github_api"),
                )
            )
            table.append(
                (
                    f"{step} GraphQL points",
                    f"{graphql['graphql_points']:,}",
                    f"{graphql['points_bound']:,}",
                    _ratio(graphql["graphql_points"], graphql["points_bound"]),
                    peak("benchmark_github_api"),
                )
            )
    if not failed("load", "benchmark_load"):
        figures = results["benchmark_load"]["figures"]
        for phase, step in (("backfill", "full load"), ("incremental", "incremental load")):
            load = figures["results"][phase]
            table.append(
                (
                    f"{step} ({load['batches']:,} batches)",
                    _n(load["doraflow_seconds"], " s"),
                    f"{_n(load['bound_seconds'], ' s')} (DuckDB read_json + upsert)",
                    _ratio(load["doraflow_seconds"], load["bound_seconds"]),
                    peak("benchmark_load"),
                )
            )
    if "benchmark_gates" in results and not failed("quality gates", "benchmark_gates"):
        # benchmark_gates.py's JSON: {"gates": [{"gate", "checks", "gate_seconds", "bound_seconds"}, ...]}
        for gate in results["benchmark_gates"]["figures"].get("gates", []):
            table.append(
                (
                    f"{gate['gate']} gate ({gate.get('checks', '?')} checks)",
                    _n(gate["gate_seconds"], " s"),
                    f"{_n(gate['bound_seconds'], ' s')} (same checks as SQL)",
                    _ratio(gate["gate_seconds"], gate["bound_seconds"]),
                    peak("benchmark_gates"),
                )
            )
    if not failed("dbt build", "benchmark_transform"):
        build = results["benchmark_transform"]["figures"]["builds"][0]
        bound = build.get("compiled_sql_seconds")  # when the script measures the compiled models' SQL alone
        table.append(
            (
                "dbt build (all models and tests)",
                _n(build["wall_seconds"], " s"),
                f"{_n(bound, ' s')} (compiled SQL alone)"
                if bound
                else "- (not measured by benchmark_transform.py)",
                _ratio(build["wall_seconds"], bound),
                f"{build['peak_rss_mb']:,} MB",
            )
        )
    if not failed("nightly run", "benchmark_nightly"):
        figures = results["benchmark_nightly"]["figures"]
        best, forced = figures["unchanged_best"], figures["unchanged_full_build"]
        steps = ", ".join(f"{step} {seconds:.1f}" for step, seconds in best["steps"].items())
        table.append(
            (
                "nightly `doraflow run`, nothing changed",
                f"{best['wall_seconds']:.1f} s ({steps})",
                f"goal 5 s; with --full-build {forced['wall_seconds']:.1f} s",
                _ratio(best["wall_seconds"], 5.0),
                f"{max(best['peak_rss_mb'], forced['peak_rss_mb']):,} MB",
            )
        )
    if "benchmark_airflow" in results and not failed("Airflow run", "benchmark_airflow"):
        figures = results["benchmark_airflow"]["figures"]
        cli, airflow = figures.get("cli_run_seconds"), figures.get("airflow_dags_test_seconds")
        table.append(
            (
                "`airflow dags test` vs `doraflow run`",
                _n(airflow, " s"),
                f"{_n(cli, ' s')} (the CLI)",
                _ratio(airflow, cli),
                peak("benchmark_airflow"),
            )
        )
    return table


def render(table: list[tuple[str, ...]]) -> str:
    lines = ["| step | project | bound measured beside it | ratio | peak memory |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repos", type=int, default=4, help="repositories of the organisation (default 4)")
    parser.add_argument("--days", type=int, default=60, help="days of history (default 60)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each timed figure; the minimum is kept"
    )
    parser.add_argument(
        "--airflow", action="store_true", help="also benchmark_airflow.py (a whole Airflow run)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the scripts work (default: a temp dir)"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="write the table and all figures as JSON here"
    )
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="doraflow-bench-all-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    size = ["--repositories", str(args.repos), "--days", str(args.days)]
    print(f"{args.repos} repositories x {args.days} days, working in {workdir}", flush=True)

    started = time.monotonic()
    results: dict[str, dict] = {}
    results["benchmark_github_api"] = run_script(
        "benchmark_github_api", [*size, "--workdir", str(workdir / "github_api")], workdir
    )
    results["benchmark_load"] = run_script(
        "benchmark_load", [*size, "--repeat", str(args.repeat), "--workdir", str(workdir / "load")], workdir
    )
    gates = HERE / "benchmark_gates.py"
    if gates.is_file() and '"--output"' in gates.read_text(encoding="utf-8"):
        results["benchmark_gates"] = run_script("benchmark_gates", ["--runs", str(args.repeat)], workdir)
    elif gates.is_file():
        results["benchmark_gates"] = {"error": "benchmark_gates.py has no --output: run it alone"}
    nightly = workdir / "nightly"
    if (nightly / "dora.duckdb").exists():  # a rerun in the same --workdir: the first run must be a backfill
        for path in sorted(nightly.iterdir()):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    results["benchmark_nightly"] = run_script(
        "benchmark_nightly", [*size, "--runs", str(max(args.repeat, 2)), "--workdir", str(nightly)], workdir
    )
    if (nightly / "dora.duckdb").is_file():
        results["benchmark_transform"] = run_script(
            "benchmark_transform",
            ["--warehouse", str(nightly / "dora.duckdb"), "--repeat", str(args.repeat)],
            workdir,
        )
    if args.airflow:
        results["benchmark_airflow"] = run_script(
            "benchmark_airflow", [*size, "--seed", "2026", "--repeat", str(args.repeat)], workdir
        )

    table = render(rows(results))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print()
    print(
        f"{args.repos} repositories x {args.days} days (simulator seed 2026), min of {args.repeat} run(s); "
        f"{machine}; {datetime.now(UTC):%Y-%m-%d}; all benchmarks took {time.monotonic() - started:.0f} s"
    )
    print(table)
    if args.output:
        report = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": machine,
            "config": {"repos": args.repos, "days": args.days, "repeat": args.repeat},
            "table": table,
            "results": results,
        }
        args.output.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
