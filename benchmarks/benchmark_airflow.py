"""Airflow against the CLI on the same data, and the DAG file's parse time (never part of pytest).

    .venv/bin/python benchmarks/benchmark_airflow.py                    # the demo organisation (4 repos, 90 days)
    .venv/bin/python benchmarks/benchmark_airflow.py --repositories 2 --days 20
    .venv/bin/python benchmarks/benchmark_airflow.py --repeat 3   # 3 CLI/Airflow pairs, interleaved; medians

Reports, side by side with the goals of docs/airflow.md:
- parse: seconds to parse dags/dora_nightly.py in a fresh DagBag (Airflow already imported, as in the DAG
  processor), median of 5, and the subprocesses the parse started (goal: under 2 s, none);
- run: wall seconds of `doraflow run` and of `airflow dags test dora_nightly`, each into a fresh warehouse
  against the same simulator organisation (goal: Airflow within 1.3x of the CLI), and the lines each printed;
  with --repeat N, N pairs run one after the other (CLI then Airflow, Airflow then CLI, ...): the medians, their ratio,
  the worst pair's ratio and the load average at the start of each run (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

PARSE_PROBE = r"""
import json, statistics, subprocess, sys, time
from airflow.dag_processing.dagbag import DagBag
started = []
original = subprocess.Popen.__init__
def counting(self, *args, **kwargs):
    started.append(str(args[0] if args else kwargs.get("args"))[:80])
    original(self, *args, **kwargs)
subprocess.Popen.__init__ = counting
seconds = []
for _ in range(5):
    clock = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    seconds.append(time.perf_counter() - clock)
    assert "dora_nightly" in bag.dags, bag.import_errors
print("RESULT" + json.dumps({"median": statistics.median(seconds), "max": max(seconds), "subprocesses": started}))
"""


def _environment(base: dict[str, str], **extra: str) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "DORA_", "GITHUB", "JIRA", "PAGER"))
    }
    return {**clean, **base, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **extra}


def parse_figures(workdir: Path) -> dict:
    env = _environment({}, AIRFLOW_HOME=str(workdir / "parse_home"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                       WAREHOUSE_PATH=str(workdir / "parse_wh" / "dora.duckdb"))  # fmt: skip
    done = subprocess.run([sys.executable, "-c", PARSE_PROBE, str(REPO / "dags" / "dora_nightly.py")], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")]
    if not line:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(line[-1][len("RESULT") :])


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    clock = time.monotonic()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=3600)
    elapsed = time.monotonic() - clock
    if done.returncode:
        log = Path(tempfile.gettempdir()) / "benchmark_airflow_failure.log"
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
        raise SystemExit(f"{' '.join(command)} failed (whole output in {log}):\n{done.stderr[-3000:]}")
    return elapsed, done


def step_seconds(warehouse: Path) -> dict[str, float]:
    """The run's step durations as ops.step_runs recorded them (the same step names under both drivers)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select step, duration_seconds from ops.step_runs order by started_at").fetchall()
    return {step: round(seconds, 1) for step, seconds in rows}


def run_pair(config, workdir: Path, airflow_first: bool = False) -> dict:
    """One `doraflow run` and one `airflow dags test`, each into a fresh warehouse against its own simulator."""
    from simulator import Simulator

    def run_cli() -> tuple[float, subprocess.CompletedProcess, float]:
        # one simulator each (same seed, same organisation): its rate limit budget is per token and hour
        with Simulator(config) as sim:
            env = _environment(sim.env(), WAREHOUSE_PATH=str(workdir / "cli" / "dora.duckdb"))
            load = os.getloadavg()[0]
            return (*timed([str(BIN / "doraflow"), "run"], env, workdir), load)

    def run_airflow() -> tuple[float, subprocess.CompletedProcess, float]:
        with Simulator(config) as sim:
            env = _environment(
                sim.env(),
                WAREHOUSE_PATH=str(workdir / "airflow" / "dora.duckdb"),
                AIRFLOW_HOME=str(workdir / "airflow_home"),
                AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
                AIRFLOW__CORE__LOAD_EXAMPLES="False",
                DORA_EXTRACT_RETRIES="0",
                DORA_TASK_RETRIES="0",
            )
            timed([str(BIN / "airflow"), "db", "migrate"], env, workdir)  # setup, not timed
            timed([str(BIN / "airflow"), "pools", "set", "dora_warehouse", "1", "doraflow single writer"], env,
                  workdir)  # fmt: skip
            load = os.getloadavg()[0]
            return (*timed([str(BIN / "airflow"), "dags", "test", "dora_nightly"], env, workdir), load)

    if airflow_first:  # alternating the order spreads a rising or falling load of a shared machine over both
        af_seconds, airflow, load_airflow = run_airflow()
        cli_seconds, cli, load_cli = run_cli()
    else:
        cli_seconds, cli, load_cli = run_cli()
        af_seconds, airflow, load_airflow = run_airflow()
    cli_steps = step_seconds(workdir / "cli" / "dora.duckdb")
    airflow_steps = step_seconds(workdir / "airflow" / "dora.duckdb")
    return {
        "cli_run_seconds": round(cli_seconds, 1),
        "airflow_dags_test_seconds": round(af_seconds, 1),
        "airflow_over_cli": round(af_seconds / cli_seconds, 2),
        # 1-minute load average when each run started: the machine is shared, other jobs inflate seconds
        "load_average": [round(load_cli, 1), round(load_airflow, 1)],
        "cli_steps_seconds": cli_steps,
        "airflow_steps_seconds": airflow_steps,
        "airflow_outside_steps_seconds": round(af_seconds - sum(airflow_steps.values()), 1),
        "cli_output_lines": len((cli.stdout + cli.stderr).splitlines()),
        "airflow_output_lines": len((airflow.stdout + airflow.stderr).splitlines()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repositories", type=int, default=4)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1,
                        help="CLI/Airflow pairs, run interleaved (order alternating); the ratio of the medians is reported")  # fmt: skip
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.repeat < 1:
        raise SystemExit(f"--repeat must be 1 or more, got {args.repeat}")
    from simulator import SimulatorConfig

    config = SimulatorConfig(seed=args.seed, repositories=args.repositories, services=args.repositories,
                             days=args.days)  # fmt: skip
    pairs = []
    with tempfile.TemporaryDirectory(prefix="doraflow-bench-airflow-") as tmp:
        parse = parse_figures(Path(tmp))
        for number in range(args.repeat):
            workdir = Path(tmp) / f"pair{number}"
            workdir.mkdir()
            pairs.append(run_pair(config, workdir, airflow_first=number % 2 == 1))
            print(f"pair {number + 1}/{args.repeat}: {json.dumps({k: v for k, v in pairs[-1].items() if 'steps' not in k})}",
                  file=sys.stderr, flush=True)  # fmt: skip
    cli_median = statistics.median(p["cli_run_seconds"] for p in pairs)
    airflow_median = statistics.median(p["airflow_dags_test_seconds"] for p in pairs)
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpu(s), Python {platform.python_version()}",
        "organisation": f"{args.repositories} repositories, {args.days} days, seed {args.seed}",
        "parse_seconds_cold": round(parse["max"], 3),  # the first parse in the process: imports included
        "parse_seconds_median": round(parse["median"], 3),
        "parse_goal_seconds": 2.0,
        "parse_subprocesses": parse["subprocesses"],
        "repeat": args.repeat,
        "cli_run_seconds": round(cli_median, 1),  # medians of the pairs
        "airflow_dags_test_seconds": round(airflow_median, 1),
        "airflow_over_cli": round(airflow_median / cli_median, 2),
        "airflow_over_cli_worst_pair": max(p["airflow_over_cli"] for p in pairs),
        "airflow_over_cli_goal": 1.3,
        "pairs": pairs,
    }
    print(json.dumps(figures, indent=2))
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
