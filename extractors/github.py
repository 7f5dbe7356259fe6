"""GitHub REST streams, one function per stream (registered in `STREAM_FUNCTIONS`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from doraflow.errors import SourceError
from extractors.core import ChangeFilter, StreamContext, iso, parse_time, payload_hash, unique
from extractors.github_graphql import TIMELINE_FIRST, GraphQLUnavailable, children, fall_back, use_graphql
from extractors.github_graphql_compare import compare_ranges
from extractors.http import RepeatedPageGuard, Response
from extractors.streams import dig

PER_PAGE = 100
FINAL_DEPLOYMENT_STATES = {"failure", "error", "inactive"}
WATCH_DAYS = 30  # a deployment without a final status is re-read for this long
COMPARISONS_PER_BATCH = 50


def pages(
    ctx: StreamContext,
    path: str,
    params: dict | None = None,
    *,
    etag: str | None = None,
    allow_status: tuple[int, ...] = (),
    items_of=lambda body: body,
) -> Iterator[Response]:
    """Follow GitHub's `Link: rel="next"` URLs; the first request is conditional on `etag`.

    A page answering with the previous page's items is re-requested (up to HTTP_MAX_RETRIES times).
    """
    guard = RepeatedPageGuard()
    url, query, conditional = path, params, etag
    visited: set[str] = set()
    while url:
        for _attempt in range(ctx.client.max_retries + 1):
            response = ctx.client.get(url, params=query, etag=conditional, allow_status=allow_status)
            if response.not_modified or response.status in allow_status:
                yield response
                return
            items = items_of(response.body)
            if not isinstance(items, list):
                raise SourceError(
                    f"github: unexpected answer shape for GET {response.url.split('?')[0]} "
                    f"(expected a list, got {type(items).__name__})"
                )
            if not guard.is_repeat(items):
                break
            ctx.client.counters.retries += 1
        else:
            raise SourceError(
                f"github: GET {url} keeps answering with the previous page's items; rerun later"
            )
        guard.accept(items)
        visited.add(response.url)
        yield response
        url, query, conditional = response.links.get("next"), None, None
        if url in visited:
            raise SourceError(f"github: pagination loops back to {url}; rerun later")


def _repo(ctx: StreamContext) -> str:
    return f"repos/{ctx.scope}"


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _sweep_desc(
    ctx: StreamContext,
    path: str,
    params: dict,
    cursor_path: tuple[str, ...],
    key: str,
    floor: datetime | None = None,
) -> None:
    """Lists sorted by `cursor_path` descending: land changed records down to the watermark - overlap.

    Records already landed unchanged are skipped by the `recent` map, which keeps every record down to
    the start of the day of the next floor (so a re-read of that day lands nothing)."""
    state = ctx.state
    floor = ctx.floor(state.get("watermark")) if floor is None else floor
    changes = ChangeFilter(state.get("recent"))
    watermark = parse_time(state.get("watermark"))
    new_etag = state.get("etag")
    for number, response in enumerate(pages(ctx, path, params, etag=state.get("etag"), allow_status=(409,))):
        if response.not_modified or response.status == 409:  # 409: empty repository
            return
        if number == 0:
            new_etag = response.etag
        stop = False
        for item in response.body:
            cursor = parse_time(dig(item, cursor_path))
            if cursor is not None and cursor < floor:
                stop = True
                break
            identity = dig(item, (key,))
            if cursor is not None:
                watermark = cursor if watermark is None or cursor > watermark else watermark
            if identity is None or changes.changed(str(identity), cursor, item):
                ctx.add(None, item)
        if stop:
            break
    next_floor = ctx.floor(iso(watermark)) if watermark else None
    ctx.flush(
        {
            "watermark": iso(watermark) if watermark else state.get("watermark"),
            "etag": new_etag,
            "recent": changes.state(_day(next_floor) if next_floor else None),
        }
    )


def pull_requests(ctx: StreamContext) -> None:
    params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}
    _sweep_desc(ctx, f"{_repo(ctx)}/pulls", params, ("updated_at",), "number")


def commits(ctx: StreamContext) -> None:
    """Default-branch commits. First run: `since` the start date. Then: the head commit (first page, with
    its ETag: unchanged = a free 304), and `compare/<previous head>...<head>` for everything new, which
    includes commits merged from branches with old dates that a `since` filter would miss. After a force
    push (compare not `ahead`) it falls back to `since` the watermark minus 30 days."""
    state = ctx.state
    path = f"{_repo(ctx)}/commits"
    first = next(pages(ctx, path, {"per_page": PER_PAGE}, etag=state.get("etag"), allow_status=(409,)))
    if first.not_modified or first.status == 409 or not first.body:  # 409: empty repository
        return
    head = first.body[0].get("sha") if isinstance(first.body[0], dict) else None
    previous = state.get("head")
    watermark = parse_time(state.get("watermark"))
    status = None
    if previous and head and previous != head:
        items_of = lambda body: body.get("commits") if isinstance(body, dict) else None  # noqa: E731
        for response in pages(
            ctx,
            f"{_repo(ctx)}/compare/{previous}...{head}",
            {"per_page": PER_PAGE},
            allow_status=(404,),
            items_of=items_of,
        ):
            status = response.body.get("status") if response.status == 200 else "missing"
            if status not in ("ahead", "identical"):
                break
            for commit in items_of(response.body):
                cursor = parse_time(dig(commit, ("commit", "committer", "date")))
                if cursor is not None and (watermark is None or cursor > watermark):
                    watermark = cursor
                ctx.add(None, commit)
    if not previous or (head != previous and status not in ("ahead", "identical")):
        if previous:
            ctx.progress(
                f"github commits {ctx.scope}: history rewritten ({status}); re-reading the last 30 days"
            )
        floor = _day(ctx.floor(state.get("watermark"), timedelta(days=30)))
        for response in pages(ctx, path, {"since": iso(floor), "per_page": PER_PAGE}, allow_status=(409,)):
            if response.status == 409:
                break
            for commit in response.body:
                cursor = parse_time(dig(commit, ("commit", "committer", "date")))
                if cursor is not None and (watermark is None or cursor > watermark):
                    watermark = cursor
                ctx.add(None, commit)
    ctx.flush(
        {
            "watermark": iso(watermark) if watermark else state.get("watermark"),
            "etag": first.etag,
            "head": head,
        }
    )


def deployments(ctx: StreamContext) -> None:
    _sweep_desc(ctx, f"{_repo(ctx)}/deployments", {"per_page": PER_PAGE}, ("created_at",), "id")


def releases(ctx: StreamContext) -> None:
    _sweep_desc(ctx, f"{_repo(ctx)}/releases", {"per_page": PER_PAGE}, ("created_at",), "id")


def workflow_runs(ctx: StreamContext) -> None:
    """Runs created since min(watermark - overlap, oldest run not completed), so open runs are re-read."""
    state = ctx.state
    floor = ctx.floor(state.get("watermark"))
    open_runs: dict[str, str] = dict(state.get("open", {}))
    for created in open_runs.values():
        moment = parse_time(created)
        if moment is not None and moment < floor:
            floor = moment
    floor = _day(floor)
    params = {"created": f">={floor.date().isoformat()}", "per_page": PER_PAGE}
    changes = ChangeFilter(state.get("recent"))
    watermark = parse_time(state.get("watermark"))
    new_etag = state.get("etag")
    items_of = lambda body: body.get("workflow_runs") if isinstance(body, dict) else None  # noqa: E731
    for number, response in enumerate(
        pages(ctx, f"{_repo(ctx)}/actions/runs", params, etag=state.get("etag"), items_of=items_of)
    ):
        if response.not_modified:
            return
        if number == 0:
            new_etag = response.etag
        for run in items_of(response.body):
            cursor = parse_time(run.get("created_at"))
            identity = run.get("id")
            if cursor is not None and (watermark is None or cursor > watermark):
                watermark = cursor
            if identity is not None:
                if run.get("status") == "completed":
                    open_runs.pop(str(identity), None)
                elif cursor is not None:
                    open_runs[str(identity)] = iso(cursor)
            if identity is None or changes.changed(str(identity), cursor, run):
                ctx.add(None, run)
    # an open run that is no longer listed (deleted) stops being watched
    open_runs = {k: v for k, v in open_runs.items() if str(k) in changes.seen}
    next_floor = ctx.floor(iso(watermark)) if watermark else None
    for created in open_runs.values():
        moment = parse_time(created)
        if next_floor is not None and moment is not None and moment < next_floor:
            next_floor = moment
    ctx.flush(
        {
            "watermark": iso(watermark) if watermark else state.get("watermark"),
            "etag": new_etag,
            "open": open_runs,
            "recent": changes.state(_day(next_floor) if next_floor else None),
        }
    )


def _children_of_changed_prs(ctx: StreamContext, kind: str) -> None:
    """PR commits / reviews: for every PR in the pull-request batches landed since our cursor.

    Over GraphQL (see github_graphql.py) when the PR's `node_id` is known and GraphQL answers, else REST."""
    parent = ctx.parent_index("pull_requests")
    cursor = ctx.state.get("parent_cursor")
    for batch_id in parent.batches_after(cursor):
        node_ids: dict[str, object] = {}
        for _, pr in parent.read_batch(batch_id):
            if (
                isinstance(pr, dict)
                and isinstance(pr.get("number"), int)
                and not isinstance(pr["number"], bool)
            ):
                node_ids[str(pr["number"])] = pr.get("node_id")
        over_rest = list(node_ids)
        details: dict[str, tuple[dict, list[dict], bool]] | None = {} if kind == "reviews" else None
        if use_graphql(ctx):
            known = [(n, node) for n, node in node_ids.items() if isinstance(node, str) and node]
            try:
                fetched = list(children(ctx, kind, known, details))
            except GraphQLUnavailable as error:
                fall_back(ctx, error)
                details = {} if kind == "reviews" else None
            else:
                for number, items in fetched:
                    for item in items:
                        ctx.add(number, item)
                over_rest = [n for n, node in node_ids.items() if not (isinstance(node, str) and node)]
        for number in over_rest:
            for response in pages(ctx, f"{_repo(ctx)}/pulls/{number}/{kind}", {"per_page": PER_PAGE}):
                for item in response.body:
                    ctx.add(number, item)
            if details is not None and ctx.settings.github.pull_request_details:
                details[number] = _pull_request_details_over_rest(ctx, number)
        if details:
            _land_pull_request_details(ctx, details)
        ctx.flush({"parent_cursor": batch_id})


def _pull_request_details_over_rest(ctx: StreamContext, number: str) -> tuple[dict, list[dict], bool]:
    """GITHUB_PULL_REQUEST_DETAILS over REST: `GET pulls/{n}` for the sizes the list omits, and the issue
    events filtered to draft <-> ready (the list's `draft` is the current state only, so a pull request that
    was a draft once cannot be told apart: every changed pull request costs these 2 requests)."""
    size: dict = {"number": int(number), "additions": None, "deletions": None, "changed_files": None}
    response = ctx.client.get(f"{_repo(ctx)}/pulls/{number}", allow_status=(404,))
    if response.status == 200 and isinstance(response.body, dict):
        size.update({k: response.body.get(k) for k in ("additions", "deletions", "changed_files")})
    events: list[dict] = []
    path = f"{_repo(ctx)}/issues/{number}/events"
    for response in pages(ctx, path, {"per_page": PER_PAGE}, allow_status=(404,)):
        if response.status != 200:
            break
        events.extend(
            {k: e.get(k) for k in ("id", "node_id", "event", "actor", "created_at")}
            for e in response.body
            if isinstance(e, dict) and e.get("event") in ("ready_for_review", "convert_to_draft")
        )
    for event in events:
        actor = event.get("actor")
        event["actor"] = (
            {"login": actor.get("login"), "type": actor.get("type")} if isinstance(actor, dict) else None
        )
    return size, events, True


def _land_pull_request_details(ctx: StreamContext, details: dict[str, tuple[dict, list[dict], bool]]) -> None:
    """Sizes and draft events land before the reviews' state moves past their batch (one contract: the
    payload shapes of `github_graphql.rest_size` / `rest_issue_event`, whichever path fetched them)."""
    sizes: list[tuple[str | None, object]] = []
    events: list[tuple[str | None, object]] = []
    for number, (size, found, complete) in details.items():
        sizes.append((number, size))
        events.extend((number, event) for event in found)
        if not complete:
            ctx.progress(
                f"github pull_request_events {ctx.scope}: pull request #{number} has more than "
                f"{TIMELINE_FIRST} draft/ready events; the first {TIMELINE_FIRST} landed"
            )
    ctx.land_other("pull_request_sizes", sizes)
    ctx.land_other("pull_request_events", events)


def pull_request_commits(ctx: StreamContext) -> None:
    _children_of_changed_prs(ctx, "commits")


def pull_request_reviews(ctx: StreamContext) -> None:
    _children_of_changed_prs(ctx, "reviews")


def workflow_jobs(ctx: StreamContext) -> None:
    """GITHUB_CI_JOBS: `GET actions/runs/{id}/jobs?filter=all` (every attempt, steps included) for each run
    that landed completed since our cursor; a run landed again (re-run) is read again. Off: no request."""
    if not ctx.settings.github.ci_jobs:
        return
    parent = ctx.parent_index("workflow_runs")
    cursor = ctx.state.get("parent_cursor")
    items_of = lambda body: body.get("jobs") if isinstance(body, dict) else None  # noqa: E731
    for batch_id in parent.batches_after(cursor):
        runs = {
            str(run["id"]): run
            for _, run in parent.read_batch(batch_id)
            if isinstance(run, dict) and run.get("status") == "completed" and isinstance(run.get("id"), int)
        }
        for run_id in runs:
            path = f"{_repo(ctx)}/actions/runs/{run_id}/jobs"
            for response in pages(
                ctx, path, {"filter": "all", "per_page": PER_PAGE}, allow_status=(404,), items_of=items_of
            ):
                if response.status != 200:
                    break  # the run was deleted since it was listed
                for job in items_of(response.body):
                    ctx.add(run_id, job)
        ctx.flush({"parent_cursor": batch_id})


def _latest_status(statuses: list) -> str | None:
    dated = [s for s in statuses if isinstance(s, dict)]
    if not dated:
        return None
    newest = max(dated, key=lambda s: (s.get("created_at") or "", s.get("id") or 0))
    return newest.get("state")


def deployment_statuses(ctx: StreamContext) -> None:
    """Statuses of new/changed deployments and of watched ones (not final, or the newest success per
    environment, which GitHub marks `inactive` when the next deployment succeeds).

    Over GraphQL: all of them in queries of 100 deployments; a watched deployment whose statuses hash as
    before lands nothing. Over REST (or for a deployment without `node_id`): one listing each, watched ones
    with their ETag, so an unchanged deployment costs a free 304."""
    parent = ctx.parent_index("deployments")
    cursor = ctx.state.get("parent_cursor")
    watch: dict[str, dict] = {k: dict(v) for k, v in ctx.state.get("watch", {}).items()}
    new_batches = parent.batches_after(cursor)
    for batch_id in new_batches:
        for _, deployment in parent.read_batch(batch_id):
            identity = deployment.get("id") if isinstance(deployment, dict) else None
            if identity is None:
                continue
            entry = watch.setdefault(str(identity), {"etag": None, "state": None})
            entry["environment"] = deployment.get("environment")
            entry["created_at"] = deployment.get("created_at")
            entry["node_id"] = deployment.get("node_id")
            entry["etag"] = entry["digest"] = None  # changed deployment: read it in full
    over_graphql: dict[str, list] | None = None
    if use_graphql(ctx):
        wanted = [(i, watch[i]["node_id"]) for i in sorted(watch, key=int) if _has_node_id(watch[i])]
        try:
            over_graphql = dict(children(ctx, "statuses", wanted))
        except GraphQLUnavailable as error:
            fall_back(ctx, error)
    for identity in sorted(watch, key=int):
        entry = watch[identity]
        if over_graphql is not None and _has_node_id(entry):
            if identity not in over_graphql:
                entry["state"] = "deleted"
                continue
            statuses = over_graphql[identity]
            digest = payload_hash(statuses)
            entry["etag"] = None
            if digest == entry.get("digest"):
                continue  # unchanged since the last read
            entry["digest"] = digest
        else:
            statuses = _statuses_over_rest(ctx, identity, entry)
            if statuses is None:
                continue
        for status in statuses:
            ctx.add(identity, status)
        entry["state"] = _latest_status(statuses)
    ctx.flush({"parent_cursor": new_batches[-1] if new_batches else cursor, "watch": _next_watch(watch)})


def _has_node_id(entry: dict) -> bool:
    return isinstance(entry.get("node_id"), str) and bool(entry["node_id"])


def _statuses_over_rest(ctx: StreamContext, identity: str, entry: dict) -> list | None:
    """The deployment's statuses, or None when unchanged (304) or deleted (404: `state` says so)."""
    statuses: list = []
    for number, response in enumerate(
        pages(
            ctx,
            f"{_repo(ctx)}/deployments/{identity}/statuses",
            {"per_page": PER_PAGE},
            etag=entry.get("etag"),
            allow_status=(404,),
        )
    ):
        if response.not_modified:
            return None
        if response.status == 404:
            entry["state"] = "deleted"
            return None
        if number == 0:
            entry["etag"] = response.etag
            entry.pop("digest", None)  # read in full: a later GraphQL read compares against nothing
        statuses.extend(response.body)
    return statuses


def _next_watch(watch: dict[str, dict]) -> dict[str, dict]:
    newest_success: dict[object, tuple[str, int]] = {}
    for identity, entry in watch.items():
        if entry.get("state") == "success":
            mark = (entry.get("created_at") or "", int(identity))
            environment = entry.get("environment")
            if environment not in newest_success or mark > newest_success[environment]:
                newest_success[environment] = mark
    keep_success = {str(mark[1]) for mark in newest_success.values()}
    horizon = datetime.now().astimezone() - timedelta(days=WATCH_DAYS)
    kept = {}
    for identity, entry in watch.items():
        state = entry.get("state")
        if state == "deleted" or state in FINAL_DEPLOYMENT_STATES:
            continue
        if state == "success" and identity not in keep_success:
            continue
        created = parse_time(entry.get("created_at"))
        if state != "success" and created is not None and created < horizon:
            continue
        kept[identity] = entry
    return kept


def is_production_deployment(deployment: dict, pattern: re.Pattern, *, use_flag: bool) -> bool:
    """The models' rule (int_deployments): the environment matches, or GitHub flags it production (if used)."""
    if pattern.search(deployment.get("environment") or ""):
        return True
    return use_flag and str(deployment.get("production_environment")).lower() == "true"  # as staging reads it


def comparisons(ctx: StreamContext) -> None:
    """Compare `base...head` for each pair of consecutive successful production deployments.

    Consecutive = production deployments (environment matches PRODUCTION_ENVIRONMENT_PATTERN, ignoring
    case, or GitHub's `production_environment: true` unless USE_GITHUB_PRODUCTION_FLAG is false) ordered by the
    time of their first `success` status. Each comparison lands in
    `comparisons` (without `commits`/`files`) and its paginated commits in `comparison_commits`,
    both with parent_id `base...head`. Over GraphQL (unless GITHUB_API_MODE=rest) the ranges are worked out
    from `Commit.history` walks, the same rows exactly (github_graphql_compare.py); REST compare answers the
    pairs GraphQL leaves (diverged, too long), counted in one line.

    Monorepos: when a service catalog entry of this repository has path_prefixes, each listed commit also gets
    `files` (its changed paths as `{"filename": ...}`, from GET commits/{sha}, every page of its files):
    one more request per commit, and only for those repositories (docs/metrics.md, "Service catalog and
    monorepos"). The compare's own `files` is the diff of the whole range and cannot say which commit changed what.
    """
    state = ctx.state
    pattern = re.compile(ctx.settings.production_environment_pattern, re.IGNORECASE)
    production: dict[str, str] = dict(state.get("production", {}))  # deployment id -> sha
    first_success: dict[str, str] = dict(state.get("first_success", {}))
    compared: list[str] = list(state.get("compared", []))
    done = set(compared)

    deployments_index = ctx.parent_index("deployments")
    dep_cursor = state.get("deployments_cursor")
    for batch_id in deployments_index.batches_after(dep_cursor):
        for _, deployment in deployments_index.read_batch(batch_id):
            if not isinstance(deployment, dict) or deployment.get("id") is None:
                continue
            is_production = is_production_deployment(
                deployment, pattern, use_flag=ctx.settings.use_github_production_flag
            )
            if isinstance(deployment.get("sha"), str) and is_production:
                production[str(deployment["id"])] = deployment["sha"]
        dep_cursor = batch_id
    statuses_index = ctx.parent_index("deployment_statuses")
    status_cursor = state.get("statuses_cursor")
    for batch_id in statuses_index.batches_after(status_cursor):
        for parent_id, status in statuses_index.read_batch(batch_id):
            if parent_id is None or not isinstance(status, dict) or status.get("state") != "success":
                continue
            moment = parse_time(status.get("created_at"))
            if moment is None:
                continue
            known = parse_time(first_success.get(parent_id))
            if known is None or moment < known:
                first_success[parent_id] = iso(moment)
        status_cursor = batch_id

    ordered = sorted((first_success[i], int(i)) for i in production if i in first_success)
    pairs = [
        f"{production[str(a[1])]}...{production[str(b[1])]}"
        for a, b in zip(ordered, ordered[1:], strict=False)
    ]
    todo = [pair for pair in unique(pairs) if pair not in done]

    def current_state() -> dict:
        return {
            "deployments_cursor": dep_cursor,
            "statuses_cursor": status_cursor,
            "production": production,
            "first_success": {k: v for k, v in first_success.items() if k in production},
            "compared": compared,
        }

    wants_files = any(
        entry.path_prefixes and entry.github_repository == ctx.scope.lower()
        for entry in ctx.settings.service_catalog
    )
    fetched_files: dict[str, list[dict]] = {}
    commit_records: list[tuple[str, object]] = []
    pending = 0

    def land(pair: str, comparison: dict | None, commits: list) -> None:
        nonlocal commit_records, pending
        records = [(pair, commit) for commit in commits]
        if wants_files:
            for _, commit in records:
                if isinstance(commit, dict) and "files" not in commit:
                    commit["files"] = commit_files(ctx, commit.get("sha"), fetched_files)
        commit_records.extend(records)
        if comparison is not None:
            ctx.add(pair, comparison)
        compared.append(pair)
        pending += 1
        if pending >= COMPARISONS_PER_BATCH:
            ctx.land_other("comparison_commits", commit_records)  # commits first, then the state
            commit_records, pending = [], 0
            ctx.flush(current_state())

    over_rest = todo
    if todo and use_graphql(ctx):
        left: list[str] = []
        settled: set[str] = set()
        try:
            for pair, comparison, commits in compare_ranges(ctx, todo):
                settled.add(pair)
                if comparison is None:
                    left.append(pair)
                else:
                    land(pair, comparison, commits)
        except GraphQLUnavailable as error:
            fall_back(ctx, error)
            left.extend(pair for pair in todo if pair not in settled)
        else:
            if left:
                ctx.progress(
                    f"github comparisons {ctx.scope}: {len(left)} of {len(todo)} range(s) over REST compare "
                    "(diverged, or too long for GraphQL history)"
                )
        over_rest = left
    for pair in over_rest:
        comparison = None
        commits: list = []
        items_of = lambda body: body.get("commits") if isinstance(body, dict) else None  # noqa: E731
        for response in pages(
            ctx,
            f"{_repo(ctx)}/compare/{pair}",
            {"per_page": PER_PAGE},
            allow_status=(404,),
            items_of=items_of,
        ):
            if response.status == 404:
                ctx.progress(
                    f"github comparisons {ctx.scope}: compare {pair} answered 404 (commit gone?), skipped"
                )
                break
            if comparison is None:
                comparison = {k: v for k, v in response.body.items() if k not in ("commits", "files")}
            commits.extend(items_of(response.body))
        land(pair, comparison, commits)
    ctx.land_other("comparison_commits", commit_records)
    ctx.flush(current_state())


def commit_files(ctx: StreamContext, sha: object, fetched: dict[str, list[dict]]) -> list[dict] | None:
    """The changed paths of one commit, compact ({"filename"}, plus "previous_filename" of a rename); None when
    the commit is gone (404/422): the models then keep it for every service, as a commit of unknown paths.
    GitHub lists 300 files per page and links further pages (up to 3000 files): one request per commit
    unless it is a very large one."""
    if not isinstance(sha, str):
        return None
    if sha not in fetched:
        files: list[dict] = []
        items_of = lambda body: body.get("files") if isinstance(body, dict) else None  # noqa: E731
        for response in pages(ctx, f"{_repo(ctx)}/commits/{sha}", allow_status=(404, 422), items_of=items_of):
            if response.status != 200:
                return None
            files.extend(
                {
                    key: item[key]
                    for key in ("filename", "previous_filename")
                    if isinstance(item.get(key), str)
                }
                for item in items_of(response.body)
                if isinstance(item, dict) and isinstance(item.get("filename"), str)
            )
        fetched[sha] = files
    return fetched[sha]


STREAM_FUNCTIONS = {
    "pull_requests": pull_requests,
    "pull_request_commits": pull_request_commits,
    "pull_request_reviews": pull_request_reviews,
    "commits": commits,
    "deployments": deployments,
    "deployment_statuses": deployment_statuses,
    "workflow_runs": workflow_runs,
    "workflow_jobs": workflow_jobs,
    "releases": releases,
    "comparisons": comparisons,
}
