"""Jira Cloud REST API v3 over the synthetic organisation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time

from simulator import jql
from simulator.clock import iso_jira
from simulator.config import JIRA_API_TOKEN, JIRA_EMAIL
from simulator.http import BaseApp, Request, Response, page_slice
from simulator.jira_model import ISSUE_TYPES, STATUSES, History, Issue

ALL_FIELDS = (
    "summary",
    "status",
    "issuetype",
    "priority",
    "project",
    "created",
    "updated",
    "resolutiondate",
    "resolution",
    "labels",
    "fixVersions",
    "parent",
    "assignee",
    "reporter",
    "creator",
    "description",
)


def _error(status: int, *messages: str, headers: dict | None = None) -> Response:
    return Response(status, {"errorMessages": list(messages), "errors": {}}, headers or {})


class JiraApp(BaseApp):
    api = "jira"

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.window_lock = threading.Lock()
        self.window = [0, 0]

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            email, _, token = decoded.partition(":")
            if email == JIRA_EMAIL and token == JIRA_API_TOKEN:
                return None
        return _error(
            401,
            "You are not authenticated. Authentication required to perform this operation.",
            headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
        )

    def is_paging(self, request: Request) -> bool:
        if request.arg("nextPageToken") or request.int_arg("startAt", 0) > 0:
            return True
        if request.method == "POST" and request.body:
            try:
                body = request.json()
            except ValueError:
                return False
            return isinstance(body, dict) and bool(body.get("nextPageToken"))
        return False

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "rate_limit":
            return _error(
                429,
                "Rate limit exceeded.",
                headers={
                    "Retry-After": str(self.faults.faults.retry_after_seconds),
                    "X-RateLimit-NearLimit": "true",
                },
            )
        status = self.faults.next_server_error()
        if status == 502:
            return Response(502, b"<html><body>Bad Gateway</body></html>", content_type="text/html")
        return _error(status, "Internal server error" if status == 500 else "Service Unavailable")

    def bad_request(self, message: str) -> Response:
        return _error(400, message)

    def _budget(self) -> Response | None:
        limit = self.sim.config.jira_rate_limit
        if not limit:
            return None
        now = int(time.time())
        with self.window_lock:
            if now >= self.window[0] + 60:
                self.window = [now, 0]
            self.window[1] += 1
            if self.window[1] > limit:
                return _error(
                    429, "Rate limit exceeded.", headers={"Retry-After": str(self.window[0] + 60 - now)}
                )
        return None

    ROUTES = (
        ("GET", re.compile(r"^/rest/api/3/search/jql/?$"), "search_get"),
        ("POST", re.compile(r"^/rest/api/3/search/jql/?$"), "search_post"),
        ("GET", re.compile(r"^/rest/api/(?:2|3|latest)/search/?$"), "search_removed"),
        ("POST", re.compile(r"^/rest/api/(?:2|3|latest)/search/?$"), "search_removed"),
        ("GET", re.compile(r"^/rest/api/3/issue/([^/]+)/changelog/?$"), "issue_changelog"),
        ("GET", re.compile(r"^/rest/api/3/issue/([^/]+)/?$"), "issue"),
        ("POST", re.compile(r"^/rest/api/3/changelog/bulkfetch/?$"), "bulkfetch"),
        ("GET", re.compile(r"^/rest/api/3/project/search/?$"), "project_search"),
        ("GET", re.compile(r"^/rest/api/3/myself/?$"), "myself"),
    )

    def dispatch(self, request: Request) -> Response:
        limited = self._budget()
        if limited is not None:
            return limited
        for method, pattern, name in self.ROUTES:
            match = pattern.match(request.path)
            if match and request.method == method:
                return getattr(self, name)(request, *match.groups())
        return _error(404, "Not Found")

    # ----- builders
    def user(self, base: str, index: int | None) -> dict | None:
        if index is None:
            return None
        person = self.sim.org.users[index]
        initials = "".join(part[0] for part in person.name.split())
        avatar = (
            f"https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/{initials}-5.png"
        )
        return {
            "self": f"{base}/rest/api/3/user?accountId={person.account_id}",
            "accountId": person.account_id,
            "emailAddress": person.email,
            "avatarUrls": {
                size: f"{avatar}?size={size[:2]}&s={size[:2]}"
                for size in ("48x48", "24x24", "16x16", "32x32")
            },
            "displayName": person.name,
            "active": True,
            "timeZone": "UTC",
            "accountType": "atlassian",
        }

    def project_object(self, base: str, project: dict) -> dict:
        pid = project["id"]
        return {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": f"{base}/rest/api/3/project/{pid}",
            "id": pid,
            "key": project["key"],
            "name": project["name"],
            "avatarUrls": {
                size: f"{base}/rest/api/3/universal_avatar/view/type/project/avatar/10400?size={name}"
                for size, name in (
                    ("48x48", "large"),
                    ("24x24", "small"),
                    ("16x16", "xsmall"),
                    ("32x32", "medium"),
                )
            },
            "projectTypeKey": "software",
            "simplified": False,
            "style": "classic",
            "isPrivate": False,
            "properties": {},
        }

    def status_object(self, base: str, name: str) -> dict:
        sid, key, cat_id, color, cat_name = STATUSES[name]
        return {
            "self": f"{base}/rest/api/3/status/{sid}",
            "description": "",
            "name": name,
            "id": sid,
            "iconUrl": f"{base}/images/icons/statuses/generic.png",
            "statusCategory": {
                "self": f"{base}/rest/api/3/statuscategory/{cat_id}",
                "id": cat_id,
                "key": key,
                "colorName": color,
                "name": cat_name,
            },
        }

    def issuetype_object(self, base: str, name: str) -> dict:
        tid, level = ISSUE_TYPES[name]
        return {
            "self": f"{base}/rest/api/3/issuetype/{tid}",
            "id": tid,
            "description": f"A {name.lower()}.",
            "iconUrl": f"{base}/images/icons/issuetypes/{name.lower()}.svg",
            "name": name,
            "subtask": False,
            "hierarchyLevel": level,
        }

    def fields(self, base: str, issue: Issue, wanted: set[str] | None) -> dict:
        project = next(p for p in self.sim.org.jira.projects if p["key"] == issue.project)
        values = {}

        def put(name, make):
            if wanted is None or name in wanted:
                values[name] = make()

        put("summary", lambda: issue.summary)
        put("status", lambda: self.status_object(base, issue.status))
        put("issuetype", lambda: self.issuetype_object(base, issue.issue_type))
        put(
            "priority",
            lambda: {
                "self": f"{base}/rest/api/3/priority/{issue.priority[0]}",
                "id": issue.priority[0],
                "name": issue.priority[1],
                "iconUrl": f"{base}/images/icons/priorities/{issue.priority[1].lower()}.svg",
            },
        )
        put(
            "project",
            lambda: {
                k: v
                for k, v in self.project_object(base, project).items()
                if k in ("self", "id", "key", "name", "projectTypeKey", "simplified", "avatarUrls")
            },
        )
        put("created", lambda: iso_jira(issue.created))
        put("updated", lambda: iso_jira(issue.updated))
        put("resolutiondate", lambda: iso_jira(issue.resolutiondate) if issue.resolutiondate else None)
        put(
            "resolution",
            lambda: (
                {
                    "self": f"{base}/rest/api/3/resolution/10000",
                    "id": "10000",
                    "description": "Work has been completed on this issue.",
                    "name": "Done",
                }
                if issue.resolution
                else None
            ),
        )
        put("labels", lambda: list(issue.labels))
        put(
            "fixVersions",
            lambda: [
                dict(v, self=f"{base}/rest/api/3/version/{v['id']}", archived=False)
                for v in issue.fix_versions
            ],
        )
        if issue.parent is not None:
            parent = issue.parent
            put(
                "parent",
                lambda: {
                    "id": parent.id,
                    "key": parent.key,
                    "self": f"{base}/rest/api/3/issue/{parent.id}",
                    "fields": {
                        "summary": parent.summary,
                        "status": self.status_object(base, parent.status),
                        "priority": {"id": parent.priority[0], "name": parent.priority[1]},
                        "issuetype": self.issuetype_object(base, parent.issue_type),
                    },
                },
            )
        put("assignee", lambda: self.user(base, issue.assignee))
        put("reporter", lambda: self.user(base, issue.reporter))
        put("creator", lambda: self.user(base, issue.reporter))
        put(
            "description",
            lambda: {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": f"{issue.summary}."}]}
                ],
            },
        )
        return values

    def history_object(self, base: str, history: History, items: list | None = None) -> dict:
        return {
            "id": history.id,
            "author": self.user(base, history.author),
            "created": iso_jira(history.created),
            "items": [dict(item) for item in (items if items is not None else history.items)],
        }

    def issue_object(self, base: str, issue: Issue, wanted: set[str] | None, changelog: bool) -> dict:
        obj = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": f"{base}/rest/api/3/issue/{issue.id}",
            "key": issue.key,
            "fields": self.fields(base, issue, wanted),
        }
        if changelog:
            newest = issue.histories[::-1][:100]
            obj["changelog"] = {
                "startAt": 0,
                "maxResults": len(newest),
                "total": len(issue.histories),
                "histories": [self.history_object(base, h) for h in newest],
            }
        return obj

    # ----- endpoints
    def search_removed(self, request: Request) -> Response:
        return _error(
            410,
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
            "A full migration guideline is available at "
            "https://developer.atlassian.com/changelog/#CHANGE-2046",
        )

    def search_get(self, request: Request) -> Response:
        fields = []
        for value in request.query.get("fields", []):
            fields.extend(part.strip() for part in value.split(",") if part.strip())
        return self._search(
            request,
            request.arg("jql", ""),
            request.arg("nextPageToken"),
            request.arg("maxResults"),
            fields,
            request.arg("expand", "") or "",
        )

    def search_post(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            return _error(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        if not isinstance(body, dict):
            return _error(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        expand = body.get("expand") or ""
        if isinstance(expand, list):
            expand = ",".join(expand)
        fields = body.get("fields") or []
        if isinstance(fields, str):
            fields = [part.strip() for part in fields.split(",") if part.strip()]
        max_results = body.get("maxResults")
        return self._search(
            request,
            body.get("jql", ""),
            body.get("nextPageToken"),
            None if max_results is None else str(max_results),
            list(fields),
            expand,
        )

    def _matches(self, issue: Issue, clause: jql.Clause, clock: float) -> bool:
        field, op, values = clause.field, clause.op, clause.values
        if field in jql.TIME_FIELDS:
            attr = {"updated": issue.updated, "created": issue.created}.get(field, issue.resolutiondate)
            if attr is None:
                return False
            stamp = jql.parse_time(values[0], clock)
            return {
                "=": attr == stamp,
                "!=": attr != stamp,
                ">": attr > stamp,
                ">=": attr >= stamp,
                "<": attr < stamp,
                "<=": attr <= stamp,
            }.get(op, False)
        if field == "project":
            actual = {issue.project.lower()}
            project = next(p for p in self.sim.org.jira.projects if p["key"] == issue.project)
            actual |= {project["id"], project["name"].lower()}
        elif field in ("key", "issuekey", "id"):
            actual = {issue.key.lower(), issue.id}
        elif field in ("issuetype", "type"):
            actual = {issue.issue_type.lower()}
        elif field == "status":
            actual = {issue.status.lower()}
        elif field == "statuscategory":
            actual = {STATUSES[issue.status][4].lower()}
        elif field == "labels":
            actual = {label.lower() for label in issue.labels}
        else:
            raise jql.JqlError(f"Field '{field}' does not exist or you do not have permission to view it.")
        wanted = {value.lower() for value in values}
        hit = bool(actual & wanted)
        return hit if op in ("=", "in") else not hit

    def _search(self, request, text, token, max_results, fields, expand) -> Response:
        org = self.sim.org
        try:
            query = jql.parse(text or "")
            if not query.bounded:
                return _error(
                    400,
                    "Unbounded JQL queries are not allowed here. Please add a search restriction "
                    "to your query.",
                )
            for clause in query.clauses:
                if clause.field == "project":
                    known = {p["key"].lower() for p in org.jira.projects} | {
                        p["id"] for p in org.jira.projects
                    }
                    missing = [v for v in clause.values if v.lower() not in known]
                    if missing:
                        return _error(
                            400, f"The value '{missing[0]}' does not exist for the field 'project'."
                        )
            issues = [
                i for i in org.jira.issues if all(self._matches(i, c, org.clock) for c in query.clauses)
            ]
        except jql.JqlError as error:
            return _error(400, str(error))
        order = query.order or [("created", True)]
        for field, descending in reversed(order):
            if field not in ("created", "updated", "key", "id", "issuekey", "resolved", "resolutiondate"):
                return _error(400, f"Not able to sort using field '{field}'.")
            if field in ("key", "issuekey", "id"):
                issues.sort(key=lambda i: (i.project, int(i.key.split("-")[1])), reverse=descending)
            elif field == "created":
                issues.sort(key=lambda i: i.created, reverse=descending)
            elif field == "updated":
                issues.sort(key=lambda i: i.updated, reverse=descending)
            else:
                issues.sort(key=lambda i: i.resolutiondate or 0, reverse=descending)
        id_only = not fields or all(f in ("id",) for f in fields)
        ceiling = 5000 if id_only else 100
        try:
            size = 50 if max_results in (None, "") else int(max_results)
        except ValueError:
            return _error(400, "maxResults must be a number.")
        size = min(max(size, 1), ceiling)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        offset = 0
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode() + b"==").decode())
                offset, token_digest = int(decoded["o"]), decoded["q"]
            except (ValueError, KeyError, TypeError, binascii.Error):
                return _error(400, "The provided next page token is invalid or expired.")
            if token_digest != digest:
                return _error(400, "The provided next page token is invalid or expired.")
        chosen, length = page_slice(issues, offset, size, request)
        wanted = None
        if not id_only and not any(f in ("*all", "*navigable") for f in fields):
            wanted = {f for f in fields if not f.startswith("-")}
        expands = {part.strip() for part in expand.split(",") if part.strip()}
        base = request.base_url
        if id_only:
            body_issues = [{"id": issue.id} for issue in chosen]
        else:
            body_issues = [self.issue_object(base, i, wanted, "changelog" in expands) for i in chosen]
        body = {"issues": body_issues}
        next_offset = offset + size
        if next_offset < length:
            raw = json.dumps({"o": next_offset, "q": digest}, separators=(",", ":")).encode()
            body["nextPageToken"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            body["isLast"] = False
        else:
            body["isLast"] = True
        return Response(200, body)

    def _issue(self, id_or_key: str) -> Issue | None:
        jira = self.sim.org.jira
        return jira.by_id.get(id_or_key) or jira.by_key.get(id_or_key.upper())

    def issue(self, request: Request, id_or_key: str) -> Response:
        issue = self._issue(id_or_key)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        fields = []
        for value in request.query.get("fields", []):
            fields.extend(part.strip() for part in value.split(",") if part.strip())
        wanted = None if not fields or any(f in ("*all", "*navigable") for f in fields) else set(fields)
        expands = {part.strip() for part in (request.arg("expand") or "").split(",")}
        return Response(200, self.issue_object(request.base_url, issue, wanted, "changelog" in expands))

    def issue_changelog(self, request: Request, id_or_key: str) -> Response:
        issue = self._issue(id_or_key)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        start = max(request.int_arg("startAt", 0), 0)
        size = min(max(request.int_arg("maxResults", 100), 1), 100)
        histories = issue.histories
        chosen, length = page_slice(histories, start, size, request)
        base = request.base_url
        values = [self.history_object(base, h) for h in chosen]
        return Response(
            200, _offset_page(f"{base}/rest/api/3/issue/{id_or_key}/changelog", start, size, length, values)
        )

    def bulkfetch(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        if not isinstance(body, dict) or not isinstance(body.get("issueIdsOrKeys"), list):
            return _error(400, "issueIdsOrKeys must contain at least one issue id or key.")
        ids = body["issueIdsOrKeys"]
        if not ids:
            return _error(400, "issueIdsOrKeys must contain at least one issue id or key.")
        if len(ids) > 1000:
            return _error(400, "issueIdsOrKeys must contain at most 1000 issue ids or keys.")
        field_ids = body.get("fieldIds") or []
        if len(field_ids) > 10:
            return _error(400, "fieldIds must contain at most 10 field ids.")
        try:
            size = int(body.get("maxResults", 1000))
        except (TypeError, ValueError):
            return _error(400, "maxResults must be a number.")
        size = min(max(size, 1), 10000)
        flat = []
        for value in ids:
            issue = self._issue(str(value))
            if issue is None:
                continue
            for history in issue.histories:
                items = history.items
                if field_ids:
                    items = [i for i in items if i["fieldId"] in field_ids or i["field"] in field_ids]
                    if not items:
                        continue
                flat.append((issue.id, history, items))
        offset = 0
        digest = hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:12]
        token = body.get("nextPageToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(str(token).encode() + b"==").decode())
                offset = int(decoded["o"])
                if decoded["q"] != digest:
                    raise ValueError
            except (ValueError, KeyError, TypeError, binascii.Error):
                return _error(400, "The provided next page token is invalid or expired.")
        chosen, length = page_slice(flat, offset, size, request)
        base = request.base_url
        logs: list[dict] = []
        for issue_id, history, items in chosen:
            if not logs or logs[-1]["issueId"] != issue_id:
                logs.append({"issueId": issue_id, "changeHistories": []})
            logs[-1]["changeHistories"].append(self.history_object(base, history, items))
        result = {"issueChangeLogs": logs}
        if offset + size < length:
            raw = json.dumps({"o": offset + size, "q": digest}, separators=(",", ":")).encode()
            result["nextPageToken"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return Response(200, result)

    def project_search(self, request: Request) -> Response:
        projects = list(self.sim.org.jira.projects)
        keys = set(request.args("keys"))
        if keys:
            projects = [p for p in projects if p["key"] in keys]
        ids = set(request.args("id"))
        if ids:
            projects = [p for p in projects if p["id"] in ids]
        text = (request.arg("query") or "").lower()
        if text:
            projects = [p for p in projects if text in p["key"].lower() or text in p["name"].lower()]
        order = request.arg("orderBy", "key")
        field = order.lstrip("+-")
        if field in ("key", "name"):
            projects.sort(key=lambda p: p[field], reverse=order.startswith("-"))
        start = max(request.int_arg("startAt", 0), 0)
        size = min(max(request.int_arg("maxResults", 50), 1), 100)
        chosen, length = page_slice(projects, start, size, request)
        base = request.base_url
        values = [self.project_object(base, p) for p in chosen]
        return Response(200, _offset_page(f"{base}/rest/api/3/project/search", start, size, length, values))

    def myself(self, request: Request) -> Response:
        user = self.user(request.base_url, 0)
        user["emailAddress"] = JIRA_EMAIL
        return Response(200, user)


def _offset_page(url: str, start: int, size: int, length: int, values: list) -> dict:
    """Jira's startAt/maxResults page body (PageBean): `nextPage` only while more remain."""
    last = start + size >= length
    body = {
        "self": f"{url}?startAt={start}&maxResults={size}",
        "maxResults": size,
        "startAt": start,
        "total": length,
        "isLast": last,
        "values": values,
    }
    if not last:
        body["nextPage"] = f"{url}?startAt={start + size}&maxResults={size}"
    return body
