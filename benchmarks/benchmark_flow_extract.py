"""Requests per 100 pull requests for sizes and ready-for-review events, and per 100 runs for CI jobs, each
path side by side with its bound (never part of pytest).

    .venv/bin/python benchmarks/benchmark_flow_extract.py                     # 5 repositories x 60 days
    .venv/bin/python benchmarks/benchmark_flow_extract.py --repositories 2 --days 20

One simulated organisation is backfilled three ways, each into its own landing folder:

- `rest`: GITHUB_API_MODE=rest, GITHUB_PULL_REQUEST_DETAILS and GITHUB_CI_JOBS off (today's cost);
- `rest+details`: the same with both settings on;
- `graphql`: GITHUB_API_MODE=graphql with GITHUB_CI_JOBS on (sizes and events come with the reviews query).

For the pull request task (`pull_request_reviews`, which also lands `pull_request_sizes` and
`pull_request_events`) it prints requests and GraphQL points per 100 pull requests; for `workflow_jobs`,
requests per 100 completed runs (the budget is raised: the three runs share one token). Bounds: REST details cost 2 more requests per pull request (`GET pulls/{n}`
and one page of issue events), so 100 more per 100 and per request kind; GraphQL adds no query, and the points
of a reviews query for n pull requests are round(2n / 100) (one request per pull request for the reviews
connection and one for timelineItems); jobs cost one request per completed run (one page: up to 100 jobs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from doraflow.config import load_settings  # noqa: E402
from extractors import extract_sources  # noqa: E402
from extractors import github_graphql as gql  # noqa: E402
from extractors.landing import ScopeIndex  # noqa: E402
from simulator import Simulator, SimulatorConfig  # noqa: E402

MODES = {
    "rest": {"GITHUB_API_MODE": "rest", "GITHUB_PULL_REQUEST_DETAILS": "false", "GITHUB_CI_JOBS": "false"},
    "rest+details": {
        "GITHUB_API_MODE": "rest",
        "GITHUB_PULL_REQUEST_DETAILS": "true",
        "GITHUB_CI_JOBS": "true",
    },
    "graphql": {
        "GITHUB_API_MODE": "graphql",
        "GITHUB_PULL_REQUEST_DETAILS": "false",
        "GITHUB_CI_JOBS": "true",
    },
}


def _count(settings, stream: str, keep=lambda payload: True) -> int:
    total = 0
    for scope in settings.github.repos:
        index = ScopeIndex(settings.landing_dir, "github", stream, scope)
        for batch in index.batches_after(None):
            total += sum(1 for _, payload in index.read_batch(batch) if keep(payload))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=5)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="doraflow-flow-extract-") as workdir,
        Simulator(
            SimulatorConfig(
                seed=args.seed, repositories=args.repositories, days=args.days, github_rate_limit=1_000_000
            )
        ) as sim,
    ):
        for mode, env in MODES.items():
            gql.forget_unavailable()
            settings = load_settings(
                {
                    **sim.env(),
                    "WAREHOUSE_PATH": str(Path(workdir) / mode / "dora.duckdb"),
                    "LANDING_DIR": str(Path(workdir) / mode / "landing"),
                    **env,
                }
            )
            results = [
                r for r in extract_sources(settings, progress=lambda line: None) if r.source == "github"
            ]
            pulls = _count(settings, "pull_requests")
            runs = _count(settings, "workflow_runs", lambda run: run.get("status") == "completed")
            prs = [r for r in results if r.stream == "pull_request_reviews"]
            jobs = [r for r in results if r.stream == "workflow_jobs"]
            points_bound = sum(
                _points_bound(_count_scope(settings, scope)) for scope in settings.github.repos
            )
            rows.append(
                {
                    "mode": mode,
                    "pulls": pulls,
                    "runs": runs,
                    "pr_requests": sum(r.requests for r in prs),
                    "pr_points": sum(r.graphql_points for r in prs),
                    "points_bound": points_bound if mode == "graphql" else 0,
                    "job_requests": sum(r.requests for r in jobs),
                    "sizes": _count(settings, "pull_request_sizes"),
                    "events": _count(settings, "pull_request_events"),
                }
            )
    base = rows[0]
    print(
        f"{args.repositories} repositories x {args.days} days: {base['pulls']} pull requests, {base['runs']} runs"
    )
    print()
    print(
        "| path | PR task requests / 100 PRs | extra vs REST (bound) | GraphQL points / 100 PRs (bound) "
        "| sizes, events landed | job requests / 100 runs (bound) |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        per_pr = 100 * row["pr_requests"] / row["pulls"]
        extra = 100 * (row["pr_requests"] - base["pr_requests"]) / row["pulls"]
        extra_bound = 200 if row["mode"] == "rest+details" else 0
        points = 100 * row["pr_points"] / row["pulls"]
        points_bound = 100 * row["points_bound"] / row["pulls"]
        jobs = 100 * row["job_requests"] / row["runs"]
        jobs_bound = 100 if row["mode"] != "rest" else 0
        print(
            f"| {row['mode']} | {per_pr:.1f} | {extra:+.1f} ({extra_bound:+d}) | {points:.1f} ({points_bound:.1f}) "
            f"| {row['sizes']}, {row['events']} | {jobs:.1f} ({jobs_bound}) |"
        )


def _points_bound(pulls: int) -> int:
    """Points of the reviews first passes of one repository: per query of g pull requests, round(2g / 100)."""
    groups = [100] * (pulls // 100) + ([pulls % 100] if pulls % 100 else [])
    return sum(max(1, round(2 * g / 100)) for g in groups)


def _count_scope(settings, scope: str) -> int:
    index = ScopeIndex(settings.landing_dir, "github", "pull_requests", scope)
    return sum(len(list(index.read_batch(batch))) for batch in index.batches_after(None))


if __name__ == "__main__":
    main()
