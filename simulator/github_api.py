"""GitHub REST API (version 2022-11-28) over the synthetic organisation."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from urllib.parse import urlencode

from simulator.clock import iso_z, parse_iso
from simulator.config import GITHUB_TOKEN
from simulator.github_graphql import GraphQLService
from simulator.github_model import WEB_FLOW, Commit, PullRequest, Repo, jobs_of_attempt
from simulator.http import BaseApp, Request, Response, page_slice
from simulator.model import DEPLOY_BOT

DOCS = "https://docs.github.com/rest"
WEB = "https://github.com"


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


class GitHubApp(BaseApp):
    api = "github"

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.budget_lock = threading.Lock()
        self.budgets: dict[str, list[int]] = {}  # token -> [window_start, used]
        self._users: dict[tuple[str, int], dict] = {}
        self._repos: dict[tuple[str, str, bool], dict] = {}
        self.graphql = GraphQLService(self)  # POST /graphql, with its own points budget
        self.graphql_mode = "on"  # "absent": /graphql answers 404; "no_scope": the token's scopes are refused

    # ----- auth, budget, faults
    def _token(self, request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        for prefix in ("Bearer ", "bearer ", "token ", "Token "):
            if value.startswith(prefix):
                return value[len(prefix) :].strip()
        return None

    def _rate(self, token: str, charge: bool) -> tuple[dict[str, str], bool]:
        limit = self.sim.config.github_rate_limit
        now = int(time.time())
        with self.budget_lock:
            window = self.budgets.setdefault(token, [now, 0])
            if now >= window[0] + 3600:
                window[0], window[1] = now, 0
            exhausted = window[1] >= limit
            if charge and not exhausted:
                window[1] += 1
            used = window[1]
            reset = window[0] + 3600
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - used, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
            "X-GitHub-Api-Version": "2022-11-28",
            "X-GitHub-Media-Type": "github.v3; format=json",
        }
        return headers, exhausted

    def authenticate(self, request: Request) -> Response | None:
        token = self._token(request)
        if token == GITHUB_TOKEN:
            return None
        message = "Requires authentication" if token is None else "Bad credentials"
        return Response(
            401,
            {"message": message, "documentation_url": DOCS, "status": "401"},
            {
                "x-ratelimit-limit": "60",
                "x-ratelimit-remaining": "59",
                "x-ratelimit-used": "1",
                "x-ratelimit-reset": str(int(time.time()) + 3600),
                "x-ratelimit-resource": "core",
            },
        )

    def is_paging(self, request: Request) -> bool:
        return request.int_arg("page", 1) > 1

    def fault_response(self, kind: str, request: Request) -> Response:
        headers, _ = self._rate(GITHUB_TOKEN, charge=False)
        retry = str(self.faults.faults.retry_after_seconds)
        if kind == "rate_limit":
            headers["retry-after"] = retry
            return Response(
                429,
                {
                    "message": "API rate limit exceeded. Please retry your request again later.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                    "status": "429",
                },
                headers,
            )
        if kind == "secondary_rate_limit":
            headers["retry-after"] = retry
            return Response(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. "
                    "Please wait a few minutes before you try again.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api"
                    "#about-secondary-rate-limits",
                    "status": "403",
                },
                headers,
            )
        status = self.faults.next_server_error()
        if status == 502:
            return Response(
                502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", headers, content_type="text/html"
            )
        if status == 503:
            return Response(503, {"message": "Service Unavailable", "documentation_url": DOCS}, headers)
        return Response(500, {"message": "Server Error", "documentation_url": DOCS, "status": "500"}, headers)

    def bad_request(self, message: str) -> Response:
        return Response(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"code": "invalid", "message": message}],
                "documentation_url": DOCS,
                "status": "422",
            },
        )

    def dispatch(self, request: Request) -> Response:
        token = self._token(request) or ""
        if request.path.rstrip("/") == "/graphql":
            return self.graphql.serve(request, token)
        free = request.path.rstrip("/") == "/rate_limit"
        headers, exhausted = self._rate(token, charge=False)
        if exhausted and not free:
            return Response(
                403,
                {
                    "message": "API rate limit exceeded for user ID 1000000. "
                    "If you reach out to GitHub Support for help, please include the request ID.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                    "status": "403",
                },
                headers,
            )
        response = self.route(request)
        if response.status == 200:
            etag = 'W/"' + hashlib.sha256(token.encode() + response.encoded()).hexdigest()[:40] + '"'
            response.headers["ETag"] = etag
            candidates = [v.strip() for v in request.headers.get("if-none-match", "").split(",") if v.strip()]
            if etag in candidates or etag[2:] in candidates:
                headers, _ = self._rate(token, charge=False)
                headers.update({k: v for k, v in response.headers.items() if k.lower() in ("etag", "link")})
                return Response(304, None, headers)
        headers, _ = self._rate(token, charge=not free)
        response.headers.update(headers)
        return response

    # ----- routing
    ROUTES = (
        ("GET", re.compile(r"^/rate_limit/?$"), "rate_limit"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/?$"), "repository"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/?$"), "pulls"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)/?$"), "pull"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)/commits/?$"), "pull_commits"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)/reviews/?$"), "pull_reviews"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/commits/?$"), "commits"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/commits/([^/]+)/pulls/?$"), "commit_pulls"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/commits/(.+?)/?$"), "commit"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/compare/(.+?)/?$"), "compare"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/deployments/?$"), "deployments"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/deployments/(\d+)/statuses/?$"), "deployment_statuses"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/actions/runs/?$"), "workflow_runs"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/releases/?$"), "releases"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/events/?$"), "issue_events"),
        ("GET", re.compile(r"^/repos/([^/]+)/([^/]+)/actions/runs/(\d+)/jobs/?$"), "workflow_run_jobs"),
    )

    def route(self, request: Request) -> Response:
        for method, pattern, name in self.ROUTES:
            match = pattern.match(request.path)
            if match and request.method in (method, "HEAD"):
                args = match.groups()
                if name == "rate_limit":
                    return self.rate_limit(request)
                repo = self.sim.org.github.repo(args[0], args[1])
                if repo is None:
                    if self.sim.config_empty_repo(args[0], args[1]):
                        return self.empty_repo(name, request)
                    return self.not_found()
                return getattr(self, name)(request, repo, *args[2:])
        return self.not_found()

    def not_found(self, message: str = "Not Found") -> Response:
        return Response(404, {"message": message, "documentation_url": DOCS, "status": "404"})

    def empty_repo(self, name: str, request: Request) -> Response:
        if name in ("commits", "commit", "commit_pulls"):
            return Response(
                409, {"message": "Git Repository is empty.", "documentation_url": DOCS, "status": "409"}
            )
        if name == "workflow_runs":
            return Response(200, {"total_count": 0, "workflow_runs": []})
        if name in ("pulls", "deployments", "releases"):
            return Response(200, [])
        return self.not_found()

    # ----- pagination
    def paginate(self, request: Request, items: list, build, max_per_page: int = 100, cap: int | None = None):
        per_page = min(max(request.int_arg("per_page", 30), 1), max_per_page)
        page = max(request.int_arg("page", 1), 1)
        if cap is not None:
            items = items[:cap]
        start = (page - 1) * per_page
        chosen, length = page_slice(items, start, per_page, request)
        last = max((length + per_page - 1) // per_page, 1)
        headers = {}
        link = self.link_header(request, page, last)
        if link:
            headers["Link"] = link
        return [build(item) for item in chosen], headers

    def link_header(self, request: Request, page: int, last: int) -> str:
        if last <= 1 and page <= 1:
            return ""

        def url(number: int) -> str:
            query = {k: v[-1] for k, v in request.query.items()}
            query["page"] = str(number)
            return f"{request.base_url}{request.path}?{urlencode(query)}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return ", ".join(links)

    # ----- object builders
    def user(self, base: str, index: int | None) -> dict | None:
        if index is None:
            return None
        key = (base, index)
        cached = self._users.get(key)
        if cached is not None:
            return cached
        if index == WEB_FLOW:
            login, uid, kind = "web-flow", 19864447, "User"
        elif index == DEPLOY_BOT:
            login, uid, kind = "deploy-bot[bot]", 41898282, "Bot"
        else:
            person = self.sim.org.users[index]
            login, uid, kind = person.login, person.id, "User"
        api = f"{base}/users/{login}"
        user = {
            "login": login,
            "id": uid,
            "node_id": node_id("User", uid),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{WEB}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "user_view_type": "public",
            "site_admin": False,
        }
        self._users[key] = user
        return user

    def owner(self, base: str) -> dict:
        owner = self.sim.config.owner
        key = (base, -100)
        if key not in self._users:
            user = dict(self.user(base, 0))
            api = f"{base}/users/{owner}"
            user.update(
                {
                    "login": owner,
                    "id": 9_000_001,
                    "node_id": node_id("Organization", 9_000_001),
                    "url": api,
                    "html_url": f"{WEB}/{owner}",
                    "type": "Organization",
                    "repos_url": f"{api}/repos",
                    "avatar_url": "https://avatars.githubusercontent.com/u/9000001?v=4",
                }
            )
            self._users[key] = user
        return self._users[key]

    def repository(self, request: Request, repo: Repo, *_ignored) -> Response:
        return Response(200, self.repo_object(request.base_url, repo, full=True))

    def repo_object(self, base: str, repo: Repo, full: bool = True) -> dict:
        key = (base, repo.full_name, full)
        cached = self._repos.get(key)
        if cached is not None:
            return cached
        api = f"{base}/repos/{repo.full_name}"
        html = f"{WEB}/{repo.full_name}"
        created = iso_z(self.sim.org.start - 400 * 86400)
        obj = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.owner(base),
            "private": True,
            "html_url": html,
            "description": f"The {repo.name} service",
            "fork": False,
            "url": api,
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{api}/assignees{{/user}}",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "comments_url": f"{api}/comments{{/number}}",
            "commits_url": f"{api}/commits{{/sha}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "contributors_url": f"{api}/contributors",
            "deployments_url": f"{api}/deployments",
            "downloads_url": f"{api}/downloads",
            "events_url": f"{api}/events",
            "forks_url": f"{api}/forks",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "issues_url": f"{api}/issues{{/number}}",
            "keys_url": f"{api}/keys{{/key_id}}",
            "labels_url": f"{api}/labels{{/name}}",
            "languages_url": f"{api}/languages",
            "merges_url": f"{api}/merges",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "releases_url": f"{api}/releases{{/id}}",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "stargazers_url": f"{api}/stargazers",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "tags_url": f"{api}/tags",
            "teams_url": f"{api}/teams",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "hooks_url": f"{api}/hooks",
        }
        if full:
            obj.update(
                {
                    "clone_url": f"{html}.git",
                    "mirror_url": None,
                    "svn_url": html,
                    "homepage": None,
                    "language": "Python",
                    "forks_count": 0,
                    "stargazers_count": 0,
                    "watchers_count": 0,
                    "size": 1024,
                    "default_branch": "main",
                    "open_issues_count": 0,
                    "is_template": False,
                    "topics": [],
                    "has_issues": True,
                    "has_projects": False,
                    "has_wiki": False,
                    "has_pages": False,
                    "has_downloads": True,
                    "has_discussions": False,
                    "archived": False,
                    "disabled": False,
                    "visibility": "private",
                    "pushed_at": created,
                    "created_at": created,
                    "updated_at": created,
                    "allow_forking": False,
                    "web_commit_signoff_required": False,
                    "license": None,
                    "forks": 0,
                    "open_issues": 0,
                    "watchers": 0,
                }
            )
        self._repos[key] = obj
        return obj

    def commit_object(self, base: str, repo: Repo, commit: Commit, detail: bool = False) -> dict:
        api = f"{base}/repos/{repo.full_name}"
        users = self.sim.org.users
        if commit.committer == WEB_FLOW:
            committer = {"name": "GitHub", "email": "noreply@github.com", "date": iso_z(commit.committed_at)}
        else:
            person = users[commit.committer]
            committer = {"name": person.name, "email": person.email, "date": iso_z(commit.committed_at)}
        author = users[commit.author]
        obj = {
            "url": f"{api}/commits/{commit.sha}",
            "sha": commit.sha,
            "node_id": base64.b64encode(f"C_{commit.sha}".encode()).decode(),
            "html_url": f"{WEB}/{repo.full_name}/commit/{commit.sha}",
            "comments_url": f"{api}/commits/{commit.sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{commit.sha}",
                "author": {"name": author.name, "email": author.email, "date": iso_z(commit.author_at)},
                "committer": committer,
                "message": commit.message,
                "tree": {"url": f"{api}/git/trees/{commit.sha[::-1]}", "sha": commit.sha[::-1]},
                "comment_count": 0,
                "verification": {
                    "verified": commit.committer == WEB_FLOW,
                    "reason": "valid" if commit.committer == WEB_FLOW else "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "author": self.user(base, commit.author),
            "committer": self.user(base, commit.committer),
            "parents": [
                {
                    "url": f"{api}/commits/{sha}",
                    "html_url": f"{WEB}/{repo.full_name}/commit/{sha}",
                    "sha": sha,
                }
                for sha in commit.parents
            ],
        }
        if detail:
            obj["stats"] = {
                "additions": commit.additions,
                "deletions": commit.deletions,
                "total": commit.additions + commit.deletions,
            }
            obj["files"] = self.files(repo, [commit])
        return obj

    def files(self, repo: Repo, commits: list[Commit]) -> list[dict]:
        out = []
        for commit in commits[:300]:
            module = f"module_{int(commit.sha[:4], 16) % 40}.py"
            for folder in [f"services/{area}" for area in commit.areas] or [f"src/{repo.name}"]:
                out.append(self._file(repo, commit, f"{folder}/{module}"))
        return out[:300]

    def _file(self, repo: Repo, commit: Commit, name: str) -> dict:
        return {
            "sha": commit.sha[::-1],
            "filename": name,
            "status": "modified",
            "additions": commit.additions,
            "deletions": commit.deletions,
            "changes": commit.additions + commit.deletions,
            "blob_url": f"{WEB}/{repo.full_name}/blob/{commit.sha}/{name}",
            "raw_url": f"{WEB}/{repo.full_name}/raw/{commit.sha}/{name}",
            "contents_url": f"https://api.github.com/repos/{repo.full_name}/contents/{name}?ref={commit.sha}",
            "patch": "@@ -1,3 +1,4 @@\n+# changed\n",
        }

    def pr_object(self, base: str, repo: Repo, pr: PullRequest, detail: bool = False) -> dict:
        api = f"{base}/repos/{repo.full_name}"
        html = f"{WEB}/{repo.full_name}/pull/{pr.number}"
        head_sha = pr.commits[-1].sha
        repo_obj = self.repo_object(base, repo)
        owner = self.sim.config.owner
        labels = [
            {
                "id": 208_000_000 + i,
                "node_id": node_id("Label", 208_000_000 + i),
                "url": f"{api}/labels/{name}",
                "name": name,
                "description": name.title(),
                "color": "f29513",
                "default": name == "bug",
            }
            for i, name in enumerate(pr.labels)
        ]
        obj = {
            "url": f"{api}/pulls/{pr.number}",
            "id": pr.id,
            "node_id": node_id("PullRequest", pr.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pr.number}",
            "commits_url": f"{api}/pulls/{pr.number}/commits",
            "review_comments_url": f"{api}/pulls/{pr.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pr.number}/comments",
            "statuses_url": f"{api}/statuses/{head_sha}",
            "number": pr.number,
            "state": pr.state,
            "locked": False,
            "title": pr.title,
            "user": self.user(base, pr.user),
            "body": pr.body,
            "labels": labels,
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso_z(pr.created_at),
            "updated_at": iso_z(pr.updated_at),
            "closed_at": iso_z(pr.closed_at) if pr.closed_at else None,
            "merged_at": iso_z(pr.merged_at) if pr.merged_at else None,
            "merge_commit_sha": pr.merge_commit_sha or head_sha[::-1],
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": {
                "label": f"{owner}:{pr.head_ref}",
                "ref": pr.head_ref,
                "sha": head_sha,
                "user": self.owner(base),
                "repo": repo_obj,
            },
            "base": {
                "label": f"{owner}:main",
                "ref": "main",
                "sha": pr.base_sha,
                "user": self.owner(base),
                "repo": repo_obj,
            },
            "_links": {
                "self": {"href": f"{api}/pulls/{pr.number}"},
                "html": {"href": html},
                "issue": {"href": f"{api}/issues/{pr.number}"},
                "comments": {"href": f"{api}/issues/{pr.number}/comments"},
                "review_comments": {"href": f"{api}/pulls/{pr.number}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{api}/pulls/{pr.number}/commits"},
                "statuses": {"href": f"{api}/statuses/{head_sha}"},
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": pr.draft,
        }
        if detail:
            merged = pr.merged_at is not None
            obj.update(
                {
                    "merged": merged,
                    "mergeable": None if pr.state == "closed" else True,
                    "rebaseable": None if pr.state == "closed" else True,
                    "mergeable_state": "unknown" if pr.state == "closed" else "clean",
                    "merged_by": self.user(base, pr.merged_by) if merged else None,
                    "comments": 0,
                    "review_comments": 0,
                    "maintainer_can_modify": False,
                    "commits": len(pr.commits),
                    "additions": sum(c.additions for c in pr.commits),
                    "deletions": sum(c.deletions for c in pr.commits),
                    "changed_files": sum(c.files for c in pr.commits),
                }
            )
        return obj

    # ----- endpoints
    def rate_limit(self, request: Request) -> Response:
        token = self._token(request) or ""
        headers, _ = self._rate(token, charge=False)
        core = {
            "limit": int(headers["x-ratelimit-limit"]),
            "used": int(headers["x-ratelimit-used"]),
            "remaining": int(headers["x-ratelimit-remaining"]),
            "reset": int(headers["x-ratelimit-reset"]),
        }
        other = {"limit": 30, "used": 0, "remaining": 30, "reset": int(time.time()) + 60}
        return Response(
            200,
            {
                "resources": {
                    "core": core,
                    "search": other,
                    "graphql": dict(core, used=0, remaining=core["limit"]),
                },
                "rate": core,
            },
        )

    def pulls(self, request: Request, repo: Repo) -> Response:
        state = request.arg("state", "open")
        sort = request.arg("sort", "created")
        if state not in ("open", "closed", "all"):
            return self.bad_request(f"state must be open, closed or all, got {state!r}")
        if sort not in ("created", "updated", "popularity", "long-running"):
            return self.bad_request(
                f"sort must be created, updated, popularity or long-running, got {sort!r}"
            )
        direction = request.arg("direction") or ("desc" if sort == "created" else "asc")
        if direction not in ("asc", "desc"):
            return self.bad_request(f"direction must be asc or desc, got {direction!r}")
        items = [pr for pr in repo.pulls if state == "all" or pr.state == state]
        head = request.arg("head")
        if head:
            ref = head.split(":", 1)[-1]
            items = [pr for pr in items if pr.head_ref == ref]
        base_ref = request.arg("base")
        if base_ref and base_ref != "main":
            items = []
        if sort == "updated":
            key = lambda pr: (pr.updated_at, pr.number)  # noqa: E731
        elif sort == "popularity":
            key = lambda pr: (len(pr.reviews), pr.number)  # noqa: E731
        else:
            key = lambda pr: (pr.created_at, pr.number)  # noqa: E731
        if sort == "long-running":
            month_ago = self.sim.org.clock - 30 * 86400
            items = [pr for pr in items if pr.created_at < month_ago]
        items.sort(key=key, reverse=direction == "desc")
        body, headers = self.paginate(request, items, lambda pr: self.pr_object(request.base_url, repo, pr))
        return Response(200, body, headers)

    def _pr(self, repo: Repo, number: str) -> PullRequest | None:
        index = int(number) - 1
        return repo.pulls[index] if 0 <= index < len(repo.pulls) else None

    def pull(self, request: Request, repo: Repo, number: str) -> Response:
        pr = self._pr(repo, number)
        if pr is None:
            return self.not_found()
        return Response(200, self.pr_object(request.base_url, repo, pr, detail=True))

    def pull_commits(self, request: Request, repo: Repo, number: str) -> Response:
        pr = self._pr(repo, number)
        if pr is None:
            return self.not_found()
        body, headers = self.paginate(
            request, pr.commits, lambda c: self.commit_object(request.base_url, repo, c), cap=250
        )
        return Response(200, body, headers)

    def pull_reviews(self, request: Request, repo: Repo, number: str) -> Response:
        pr = self._pr(repo, number)
        if pr is None:
            return self.not_found()
        api = f"{request.base_url}/repos/{repo.full_name}"

        def build(review):
            html = f"{WEB}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{review.id}"
            return {
                "id": review.id,
                "node_id": node_id("PullRequestReview", review.id),
                "user": self.user(request.base_url, review.user),
                "body": review.body,
                "state": review.state,
                "html_url": html,
                "pull_request_url": f"{api}/pulls/{pr.number}",
                "_links": {"html": {"href": html}, "pull_request": {"href": f"{api}/pulls/{pr.number}"}},
                "submitted_at": iso_z(review.submitted_at),
                "commit_id": review.commit_id,
                "author_association": "MEMBER",
            }

        body, headers = self.paginate(request, pr.reviews, build)
        return Response(200, body, headers)

    def _time_arg(self, request: Request, name: str) -> float | None:
        value = request.arg(name)
        if value is None or value == "":
            return None
        try:
            return parse_iso(value)
        except ValueError:
            raise ValueError(f"{name} must be an ISO 8601 timestamp, got {value!r}") from None

    def commits(self, request: Request, repo: Repo) -> Response:
        try:
            since = self._time_arg(request, "since")
            until = self._time_arg(request, "until")
        except ValueError as error:
            return Response(400, {"message": str(error), "documentation_url": DOCS, "status": "400"})
        ref = request.arg("sha")
        items = repo.sorted_main()
        if ref:
            start = repo.resolve_ref(ref)
            if start is None:
                return self.not_found(f"No commit found for SHA: {ref}")
            if start is not repo.head:
                first = repo.main_order[0]
                items = repo.only_in(start, first) + [first]
                items.sort(key=lambda c: (c.committed_at, c.seq), reverse=True)
        author = request.arg("author")
        if since is not None or until is not None or author:
            users = self.sim.org.users

            def keep(c: Commit) -> bool:
                if since is not None and c.committed_at < since:
                    return False
                if until is not None and c.committed_at > until:
                    return False
                if author:
                    person = users[c.author]
                    return author.lower() in (person.login, person.email)
                return True

            items = [c for c in items if keep(c)]
        body, headers = self.paginate(request, items, lambda c: self.commit_object(request.base_url, repo, c))
        return Response(200, body, headers)

    def commit(self, request: Request, repo: Repo, ref: str) -> Response:
        commit = repo.resolve_ref(ref)
        if commit is None:
            if re.fullmatch(r"[0-9a-f]{7,40}", ref):
                return Response(
                    422,
                    {
                        "message": f"No commit found for SHA: {ref}",
                        "documentation_url": DOCS,
                        "status": "422",
                    },
                )
            return self.not_found(f"No commit found for SHA: {ref}")
        return Response(200, self.commit_object(request.base_url, repo, commit, detail=True))

    def commit_pulls(self, request: Request, repo: Repo, sha: str) -> Response:
        commit = repo.resolve_ref(sha)
        if commit is None:
            return Response(
                422,
                {"message": f"No commit found for SHA: {sha}", "documentation_url": DOCS, "status": "422"},
            )
        prs = []
        if commit.pr is not None:
            prs = [commit.pr]
        else:
            for pr in repo.pulls:
                if pr.merge_commit_sha == commit.sha:
                    prs = [pr]
                    break
            else:  # a rebased commit: find the pull request merged at the same moment with that message
                for pr in repo.pulls:
                    if (
                        pr.merged_at == commit.committed_at
                        and pr.merge_method == "rebase"
                        and any(c.message == commit.message for c in pr.commits)
                    ):
                        prs = [pr]
                        break
        body, headers = self.paginate(request, prs, lambda pr: self.pr_object(request.base_url, repo, pr))
        return Response(200, body, headers)

    def compare(self, request: Request, repo: Repo, basehead: str) -> Response:
        base_ref, sep, head_ref = basehead.partition("...")
        if not sep:
            base_ref, sep, head_ref = basehead.partition("..")
        if not sep:
            return self.not_found()
        base_ref = base_ref.split(":", 1)[-1]
        head_ref = head_ref.split(":", 1)[-1]
        base = repo.resolve_ref(base_ref)
        head = repo.resolve_ref(head_ref)
        if base is None or head is None:
            return self.not_found()
        ahead = repo.only_in(head, base)
        behind = repo.only_in(base, head)
        if ahead and behind:
            status = "diverged"
        elif ahead:
            status = "ahead"
        elif behind:
            status = "behind"
        else:
            status = "identical"
        url = request.base_url
        api = f"{url}/repos/{repo.full_name}"
        html = f"{WEB}/{repo.full_name}/compare/{basehead}"
        owner = self.sim.config.owner
        body = {
            "url": f"{api}/compare/{basehead}",
            "html_url": html,
            "permalink_url": f"{WEB}/{repo.full_name}/compare/{owner}:{base.sha}...{owner}:{head.sha}",
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "base_commit": self.commit_object(url, repo, base),
            "merge_base_commit": self.commit_object(url, repo, repo.merge_base(base, head)),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
        }
        headers = {}
        if request.arg("page") is None and request.arg("per_page") is None:
            body["commits"] = [self.commit_object(url, repo, c) for c in ahead[:250]]
        else:
            body["commits"], headers = self.paginate(
                request, ahead, lambda c: self.commit_object(url, repo, c)
            )
        body["files"] = self.files(repo, ahead)
        return Response(200, body, headers)

    def deployment_object(self, base: str, repo: Repo, d) -> dict:
        api = f"{base}/repos/{repo.full_name}"
        return {
            "url": f"{api}/deployments/{d.id}",
            "id": d.id,
            "node_id": node_id("Deployment", d.id),
            "sha": d.sha,
            "ref": d.ref,
            "task": d.task,
            "payload": {},
            "original_environment": d.environment,
            "environment": d.environment,
            "description": d.description,
            "creator": self.user(base, d.creator),
            "created_at": iso_z(d.created_at),
            "updated_at": iso_z(d.updated_at),
            "statuses_url": f"{api}/deployments/{d.id}/statuses",
            "repository_url": api,
            "transient_environment": False,
            "production_environment": d.production,
        }

    def deployments(self, request: Request, repo: Repo) -> Response:
        items = repo.deployments[::-1]
        for name in ("sha", "ref", "task", "environment"):
            value = request.arg(name)
            if value not in (None, "", "none"):
                items = [d for d in items if getattr(d, name) == value]
        body, headers = self.paginate(
            request, items, lambda d: self.deployment_object(request.base_url, repo, d)
        )
        return Response(200, body, headers)

    def deployment_statuses(self, request: Request, repo: Repo, deployment_id: str) -> Response:
        d = repo.deployments_by_id.get(int(deployment_id))
        if d is None:
            return self.not_found()
        api = f"{request.base_url}/repos/{repo.full_name}"

        def build(s):
            target = f"https://deploy.{self.sim.config.owner}.example/{repo.name}/{d.id}"
            return {
                "url": f"{api}/deployments/{d.id}/statuses/{s.id}",
                "id": s.id,
                "node_id": node_id("DeploymentStatus", s.id),
                "state": s.state,
                "creator": self.user(request.base_url, d.creator),
                "description": s.description,
                "environment": s.environment,
                "target_url": target,
                "created_at": iso_z(s.created_at),
                "updated_at": iso_z(s.created_at),
                "deployment_url": f"{api}/deployments/{d.id}",
                "repository_url": api,
                "environment_url": f"https://{repo.name}.{self.sim.config.owner}.example",
                "log_url": target,
            }

        body, headers = self.paginate(request, d.statuses[::-1], build)
        return Response(200, body, headers)

    def _created_filter(self, value: str):
        def bound(text: str, end: bool) -> float:
            stamp = parse_iso(text)
            if end and len(text.strip()) == 10:
                stamp += 86400 - 1
            return stamp

        value = value.strip()
        if ".." in value:
            low, _, high = value.partition("..")
            lo = None if low in ("", "*") else bound(low, False)
            hi = None if high in ("", "*") else bound(high, True)
            return lambda t: (lo is None or t >= lo) and (hi is None or t <= hi)
        for op in (">=", "<=", ">", "<"):
            if value.startswith(op):
                return _comparison(op, bound(value[len(op) :], op in ("<=", ">")))
        low = bound(value, False)
        high = bound(value, True)
        return lambda t: low <= t <= high

    def workflow_runs(self, request: Request, repo: Repo) -> Response:
        items = repo.runs[::-1]
        created = request.arg("created")
        if created:
            try:
                test = self._created_filter(created)
            except ValueError:
                return self.bad_request(f"created is not a valid date or range: {created!r}")
            items = [r for r in items if test(r.created_at)]
        for name, attr in (("branch", "head_branch"), ("event", "event"), ("head_sha", "head_sha")):
            value = request.arg(name)
            if value:
                items = [r for r in items if getattr(r, attr) == value]
        status = request.arg("status")
        if status:
            items = [r for r in items if status in (r.status, r.conclusion)]
        exclude_prs = request.arg("exclude_pull_requests") == "true"
        base = request.base_url
        api = f"{base}/repos/{repo.full_name}"
        minimal = self.repo_object(base, repo, full=False)
        by_number = repo.pulls

        def build(run):
            url = f"{api}/actions/runs/{run.id}"
            commit = run.head_commit
            users = self.sim.org.users
            author = users[commit.author]
            prs = (
                []
                if exclude_prs
                else [
                    {
                        "id": by_number[n - 1].id,
                        "number": n,
                        "url": f"{api}/pulls/{n}",
                        "head": {
                            "ref": run.head_branch,
                            "sha": run.head_sha,
                            "repo": {"id": repo.id, "url": api, "name": repo.name},
                        },
                        "base": {
                            "ref": "main",
                            "sha": by_number[n - 1].base_sha,
                            "repo": {"id": repo.id, "url": api, "name": repo.name},
                        },
                    }
                    for n in run.pull_requests
                ]
            )
            return {
                "id": run.id,
                "name": run.name,
                "node_id": node_id("WorkflowRun", run.id),
                "check_suite_id": run.id + 1,
                "check_suite_node_id": node_id("CheckSuite", run.id + 1),
                "head_branch": run.head_branch,
                "head_sha": run.head_sha,
                "path": run.path,
                "run_number": run.run_number,
                "event": run.event,
                "display_title": run.display_title,
                "status": run.status,
                "conclusion": run.conclusion,
                "workflow_id": run.workflow_id,
                "url": url,
                "html_url": f"{WEB}/{repo.full_name}/actions/runs/{run.id}",
                "pull_requests": prs,
                "created_at": iso_z(run.created_at),
                "updated_at": iso_z(run.updated_at),
                "actor": self.user(base, run.actor),
                "triggering_actor": self.user(base, run.actor),
                "run_attempt": run.run_attempt,
                "run_started_at": iso_z(run.created_at if run.run_started_at is None else run.run_started_at),
                "jobs_url": f"{url}/jobs",
                "logs_url": f"{url}/logs",
                "check_suite_url": f"{api}/check-suites/{run.id + 1}",
                "artifacts_url": f"{url}/artifacts",
                "cancel_url": f"{url}/cancel",
                "rerun_url": f"{url}/rerun",
                "workflow_url": f"{api}/actions/workflows/{run.workflow_id}",
                "head_commit": {
                    "id": commit.sha,
                    "tree_id": commit.sha[::-1],
                    "message": commit.message,
                    "timestamp": iso_z(commit.committed_at),
                    "author": {"name": author.name, "email": author.email},
                    "committer": {"name": "GitHub", "email": "noreply@github.com"}
                    if commit.committer == WEB_FLOW
                    else {"name": users[commit.committer].name, "email": users[commit.committer].email},
                },
                "repository": minimal,
                "head_repository": minimal,
            }

        body, headers = self.paginate(request, items, build)
        return Response(200, {"total_count": len(items), "workflow_runs": body}, headers)

    def issue_events(self, request: Request, repo: Repo, number: str) -> Response:
        """`GET issues/{n}/events` (not in the specs: GitHub's public docs, "Issue events"): a pull request's
        labeled, ready_for_review, convert_to_draft, merged and closed events, oldest first."""
        pr = self._pr(repo, number)
        if pr is None:
            return self.not_found()
        base = request.base_url
        api = f"{base}/repos/{repo.full_name}"
        events = [
            ("labeled", pr.created_at, 5_000_000_000 + pr.id * 10 + i, pr.user)
            for i, _ in enumerate(pr.labels)
        ]
        events += [(event, at, identity, pr.user) for event, at, identity in pr.draft_events]
        if pr.merged_at is not None:
            events.append(("merged", pr.merged_at, 5_000_000_000 + pr.id * 10 + 8, pr.merged_by))
        if pr.closed_at is not None:
            events.append(("closed", pr.closed_at, 5_000_000_000 + pr.id * 10 + 9, pr.merged_by or pr.user))
        events.sort(key=lambda e: (e[1], e[2]))

        def build(event):
            name, at, identity, actor = event
            item = {
                "id": identity,
                "node_id": node_id(_EVENT_TYPES.get(name, "IssueEvent"), identity),
                "url": f"{api}/issues/events/{identity}",
                "actor": self.user(base, actor),
                "event": name,
                "commit_id": pr.merge_commit_sha if name == "merged" else None,
                "commit_url": f"{api}/commits/{pr.merge_commit_sha}" if name == "merged" else None,
                "created_at": iso_z(at),
                "performed_via_github_app": None,
            }
            if name == "labeled":
                item["label"] = {"name": pr.labels[identity % 10], "color": "f29513"}
            return item

        body, headers = self.paginate(request, events, build)
        return Response(200, body, headers)

    def workflow_run_jobs(self, request: Request, repo: Repo, run_id: str) -> Response:
        """`GET actions/runs/{id}/jobs` (not in the specs: GitHub's public docs, "Workflow jobs"): the jobs of
        the latest attempt (`filter=latest`, the default) or of every attempt (`filter=all`), with steps."""
        run = next((r for r in repo.runs if r.id == int(run_id)), None)
        if run is None:
            return self.not_found()
        which = request.arg("filter") or "latest"
        if which not in ("latest", "all"):
            return self.bad_request(f"filter must be latest or all, got {which!r}")
        attempts = list(enumerate(run.attempts, start=1))
        if which == "latest":
            attempts = attempts[-1:]
        jobs = [job for number, attempt in attempts for job in jobs_of_attempt(run, number, attempt)]
        base = request.base_url
        api = f"{base}/repos/{repo.full_name}"

        def build(job):
            url = f"{api}/actions/jobs/{job['id']}"
            return {
                "id": job["id"],
                "run_id": run.id,
                "workflow_name": run.name,
                "head_branch": run.head_branch,
                "run_url": f"{api}/actions/runs/{run.id}",
                "run_attempt": job["attempt"],
                "node_id": node_id("CheckRun", job["id"]),
                "head_sha": run.head_sha,
                "url": url,
                "html_url": f"{WEB}/{repo.full_name}/actions/runs/{run.id}/job/{job['id']}",
                "status": job["status"],
                "conclusion": job["conclusion"],
                "created_at": iso_z(job["created_at"]),
                "started_at": iso_z(job["started_at"]),
                "completed_at": iso_z(job["completed_at"]) if job["completed_at"] is not None else None,
                "name": job["name"],
                "steps": [
                    {
                        "name": step["name"],
                        "status": step["status"],
                        "conclusion": step["conclusion"],
                        "number": number,
                        "started_at": iso_z(step["started_at"]),
                        "completed_at": iso_z(step["completed_at"])
                        if step["completed_at"] is not None
                        else None,
                    }
                    for number, step in enumerate(job["steps"], start=1)
                ],
                "check_run_url": f"{api}/check-runs/{job['id']}",
                "labels": ["ubuntu-latest"],
                "runner_id": job["runner_id"],
                "runner_name": f"GitHub Actions {job['runner_id']}",
                "runner_group_id": 1,
                "runner_group_name": "GitHub Actions",
            }

        body, headers = self.paginate(request, jobs, build)
        return Response(200, {"total_count": len(jobs), "jobs": body}, headers)

    def releases(self, request: Request, repo: Repo) -> Response:
        base = request.base_url
        api = f"{base}/repos/{repo.full_name}"

        def build(rel):
            url = f"{api}/releases/{rel.id}"
            return {
                "url": url,
                "html_url": f"{WEB}/{repo.full_name}/releases/tag/{rel.tag_name}",
                "assets_url": f"{url}/assets",
                "upload_url": f"https://uploads.github.com/repos/{repo.full_name}/releases/{rel.id}/assets{{?name,label}}",
                "tarball_url": f"{api}/tarball/{rel.tag_name}",
                "zipball_url": f"{api}/zipball/{rel.tag_name}",
                "id": rel.id,
                "node_id": node_id("Release", rel.id),
                "tag_name": rel.tag_name,
                "target_commitish": rel.sha,
                "name": rel.name,
                "body": rel.body,
                "draft": False,
                "prerelease": False,
                "immutable": False,
                "created_at": iso_z(rel.created_at),
                "published_at": iso_z(rel.created_at),
                "author": self.user(base, rel.author),
                "assets": [],
            }

        body, headers = self.paginate(request, self_sorted(repo.releases), build)
        return Response(200, body, headers)


_EVENT_TYPES = {"ready_for_review": "ReadyForReviewEvent", "convert_to_draft": "ConvertToDraftEvent"}


def self_sorted(releases):
    return sorted(releases, key=lambda r: (r.created_at, r.id), reverse=True)


def _comparison(op: str, stamp: float):
    if op == ">=":
        return lambda t: t >= stamp
    if op == "<=":
        return lambda t: t <= stamp
    if op == ">":
        return lambda t: t > stamp
    return lambda t: t < stamp
