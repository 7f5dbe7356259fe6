"""A nightly `doraflow run` with nothing changed at the sources, per step (never part of pytest).

    .venv/bin/python benchmarks/benchmark_nightly.py                          # 4 repositories x 90 days
    .venv/bin/python benchmarks/benchmark_nightly.py --repositories 40 --days 180 --runs 3

Against the simulator (in its own process), into a fresh warehouse: a first `doraflow run` (the backfill and the
first build), then `--runs` runs with nothing changed at the sources, then one more with `--full-build` (the same
run when the dbt build is not skipped: what every nightly cost before builds were skipped). Each run is the CLI in
a child process, so its wall time includes Python's start and imports, as a scheduler sees it; the time of each
step comes from the run's rows in ops.step_runs (and whether the build and publish were skipped). Reports the
minimum wall time of the unchanged runs with that run's steps (goal: under 5 s, docs/architecture.md), the forced
build's, and each child's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_extract import RemoteSimulator  # noqa: E402

from simulator import SimulatorConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run_cli(env: dict[str, str], warehouse: Path, *extra: str) -> dict:
    """One `doraflow run` in a child process: wall seconds, peak RSS, its steps' seconds from ops.step_runs."""
    doraflow = Path(sys.executable).with_name("doraflow")
    started = time.monotonic()
    child = subprocess.Popen(
        [str(doraflow), "run", *extra],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"doraflow run {' '.join(extra)} failed:\n{output[-3000:]}")
    run_id = re.search(r"^run (\S+) succeeded", output, re.MULTILINE).group(1)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        steps = connection.execute(
            "select step, duration_seconds from ops.step_runs where run_id = ? order by started_at", [run_id]
        ).fetchall()
    return {
        "wall_seconds": round(wall, 2),
        "steps": {step: round(seconds, 2) for step, seconds in steps},
        "transform_skipped": "dbt build skipped:" in output,
        "publish_skipped": "publish skipped:" in output,
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repositories", type=int, default=4)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3, help="unchanged runs; the fastest is reported")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the warehouse goes (default: a temp dir)"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doraflow-bench-nightly-"))
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "dora.duckdb"
    if warehouse.exists():
        raise SystemExit(f"{warehouse} exists: pass an empty --workdir (the first run must be a backfill)")
    print(f"working in {workdir}", flush=True)
    config = SimulatorConfig(
        seed=2026,
        repositories=args.repositories,
        services=min(args.repositories, 16),
        days=args.days,
        jira_projects=4,
        jira_issues_per_project=200,
        github_rate_limit=10**9,
    )
    sim = RemoteSimulator(config)
    try:
        env = {**sim.env(), "WAREHOUSE_PATH": str(warehouse)}
        first = run_cli(env, warehouse)
        print(json.dumps({"first run": first}), flush=True)
        unchanged = []
        for _ in range(args.runs):
            unchanged.append(run_cli(env, warehouse))
            print(json.dumps({"unchanged run": unchanged[-1]}), flush=True)
        forced = run_cli(env, warehouse, "--full-build")
        print(json.dumps({"unchanged run, --full-build": forced}), flush=True)
    finally:
        sim.close()
    best = min(unchanged, key=lambda run: run["wall_seconds"])
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "config": {"repositories": args.repositories, "days": args.days, "runs": args.runs},
        "first_run": first,
        "unchanged_runs": unchanged,
        "unchanged_best": best,
        "unchanged_full_build": forced,
    }
    print()
    print(f"{args.repositories} repositories x {args.days} days; fastest of {args.runs} unchanged runs")
    print("| step | unchanged (build skipped) | unchanged, --full-build |")
    print("|---|---|---|")
    for step in forced["steps"]:
        print(f"| {step} | {best['steps'].get(step, '-')} s | {forced['steps'][step]} s |")
    print(
        f"| `doraflow run`, wall (process start to exit) | {best['wall_seconds']} s | {forced['wall_seconds']} s |"
    )
    print(f"| peak resident memory | {best['peak_rss_mb']} MB | {forced['peak_rss_mb']} MB |")
    if args.output:
        args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
