"""Jira Cloud REST v3 streams: projects, issues (enhanced JQL search) and their full changelogs."""

from __future__ import annotations

from doraflow.errors import SourceError
from extractors.core import ChangeFilter, StreamContext, chunks, day_start, iso, parse_time, unique
from extractors.http import RepeatedPageGuard

ISSUE_FIELDS = (
    "summary,issuetype,status,priority,labels,created,updated,resolutiondate,resolution,assignee,"
    "parent,fixVersions,project"
)
SEARCH_PAGE = 100
BULK_ISSUES = 1000  # issue ids per changelog bulk fetch (the API's maximum)


def projects(ctx: StreamContext) -> None:
    response = ctx.client.get("rest/api/3/project/search", params={"keys": ctx.scope, "maxResults": 50})
    values = response.body.get("values") if isinstance(response.body, dict) else None
    if not isinstance(values, list):
        raise SourceError("jira: unexpected answer shape for GET /rest/api/3/project/search (no 'values')")
    matching = [p for p in values if isinstance(p, dict) and p.get("key") == ctx.scope]
    if not matching:
        raise SourceError(
            f"jira: project {ctx.scope} not found or not visible (check JIRA_PROJECTS and the account)"
        )
    changes = ChangeFilter(ctx.state.get("recent"))
    for project in matching:
        if changes.changed(str(project.get("id")), None, project):
            ctx.add(None, project)
    ctx.flush({"recent": changes.state(None)})


def _jql_time(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def issues(ctx: StreamContext) -> None:
    """Issues updated since the watermark minus one day (JQL has minute precision and the account's
    time zone), newest first, paged with `nextPageToken`; unchanged re-reads are skipped."""
    state = ctx.state
    floor = ctx.floor(state.get("watermark"))
    jql = f'project = "{ctx.scope}" AND updated >= "{_jql_time(floor)}" ORDER BY updated DESC, id DESC'
    changes = ChangeFilter(state.get("recent"))
    watermark = parse_time(state.get("watermark"))
    token = None
    guard = RepeatedPageGuard()
    seen_tokens: set[str] = set()
    while True:
        params = {"jql": jql, "fields": ISSUE_FIELDS, "maxResults": SEARCH_PAGE}
        if token:
            params["nextPageToken"] = token
        for _ in range(ctx.client.max_retries + 1):
            body = ctx.client.get("rest/api/3/search/jql", params=params).body
            page = body.get("issues") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise SourceError(
                    "jira: unexpected answer shape for GET /rest/api/3/search/jql (no 'issues')"
                )
            if not guard.is_repeat(page):
                break
            ctx.client.counters.retries += 1
        else:
            raise SourceError(
                "jira: /rest/api/3/search/jql keeps answering with the previous page; rerun later"
            )
        guard.accept(page)
        for issue in page:
            if isinstance(issue, dict):
                issue = {k: v for k, v in issue.items() if k != "changelog"}
            cursor = (
                parse_time((issue.get("fields") or {}).get("updated")) if isinstance(issue, dict) else None
            )
            if cursor is not None and (watermark is None or cursor > watermark):
                watermark = cursor
            identity = issue.get("id") if isinstance(issue, dict) else None
            if identity is None or changes.changed(str(identity), cursor, issue):
                ctx.add(None, issue)
        token = body.get("nextPageToken")
        if not token or body.get("isLast") is True or not page:
            break
        if token in seen_tokens:
            raise SourceError("jira: /rest/api/3/search/jql pagination repeats a nextPageToken; rerun later")
        seen_tokens.add(token)
    new_floor = ctx.floor(iso(watermark)) if watermark else None
    ctx.flush(
        {"watermark": iso(watermark) if watermark else None, "recent": changes.state(day_start(new_floor))}
    )


def _bulk_changelogs(ctx: StreamContext, issue_ids: list[str]) -> bool:
    """`POST /rest/api/3/changelog/bulkfetch`; False when the site does not offer it (404/405)."""
    token = None
    seen_tokens: set[str] = set()
    while True:
        request = {"issueIdsOrKeys": issue_ids, "maxResults": 1000}
        if token:
            request["nextPageToken"] = token
        response = ctx.client.post("rest/api/3/changelog/bulkfetch", request, allow_status=(404, 405))
        if response.status in (404, 405):
            return False
        body = response.body if isinstance(response.body, dict) else {}
        logs = body.get("issueChangeLogs")
        if not isinstance(logs, list):
            raise SourceError("jira: unexpected answer shape for POST /rest/api/3/changelog/bulkfetch")
        for log in logs:
            if not isinstance(log, dict):
                continue
            for history in log.get("changeHistories") or []:
                ctx.add(log.get("issueId"), history)
        token = body.get("nextPageToken")
        if not token:
            return True
        if token in seen_tokens:
            raise SourceError("jira: changelog bulk fetch repeats a nextPageToken; rerun later")
        seen_tokens.add(token)


def _issue_changelog(ctx: StreamContext, issue_id: str) -> None:
    """`GET /rest/api/3/issue/{id}/changelog`, paged with startAt (oldest first)."""
    start = 0
    while True:
        body = ctx.client.get(
            f"rest/api/3/issue/{issue_id}/changelog", params={"startAt": start, "maxResults": 100}
        ).body
        values = body.get("values") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise SourceError(f"jira: unexpected answer shape for GET /rest/api/3/issue/{issue_id}/changelog")
        for history in values:
            ctx.add(issue_id, history)
        start += len(values)
        total = body.get("total")
        if not values or body.get("isLast") is True or (isinstance(total, int) and start >= total):
            return


def issue_changelogs(ctx: StreamContext) -> None:
    """The full history of every issue in the issue batches landed since our cursor (1,000 ids per call)."""
    parent = ctx.parent_index("issues")
    cursor = ctx.state.get("parent_cursor")
    bulk = ctx.state.get("bulk", True)
    for batch_id in parent.batches_after(cursor):
        ids = unique(
            str(issue["id"])
            for _, issue in parent.read_batch(batch_id)
            if isinstance(issue, dict) and issue.get("id")
        )
        for chunk in chunks(ids, BULK_ISSUES):
            if bulk and _bulk_changelogs(ctx, list(chunk)):
                continue
            bulk = False
            for issue_id in chunk:
                _issue_changelog(ctx, issue_id)
        ctx.flush({"parent_cursor": batch_id, "bulk": bulk})


STREAM_FUNCTIONS = {"projects": projects, "issues": issues, "issue_changelogs": issue_changelogs}
