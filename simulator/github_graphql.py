"""GitHub GraphQL API (`POST /graphql`) over the synthetic organisation.

Each query is parsed and validated with graphql-core against GitHub's public schema (the SDL in
`../shared/specs/github-graphql/schema.graphql`, or `DORAFLOW_GRAPHQL_SCHEMA`; without it, the small
subset vendored in `github_graphql_schema.graphql`, which validates only the fields it holds), then
checked and priced the way GitHub documents it, then executed:

- every connection that selects `nodes`/`edges` needs `first` or `last`, between 0 and 100;
- node limit: at most 500,000 possible nodes (each connection's `first`, times its parents' `first`);
- cost: the requests needed to fill every connection (1 per top-level connection, plus 1 per possible
  parent node for each nested one), divided by 100 and rounded, at least 1 point; charged to a budget of
  `github_rate_limit` points per hour per token, separate from the REST budget, readable in the query as
  `rateLimit { cost remaining resetAt }` and in the `x-ratelimit-*` headers (resource `graphql`);
- errors in GitHub's shape: HTTP 200 with an `errors` array (`type` NOT_FOUND, MISSING_PAGINATION_BOUNDARIES,
  EXCESSIVE_PAGINATION, MAX_NODE_LIMIT_EXCEEDED, RATE_LIMITED, INSUFFICIENT_SCOPES; validation errors
  with `locations` and `extensions.code`), partial `data` where a node cannot be resolved.

`GitHubApp.graphql_mode` ("on", "absent": 404 as a server without GraphQL, "no_scope": every query refused
for the token's scopes, "forbidden": HTTP 403 as for a token without access) lets tests drive the extractor's
fallback to REST.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import graphql
from graphql import GraphQLError
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode, OperationDefinitionNode

from simulator.clock import iso_z
from simulator.github_model import WEB_FLOW
from simulator.http import Request, Response
from simulator.model import DEPLOY_BOT

SCHEMA_ENV = "DORAFLOW_GRAPHQL_SCHEMA"  # a schema file to use instead
SPECS_ENV = "DORAFLOW_SPECS_DIR"  # the folder of the official specs, as in the tests
REPO_ROOT = Path(__file__).resolve().parent.parent
FULL_SCHEMA = REPO_ROOT.parent / "shared" / "specs" / "github-graphql" / "schema.graphql"
VENDORED_SCHEMA = Path(__file__).with_name("github_graphql_schema.graphql")
DOCS = "https://docs.github.com/graphql"
WEB = "https://github.com"
MAX_PAGE = 100
MAX_NODES = 500_000
PR_COMMITS_CAP = 250  # GitHub lists at most 250 commits of a pull request

_schema_lock = threading.Lock()
_schemas: dict[Path, graphql.GraphQLSchema] = {}


def schema_path() -> Path:
    """The full public schema when it is at hand, else the vendored subset."""
    configured = os.environ.get(SCHEMA_ENV)
    if configured:
        return Path(configured)
    specs = os.environ.get(SPECS_ENV)
    full = Path(specs) / "github-graphql" / "schema.graphql" if specs else FULL_SCHEMA
    return full if full.is_file() else VENDORED_SCHEMA


def load_schema(path: Path | None = None) -> graphql.GraphQLSchema:
    """Build (once per process) the executable schema; GitHub's SDL defines two fields twice: keep the first."""
    path = path or schema_path()
    with _schema_lock:
        if path not in _schemas:
            document = graphql.parse(path.read_text(encoding="utf-8"), no_location=True)
            for definition in document.definitions:
                fields = getattr(definition, "fields", None)
                if fields:
                    seen: set[str] = set()
                    kept = []
                    for field in fields:
                        if field.name.value not in seen:
                            seen.add(field.name.value)
                            kept.append(field)
                    definition.fields = tuple(kept)
            _schemas[path] = graphql.build_ast_schema(document, assume_valid_sdl=True)
        return _schemas[path]


# ----- global ids and cursors
def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global id: base64 of `0<len(kind)>:<kind><database id>` (same as the REST `node_id`)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def parse_node_id(value: str) -> tuple[str, int] | None:
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    head, colon, rest = text.partition(":")
    if not colon or not head.startswith("0") or not head[1:].isdigit():
        return None
    length = int(head[1:])
    kind, number = rest[:length], rest[length:]
    return (kind, int(number)) if number.isdigit() else None


def cursor_of(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def offset_of(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix = "cursor:v2:"
    if not text.startswith(prefix) or not text[len(prefix) :].isdigit():
        raise GraphQLError(
            f"`{cursor}` does not appear to be a valid cursor.",
            extensions={"type": "INVALID_CURSOR_ARGUMENTS"},
        )
    return int(text[len(prefix) :])


def connection(items: list, build, first=None, last=None, after=None, before=None, **_filters) -> dict:
    """A Relay connection over `items` (already in the connection's order); cursors are 1-based offsets."""
    start = offset_of(after) if after else 0
    end = offset_of(before) - 1 if before else len(items)
    start, end = max(start, 0), min(max(end, start), len(items))
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    chosen = list(range(start, end))

    def nodes(_info):
        return [build(items[i]) for i in chosen]

    def edges(_info):
        return [{"cursor": cursor_of(i + 1), "node": build(items[i])} for i in chosen]

    return {
        "totalCount": len(items),
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": cursor_of(start + 1) if chosen else None,
            "endCursor": cursor_of(end) if chosen else None,
        },
        "nodes": nodes,
        "edges": edges,
    }


# ----- cost and limits (GitHub's documented algorithm)
class QueryLimits:
    """Walks an operation: pagination arguments, possible nodes, requests to fill every connection."""

    def __init__(self, schema: graphql.GraphQLSchema, document, variables: dict) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        self.requests = 0
        self.nodes = 0
        self.errors: list[dict] = []

    @property
    def cost(self) -> int:
        return max(1, int(self.requests / 100 + 0.5))

    def walk(self, selection_set, parent_type, multiplicity: int, path: list[str]) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.field(selection, parent_type, multiplicity, path)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent_type
                self.walk(selection.selection_set, target, multiplicity, path)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    self.walk(fragment.selection_set, target, multiplicity, path)

    def _selects_items(self, selection_set) -> bool:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode) and selection.name.value in ("nodes", "edges"):
                return True
            if isinstance(selection, InlineFragmentNode) and self._selects_items(selection.selection_set):
                return True
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and self._selects_items(fragment.selection_set):
                    return True
        return False

    def field(self, node: FieldNode, parent_type, multiplicity: int, path: list[str]) -> None:
        name = node.name.value
        fields = getattr(parent_type, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return
        definition = fields[name]
        named = graphql.get_named_type(definition.type)
        args = get_argument_values(definition, node, self.variables)
        here = [*path, node.alias.value if node.alias else name]
        location = (
            [{"line": node.loc.start_token.line, "column": node.loc.start_token.column}] if node.loc else []
        )
        if named.name.endswith("Connection") and graphql.is_object_type(named):
            first, last = args.get("first"), args.get("last")
            wanted = self._selects_items(node.selection_set)
            if wanted and first is None and last is None:
                self.errors.append(
                    {
                        "type": "MISSING_PAGINATION_BOUNDARIES",
                        "path": here,
                        "locations": location,
                        "message": f"You must provide a `first` or `last` value to properly paginate "
                        f"the `{name}` connection.",
                    }
                )
                return
            for argument, value in (("first", first), ("last", last)):
                if value is not None and value > MAX_PAGE:
                    self.errors.append(
                        {
                            "type": "EXCESSIVE_PAGINATION",
                            "path": here,
                            "locations": location,
                            "message": f"Requesting {value} records on the `{name}` connection exceeds the "
                            f"`{argument}` limit of {MAX_PAGE} records.",
                        }
                    )
                    return
                if value is not None and value < 0:
                    self.errors.append(
                        {
                            "type": "INVALID_ARGUMENTS",
                            "path": here,
                            "locations": location,
                            "message": f"`{argument}` on the `{name}` connection cannot be less than zero.",
                        }
                    )
                    return
            size = max(first or 0, last or 0) if wanted else 0
            self.requests += multiplicity
            self.nodes += multiplicity * size
            self.walk(node.selection_set, named, multiplicity * size, here)
            return
        if name == "nodes" and isinstance(args.get("ids"), list):
            self.walk(node.selection_set, named, multiplicity * len(args["ids"]), here)
            return
        self.walk(node.selection_set, named, multiplicity, here)


# ----- the service
class GraphQLService:
    def __init__(self, app) -> None:
        self.app = app
        self.budget_lock = threading.Lock()
        self.budgets: dict[str, list[int]] = {}  # token -> [window_start, points used]
        self._pulls: dict[int, dict[int, object]] = {}  # repo index -> {pull request id: pull request}

    @property
    def sim(self):
        return self.app.sim

    # budget
    def _budget(self, token: str, charge: int) -> tuple[dict[str, str], bool, dict]:
        limit = self.sim.config.github_rate_limit
        now = int(time.time())
        with self.budget_lock:
            window = self.budgets.setdefault(token, [now, 0])
            if now >= window[0] + 3600:
                window[0], window[1] = now, 0
            exhausted = window[1] + max(charge, 1) > limit
            if charge and not exhausted:
                window[1] += charge
            used, reset = window[1], window[0] + 3600
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - used, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "graphql",
            "X-GitHub-Media-Type": "github.v4; format=json",
        }
        state = {"limit": limit, "used": used, "remaining": max(limit - used, 0), "resetAt": iso_z(reset)}
        return headers, exhausted, state

    def serve(self, request: Request, token: str) -> Response:
        mode = getattr(self.app, "graphql_mode", "on")
        if request.method != "POST" or mode == "absent":
            return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
        try:
            body = request.json()
        except ValueError:
            return Response(
                400, {"message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400"}
            )
        query = body.get("query") if isinstance(body, dict) else None
        variables = body.get("variables") if isinstance(body, dict) else None
        if not isinstance(query, str) or not query.strip():
            return self._errors([{"message": "A query attribute must be specified and must be a string."}])
        if variables is not None and not isinstance(variables, dict):
            return self._errors([{"message": "Variables are invalid JSON."}])
        if mode == "forbidden":
            return Response(
                403,
                {
                    "message": "Resource not accessible by personal access token",
                    "documentation_url": DOCS,
                    "status": "403",
                },
            )
        if mode == "no_scope":
            return self._errors(
                [
                    {
                        "type": "INSUFFICIENT_SCOPES",
                        "locations": [{"line": 1, "column": 1}],
                        "message": "Your token has not been granted the required scopes to execute this query. "
                        "The 'repository' field requires one of the following scopes: ['repo'], but your token "
                        "has only been granted the: ['read:user'] scopes. Please modify your token's scopes at: "
                        "https://github.com/settings/tokens.",
                    }
                ]
            )
        schema = load_schema()
        try:
            document = graphql.parse(query)
        except GraphQLError as error:
            return self._errors([_formatted(error, "parseError")])
        invalid = graphql.validate(schema, document)
        if invalid:
            return self._errors([_formatted(error, "graphqlValidation") for error in invalid])
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        name = body.get("operationName") if isinstance(body, dict) else None
        operation = next((o for o in operations if name is None or (o.name and o.name.value == name)), None)
        if operation is None or (name is None and len(operations) > 1):
            return self._errors([{"message": "An operation name is required when a document holds several."}])
        if operation.operation.value != "query":
            return self._errors(
                [{"message": "The simulator answers queries only (no mutations or subscriptions)."}]
            )
        coerced = graphql.execution.values.get_variable_values(
            schema, operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            return self._errors([_formatted(error, "variableMismatch") for error in coerced])
        limits = QueryLimits(schema, document, coerced)
        limits.walk(operation.selection_set, schema.query_type, 1, ["query"])
        if limits.errors:
            return self._errors(limits.errors)
        if limits.nodes > MAX_NODES:
            return self._errors(
                [
                    {
                        "type": "MAX_NODE_LIMIT_EXCEEDED",
                        "message": f"This query requests up to {limits.nodes:,} possible nodes which exceeds "
                        f"the maximum limit of {MAX_NODES:,}.",
                    }
                ]
            )
        dry_run = _asks_dry_run(operation, coerced)
        headers, exhausted, state = self._budget(token, 0 if dry_run else limits.cost)
        if exhausted:
            return self._errors(
                [{"type": "RATE_LIMITED", "message": "API rate limit already exceeded for user ID 1000000."}],
                dict(headers, **{"x-ratelimit-remaining": "0"}),
            )
        root = self.root(request, limits, state)
        result = graphql.execute(
            schema, document, root_value=root, variable_values=variables, operation_name=name
        )
        out: dict = {"data": result.data}
        if result.errors:
            out["errors"] = [_formatted(error, None) for error in result.errors]
        return Response(200, out, headers)

    def _errors(self, errors: list[dict], headers: dict | None = None) -> Response:
        return Response(200, {"errors": errors}, headers or {})

    # root fields
    def root(self, request: Request, limits: QueryLimits, state: dict) -> dict:
        base = request.base_url

        def rate_limit(_info, dryRun=False):  # noqa: N803 - GraphQL argument name
            return {**state, "cost": limits.cost, "nodeCount": limits.nodes}

        def node(_info, id):  # noqa: A002 - GraphQL argument name
            found = self.resolve_node(base, id)
            if found is None:
                raise GraphQLError(
                    f"Could not resolve to a node with the global id of '{id}'",
                    extensions={"type": "NOT_FOUND"},
                )
            return found

        def nodes(_info, ids):
            # GitHub answers the list with null in place of each unknown id, and one NOT_FOUND error for it
            return [
                self.resolve_node(base, identity)
                or GraphQLError(
                    f"Could not resolve to a node with the global id of '{identity}'",
                    extensions={"type": "NOT_FOUND"},
                )
                for identity in ids
            ]

        def repository(_info, owner, name, followRenames=True):  # noqa: N803
            repo = self.sim.org.github.repo(owner, name)
            if repo is None:
                raise GraphQLError(
                    f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                    extensions={"type": "NOT_FOUND"},
                )
            return self.repository(base, repo)

        return {"rateLimit": rate_limit, "node": node, "nodes": nodes, "repository": repository}

    def resolve_node(self, base: str, identity: str):
        parsed = parse_node_id(identity) if isinstance(identity, str) else None
        if parsed is None:
            return None
        kind, number = parsed
        repos = self.sim.org.github.repos
        if kind == "Repository":
            index = number - 500_000_000
            return self.repository(base, repos[index]) if 0 <= index < len(repos) else None
        index = number // 10_000_000 - 1
        if not 0 <= index < len(repos):
            return None
        repo = repos[index]
        if kind == "PullRequest":
            pulls = self._pulls.get(index)
            if pulls is None or number not in pulls:
                pulls = self._pulls[index] = {pr.id: pr for pr in repo.pulls}
            pr = pulls.get(number)
            return self.pull_request(base, repo, pr) if pr is not None else None
        if kind == "Deployment":
            deployment = repo.deployments_by_id.get(number)
            return self.deployment(base, repo, deployment) if deployment is not None else None
        return None

    # objects
    def actor(self, index: int | None) -> dict | None:
        if index is None:
            return None
        if index == WEB_FLOW:
            login, uid, kind = "web-flow", 19864447, "User"
        elif index == DEPLOY_BOT:
            login, uid, kind = "deploy-bot", 41898282, "Bot"  # GraphQL drops REST's "[bot]" suffix
        else:
            person = self.sim.org.users[index]
            login, uid, kind = person.login, person.id, "User"
        return {
            "__typename": kind,
            "login": login,
            "id": node_id(kind, uid),
            "databaseId": uid,
            "url": f"{WEB}/{login}",
            "avatarUrl": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "resourcePath": f"/{login}",
        }

    def git_actor(self, index: int, moment: int) -> dict:
        if index == WEB_FLOW:
            name, email, user = "GitHub", "noreply@github.com", None
        else:
            person = self.sim.org.users[index]
            name, email, user = person.name, person.email, self.actor(index)
        return {"name": name, "email": email, "date": iso_z(moment), "user": user}

    def commit(self, repo, sha: str) -> dict:
        found = repo.commits.get(sha)
        out = {
            "__typename": "Commit",
            "id": base64.b64encode(f"C_{sha}".encode()).decode(),
            "oid": sha,
            "abbreviatedOid": sha[:7],
            "url": f"{WEB}/{repo.full_name}/commit/{sha}",
            "commitUrl": f"{WEB}/{repo.full_name}/commit/{sha}",
            "resourcePath": f"/{repo.full_name}/commit/{sha}",
        }
        if found is None:
            return out
        headline = found.message.split("\n", 1)[0]
        out.update(
            {
                "message": found.message,
                "messageHeadline": headline,
                "messageBody": found.message[len(headline) :].lstrip("\n"),
                "authoredDate": iso_z(found.author_at),
                "committedDate": iso_z(found.committed_at),
                "author": self.git_actor(found.author, found.author_at),
                "committer": self.git_actor(found.committer, found.committed_at),
                "committedViaWeb": found.committer == WEB_FLOW,
                "additions": found.additions,
                "deletions": found.deletions,
                "changedFilesIfAvailable": found.files,
                "parents": lambda _info, **page: connection(
                    list(found.parents), lambda parent: self.commit(repo, parent), **page
                ),
                "history": lambda _info, **args: self.history(repo, found, **args),
            }
        )
        return out

    def history(
        self, repo, head, after=None, first=None, since=None, until=None, author=None, path=None, **page
    ):
        """`Commit.history`: the ancestry in `git log` order (GitHub: "in the same order as `git log`"); `since`
        and `until` keep the commits whose committer date is in range, as `git log --since/--until` does."""
        if author is not None or path is not None:
            raise GraphQLError(
                "The simulator does not filter `history` by `author` or `path`.",
                extensions={"type": "INVALID_ARGUMENTS"},
            )
        bounded = since is None and until is None and first is not None and not page.get("last")
        # only the prefix the page needs (+1 to know hasNextPage) is walked, the total is counted apart
        limit = (offset_of(after) if after else 0) + first + 1 if bounded else None
        items = repo.log(head, limit)
        if since is not None or until is not None:
            low = _timestamp(since) if since is not None else None
            high = _timestamp(until) if until is not None else None
            items = [
                c
                for c in items
                if (low is None or c.committed_at >= low) and (high is None or c.committed_at <= high)
            ]
        out = connection(items, lambda c: self.commit(repo, c.sha), after=after, first=first, **page)
        if bounded:
            out["totalCount"] = lambda _info: repo.ancestry_size(head)
        return out

    def repository(self, base: str, repo) -> dict:
        def pull_requests(
            _info, states=None, orderBy=None, labels=None, headRefName=None, baseRefName=None, **page
        ):  # noqa: N803
            items = [pr for pr in repo.pulls if states is None or _pr_state(pr) in states]
            if headRefName:
                items = [pr for pr in items if pr.head_ref == headRefName]
            if baseRefName and baseRefName != "main":
                items = []
            order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
            attribute = "updated_at" if order.get("field") == "UPDATED_AT" else "created_at"
            items.sort(
                key=lambda pr: (getattr(pr, attribute), pr.number), reverse=order.get("direction") == "DESC"
            )
            return connection(items, lambda pr: self.pull_request(base, repo, pr), **page)

        def deployments(_info, environments=None, orderBy=None, **page):  # noqa: N803
            items = [d for d in repo.deployments if not environments or d.environment in environments]
            order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
            items.sort(key=lambda d: (d.created_at, d.id), reverse=order.get("direction") == "DESC")
            return connection(items, lambda d: self.deployment(base, repo, d), **page)

        def git_object(_info, oid=None, expression=None):
            # GitHub answers null for an object the repository does not hold
            found = repo.commits.get(oid) if oid else (repo.resolve_ref(expression) if expression else None)
            return self.commit(repo, found.sha) if found is not None else None

        return {
            "__typename": "Repository",
            "id": node_id("Repository", repo.id),
            "object": git_object,
            "databaseId": repo.id,
            "name": repo.name,
            "nameWithOwner": repo.full_name,
            "url": f"{WEB}/{repo.full_name}",
            "isPrivate": True,
            "pullRequests": pull_requests,
            "deployments": deployments,
        }

    def pull_request(self, base: str, repo, pr) -> dict:
        url = f"{WEB}/{repo.full_name}/pull/{pr.number}"
        head_sha = pr.commits[-1].sha

        def commits(_info, **page):
            def build(commit):
                return {
                    "__typename": "PullRequestCommit",
                    "id": node_id("PullRequestCommit", pr.id * 1000 + commit.pos + 1),
                    "url": f"{url}/commits/{commit.sha}",
                    "resourcePath": f"/{repo.full_name}/pull/{pr.number}/commits/{commit.sha}",
                    "commit": self.commit(repo, commit.sha),
                }

            return connection(pr.commits[:PR_COMMITS_CAP], build, **page)

        def reviews(_info, states=None, author=None, **page):
            items = [r for r in pr.reviews if not states or r.state in states]
            return connection(items, lambda r: self.review(repo, pr, r), **page)

        def labels(_info, orderBy=None, **page):  # noqa: N803
            return connection(
                list(enumerate(pr.labels)),
                lambda pair: {
                    "__typename": "Label",
                    "id": node_id("Label", 208_000_000 + pair[0]),
                    "name": pair[1],
                    "color": "f29513",
                    "description": pair[1].title(),
                    "isDefault": pair[1] == "bug",
                    "url": f"{WEB}/{repo.full_name}/labels/{pair[1]}",
                },
                **page,
            )

        def timeline_items(_info, itemTypes=None, since=None, skip=None, **page):  # noqa: N803
            wanted = {_TIMELINE_TYPES[t] for t in itemTypes} if itemTypes else None
            items = [e for e in pr.draft_events if (wanted is None or e[0] in wanted)]
            return connection(items, lambda e: self.draft_event(repo, pr, e), **page)

        merged = pr.merged_at is not None
        return {
            "__typename": "PullRequest",
            "id": node_id("PullRequest", pr.id),
            "databaseId": pr.id,
            "fullDatabaseId": str(pr.id),
            "number": pr.number,
            "title": pr.title,
            "body": pr.body,
            "state": _pr_state(pr),
            "isDraft": bool(getattr(pr, "draft", False)),
            "closed": pr.state == "closed",
            "merged": merged,
            "createdAt": iso_z(pr.created_at),
            "updatedAt": iso_z(pr.updated_at),
            "closedAt": iso_z(pr.closed_at) if pr.closed_at else None,
            "mergedAt": iso_z(pr.merged_at) if merged else None,
            "headRefName": pr.head_ref,
            "headRefOid": head_sha,
            "baseRefName": "main",
            "baseRefOid": pr.base_sha,
            "mergeCommit": self.commit(repo, pr.merge_commit_sha) if merged and pr.merge_commit_sha else None,
            "author": self.actor(pr.user),
            "mergedBy": self.actor(pr.merged_by) if merged else None,
            "url": url,
            "permalink": url,
            "resourcePath": f"/{repo.full_name}/pull/{pr.number}",
            "additions": sum(c.additions for c in pr.commits),
            "deletions": sum(c.deletions for c in pr.commits),
            "changedFiles": sum(c.files for c in pr.commits),
            "commits": commits,
            "reviews": reviews,
            "labels": labels,
            "timelineItems": timeline_items,
        }

    def draft_event(self, repo, pr, event) -> dict:
        name, at, identity = event
        kind = "ReadyForReviewEvent" if name == "ready_for_review" else "ConvertToDraftEvent"
        return {
            "__typename": kind,
            "id": node_id(kind, identity),
            "createdAt": iso_z(at),
            "actor": self.actor(pr.user),
            "url": f"{WEB}/{repo.full_name}/pull/{pr.number}#event-{identity}",
            "resourcePath": f"/{repo.full_name}/pull/{pr.number}#event-{identity}",
        }

    def review(self, repo, pr, review) -> dict:
        url = f"{WEB}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{review.id}"
        return {
            "__typename": "PullRequestReview",
            "id": node_id("PullRequestReview", review.id),
            "databaseId": review.id,
            "fullDatabaseId": str(review.id),
            "state": review.state,
            "body": review.body,
            "submittedAt": iso_z(review.submitted_at),
            "publishedAt": iso_z(review.submitted_at),
            "createdAt": iso_z(review.submitted_at),
            "updatedAt": iso_z(review.submitted_at),
            "commit": self.commit(repo, review.commit_id),
            "author": self.actor(review.user),
            "authorAssociation": "MEMBER",
            "url": url,
            "resourcePath": url[len(WEB) :],
        }

    def deployment(self, base: str, repo, deployment) -> dict:
        target = f"https://deploy.{self.sim.config.owner}.example/{repo.name}/{deployment.id}"

        def status(s) -> dict:
            return {
                "__typename": "DeploymentStatus",
                "id": node_id("DeploymentStatus", s.id),
                "state": s.state.upper(),
                "description": s.description,
                "environment": s.environment,
                "createdAt": iso_z(s.created_at),
                "updatedAt": iso_z(s.created_at),
                "creator": self.actor(deployment.creator),
                "logUrl": target,
                "environmentUrl": f"https://{repo.name}.{self.sim.config.owner}.example",
            }

        latest = deployment.statuses[-1] if deployment.statuses else None
        branch = deployment.ref if repo.commits.get(deployment.ref) is None else None  # a sha is no Ref
        return {
            "__typename": "Deployment",
            "id": node_id("Deployment", deployment.id),
            "databaseId": deployment.id,
            "commitOid": deployment.sha,
            "commit": self.commit(repo, deployment.sha),
            "ref": {
                "__typename": "Ref",
                "id": node_id("Ref", deployment.id),
                "name": branch,
                "prefix": "refs/heads/",
            }
            if branch
            else None,
            "task": deployment.task,
            "environment": deployment.environment,
            "originalEnvironment": deployment.environment,
            "latestEnvironment": deployment.environment,
            "description": deployment.description,
            "payload": "{}",
            "createdAt": iso_z(deployment.created_at),
            "updatedAt": iso_z(deployment.updated_at),
            "creator": self.actor(deployment.creator),
            "state": _deployment_state(latest.state if latest else None),
            "latestStatus": status(latest) if latest else None,
            "statuses": lambda _info, **page: connection(list(deployment.statuses), status, **page),
        }


def _timestamp(value: str) -> int:
    """A GitTimestamp (ISO 8601) as epoch seconds."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise GraphQLError(
            f"`{value}` is not a valid GitTimestamp.", extensions={"type": "INVALID_ARGUMENTS"}
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


# the item types the simulator keeps (the other types of timelineItems are empty here)
_TIMELINE_TYPES = {"READY_FOR_REVIEW_EVENT": "ready_for_review", "CONVERT_TO_DRAFT_EVENT": "convert_to_draft"}


def _pr_state(pr) -> str:
    if pr.merged_at is not None:
        return "MERGED"
    return "CLOSED" if pr.state == "closed" else "OPEN"


def _deployment_state(status: str | None) -> str | None:
    mapping = {"success": "ACTIVE", "pending": "PENDING", "queued": "QUEUED", "in_progress": "IN_PROGRESS"}
    if status is None:
        return "PENDING"
    return mapping.get(status, status.upper())


def _asks_dry_run(operation: OperationDefinitionNode, variables: dict) -> bool:
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value == "rateLimit":
            for argument in selection.arguments or ():
                if argument.name.value == "dryRun":
                    value = graphql.value_from_ast(argument.value, graphql.GraphQLBoolean, variables)
                    return bool(value)
    return False


def _formatted(error: GraphQLError, code: str | None) -> dict:
    """graphql-core's error as GitHub shapes it: `type` on top for its own kinds, `extensions.code` else."""
    out: dict = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    extensions = dict(error.extensions or {})
    if "type" in extensions:
        out["type"] = extensions.pop("type")
    if code and not extensions.get("code"):
        extensions["code"] = code
    if extensions:
        out["extensions"] = extensions
    return out
