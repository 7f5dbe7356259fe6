"""GitHub requests and GraphQL points, REST vs GraphQL, side by side with the bound (never part of pytest).

    .venv/bin/python benchmarks/benchmark_github_api.py                       # 40 repositories x 180 days
    .venv/bin/python benchmarks/benchmark_github_api.py --repositories 5 --days 30

One simulated organisation is extracted twice (GITHUB_API_MODE=rest, then graphql, each into its own landing
folder): a backfill, then, after the clock moved by 1% of the history, a nightly run. For the streams GraphQL
serves (pull request commits and reviews, deployment statuses, comparisons) it prints the requests of each mode
and, for GraphQL, the points GitHub charged (`rateLimit { cost }`), next to the bound counted from the object
counts:

- requests bound: per repository and per connection level, ceil(objects / 100) (a page of 100 children);
  comparisons: ceil(range commits / 100), at least 1 where there is a pair (a page of `history`);
- points bound: per repository and level, ceil(requests-to-fill / 100) with every `first` sized exactly:
  one connection per parent (commits, reviews, statuses) plus, for commits, one `parents` connection each;
  comparisons: one `history` connection per page plus one `parents` connection per range commit.

Nightly: the same, counting only the objects the run landed (changed) and their parents. The other GitHub
streams (pull request, commit, deployment, run and release listings) are REST in both modes; the requests of
every stream are in `requests_by_stream` of each phase (printed as JSON, and in --output). All GitHub requests
are also set beside a bound: the one above plus, per repository and listing, max(1, ceil(landed / 100)) (a page
of 100, and at least one request to learn that nothing changed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_extract import RemoteSimulator  # noqa: E402

from doraflow.config import load_settings  # noqa: E402
from extractors import extract_sources  # noqa: E402
from extractors.landing import ScopeIndex  # noqa: E402
from simulator import SimulatorConfig  # noqa: E402

GRAPHQL_STREAMS = ("pull_request_commits", "pull_request_reviews", "deployment_statuses")
COMPARE_STREAMS = ("comparisons", "comparison_commits")  # pairs, and the commits of their ranges
SERVED = (*GRAPHQL_STREAMS, "comparisons")
LISTINGS = ("pull_requests", "commits", "deployments", "workflow_runs", "releases")  # REST in both modes
PARENT = {
    "pull_request_commits": "pull_requests",
    "pull_request_reviews": "pull_requests",
    "deployment_statuses": "deployments",
}


def _quiet(line: str) -> None:
    pass


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def bound(children: dict[str, Counter], parents: dict[str, Counter]) -> tuple[int, int]:
    """(requests, points) bound over repositories and levels from child and parent counts."""
    requests = points = 0
    for repo, pairs in children["comparisons"].items():
        if pairs == 0:
            continue
        pages = max(1, math.ceil(children["comparison_commits"][repo] / 100))
        requests += pages
        points += max(1, math.ceil((children["comparison_commits"][repo] + pages) / 100))
    for stream in GRAPHQL_STREAMS:
        for repo, count in children[stream].items():
            if count == 0:
                continue
            requests += math.ceil(count / 100)
            fill = parents[stream][repo] + (count if stream == "pull_request_commits" else 0)
            points += max(1, math.ceil(fill / 100))
    return requests, points


def landed(settings, stream: str, after: dict[str, str | None]) -> tuple[Counter, Counter]:
    """Per repository: records landed after `after` and their distinct parents."""
    records, parents = Counter(), Counter()
    for repo in settings.github.repos:
        index = ScopeIndex(settings.landing_dir, "github", stream, repo)
        seen = set()
        for batch in index.batches_after(after.get(repo)):
            for parent_id, _payload in index.read_batch(batch):
                records[repo] += 1
                seen.add(parent_id)
        parents[repo] = len(seen)
    return records, parents


def marks(settings) -> dict[str, dict[str, str | None]]:
    out = {}
    for stream in (*GRAPHQL_STREAMS, *COMPARE_STREAMS, *LISTINGS):
        out[stream] = {}
        for repo in settings.github.repos:
            batches = ScopeIndex(settings.landing_dir, "github", stream, repo).batches_after(None)
            out[stream][repo] = batches[-1] if batches else None
    return out


def run(settings) -> dict:
    clock = time.monotonic()
    results = extract_sources(settings, ["github"], progress=_quiet)
    seconds = time.monotonic() - clock
    served = [r for r in results if r.stream in SERVED]
    by_stream: Counter = Counter()
    records_by_stream: Counter = Counter()
    for r in results:
        by_stream[r.stream] += r.requests
        records_by_stream[r.stream] += r.records
    return {
        "github_requests": sum(r.requests for r in results),
        "requests_by_stream": dict(sorted(by_stream.items())),
        "records_by_stream": dict(sorted(records_by_stream.items())),
        "requests": sum(r.requests for r in served),
        "graphql_points": sum(r.graphql_points for r in served),
        "records": sum(r.records for r in served),
        "seconds": round(seconds, 1),
    }


def figures(settings, run_figures: dict, after: dict | None) -> dict:
    children, parents = {}, {}
    for stream in (*GRAPHQL_STREAMS, *COMPARE_STREAMS):
        records, parent_counts = landed(settings, stream, (after or {}).get(stream, {}))
        children[stream], parents[stream] = records, parent_counts
    requests_bound, points_bound = bound(children, parents)
    # every GitHub request: the listings' pages of 100 (at least one per repository, to learn nothing changed)
    listing_bound = 0
    for stream in LISTINGS:
        records, _parents = landed(settings, stream, (after or {}).get(stream, {}))
        listing_bound += sum(max(1, math.ceil(records[repo] / 100)) for repo in settings.github.repos)
    return {
        **run_figures,
        "requests_bound": requests_bound,
        "points_bound": points_bound,
        "github_requests_bound": requests_bound + listing_bound,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repositories", type=int, default=40)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--concurrency", type=int, default=8, help="EXTRACT_CONCURRENCY")
    parser.add_argument("--changed-share", type=float, default=0.01, help="share of the history to advance")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument(
        "--modes",
        default="rest,graphql",
        help="comma-separated GITHUB_API_MODEs to run (default rest,graphql)",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doraflow-bench-gql-"))
    config = SimulatorConfig(
        seed=2026,
        repositories=args.repositories,
        services=min(args.repositories, 16),
        days=args.days,
        jira_projects=1,
        jira_issues_per_project=1,
        github_rate_limit=10**9,  # count points, never wait for them
    )
    clock = time.monotonic()
    sim = RemoteSimulator(config)
    phases: dict[str, dict] = {}
    try:
        print(f"simulator ready in {time.monotonic() - clock:.0f} s, working in {workdir}", flush=True)
        settings = {
            mode: load_settings(
                {
                    **sim.env(),
                    "WAREHOUSE_PATH": str(workdir / mode / "dora.duckdb"),
                    "LANDING_DIR": str(workdir / mode / "landing"),
                    "EXTRACT_CONCURRENCY": str(args.concurrency),
                    "GITHUB_API_MODE": mode,
                }
            )
            for mode in args.modes.split(",")
        }
        for mode, s in settings.items():
            phases[f"backfill {mode}"] = figures(s, run(s), None)
            print(json.dumps({f"backfill {mode}": phases[f"backfill {mode}"]}), flush=True)
        after = {mode: marks(s) for mode, s in settings.items()}
        hours = args.days * 24 * args.changed_share
        sim.advance(hours)
        for mode, s in settings.items():
            phases[f"nightly {mode}"] = figures(s, run(s), after[mode])
            print(json.dumps({f"nightly {mode}": phases[f"nightly {mode}"]}), flush=True)
    finally:
        sim.close()

    print()
    print(
        f"{args.repositories} repositories x {args.days} days; nightly = +{hours:.0f} h ({args.changed_share:.0%})"
    )
    print(
        "| run | REST requests | GraphQL queries | GraphQL points | bound: requests / points | ratio: requests / points |"
    )
    print("|---|---|---|---|---|---|")
    missing = {"requests": "-", "github_requests": "-"}
    for phase in ("backfill", "nightly"):
        rest, graphql = phases.get(f"{phase} rest", missing), phases[f"{phase} graphql"]
        req_ratio = (
            graphql["requests"] / graphql["requests_bound"] if graphql["requests_bound"] else float("nan")
        )
        pts_ratio = (
            graphql["graphql_points"] / graphql["points_bound"] if graphql["points_bound"] else float("nan")
        )
        print(
            f"| {phase} | {_n(rest['requests'])} | {graphql['requests']:,} | {graphql['graphql_points']:,} | "
            f"{graphql['requests_bound']:,} / {graphql['points_bound']:,} | {req_ratio:.2f}x / {pts_ratio:.2f}x |"
        )
    for phase in ("backfill", "nightly"):
        graphql = phases[f"{phase} graphql"]
        print(
            f"all GitHub requests with GraphQL, {phase}: {graphql['github_requests']:,} vs bound "
            f"{graphql['github_requests_bound']:,} (listings' pages + the above) = "
            f"{graphql['github_requests'] / max(graphql['github_requests_bound'], 1):.2f}x; by stream: "
            + ", ".join(f"{k} {v:,}" for k, v in graphql["requests_by_stream"].items())
        )
    print(
        "all GitHub requests (REST listings included): backfill "
        f"{_n(phases.get('backfill rest', missing)['github_requests'])} REST vs "
        f"{phases['backfill graphql']['github_requests']:,} with GraphQL; nightly "
        f"{_n(phases.get('nightly rest', missing)['github_requests'])} vs "
        f"{phases['nightly graphql']['github_requests']:,}"
    )
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "config": {k: str(v) for k, v in vars(args).items()},
        "phases": phases,
    }
    if args.output:
        args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
