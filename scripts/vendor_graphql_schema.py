"""Writes simulator/github_graphql_schema.graphql: the part of GitHub's public GraphQL schema the simulator serves.

The full schema (octokit/graphql-schema, MIT) lives outside the repository (../shared/specs/github-graphql); this
subset keeps the simulator answering in a clone without it. Every type, field and argument is copied from the full
schema (descriptions dropped); tests/test_graphql_simulator.py checks the file against a fresh run of this script.

    python scripts/vendor_graphql_schema.py [path/to/schema.graphql]
"""

from __future__ import annotations

import sys
from pathlib import Path

import graphql

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET = REPO_ROOT / "simulator" / "github_graphql_schema.graphql"
LICENSE = "MIT License, Copyright (c) 2018 Octokit contributors (see the full schema's LICENSE.md)"

CONNECTION = ("totalCount", "pageInfo", "nodes", "edges")
EDGE = ("cursor", "node")
KEEP: dict[str, tuple[str, ...] | None] = {  # type -> fields kept (None: all of them)
    "Query": ("node", "nodes", "rateLimit", "repository"),
    "RateLimit": None,
    "Node": None,
    "Actor": ("avatarUrl", "login", "resourcePath", "url"),
    "User": ("avatarUrl", "databaseId", "id", "login", "resourcePath", "url"),
    "Bot": ("avatarUrl", "databaseId", "id", "login", "resourcePath", "url"),
    "GitActor": ("date", "email", "name", "user"),
    "PageInfo": None,
    "Repository": (
        "databaseId",
        "deployments",
        "id",
        "isPrivate",
        "name",
        "nameWithOwner",
        "object",
        "pullRequests",
        "url",
    ),
    "PullRequest": (
        "additions",
        "author",
        "baseRefName",
        "baseRefOid",
        "body",
        "changedFiles",
        "closed",
        "closedAt",
        "commits",
        "createdAt",
        "databaseId",
        "deletions",
        "fullDatabaseId",
        "headRefName",
        "headRefOid",
        "id",
        "isDraft",
        "labels",
        "merged",
        "mergedAt",
        "mergedBy",
        "mergeCommit",
        "number",
        "permalink",
        "resourcePath",
        "reviews",
        "state",
        "timelineItems",
        "title",
        "updatedAt",
        "url",
    ),
    "PullRequestTimelineItemsConnection": CONNECTION,
    "PullRequestTimelineItemsEdge": EDGE,
    "PullRequestTimelineItems": None,  # a union: only the member types kept here stay
    "PullRequestTimelineItemsItemType": ("CONVERT_TO_DRAFT_EVENT", "READY_FOR_REVIEW_EVENT"),
    "ReadyForReviewEvent": ("actor", "createdAt", "id", "resourcePath", "url"),
    "ConvertToDraftEvent": ("actor", "createdAt", "id", "resourcePath", "url"),
    "PullRequestConnection": CONNECTION,
    "PullRequestEdge": EDGE,
    "PullRequestCommit": ("commit", "id", "resourcePath", "url"),
    "PullRequestCommitConnection": CONNECTION,
    "PullRequestCommitEdge": EDGE,
    "Commit": (
        "abbreviatedOid",
        "additions",
        "author",
        "changedFilesIfAvailable",
        "commitUrl",
        "committedDate",
        "committedViaWeb",
        "committer",
        "deletions",
        "authoredDate",
        "history",
        "id",
        "message",
        "messageBody",
        "messageHeadline",
        "oid",
        "parents",
        "resourcePath",
        "url",
    ),
    "CommitConnection": CONNECTION,
    "CommitHistoryConnection": CONNECTION,
    "GitObject": ("abbreviatedOid", "commitUrl", "id", "oid"),
    "CommitEdge": EDGE,
    "PullRequestReview": (
        "author",
        "authorAssociation",
        "body",
        "commit",
        "createdAt",
        "databaseId",
        "fullDatabaseId",
        "id",
        "publishedAt",
        "resourcePath",
        "state",
        "submittedAt",
        "updatedAt",
        "url",
    ),
    "PullRequestReviewConnection": CONNECTION,
    "PullRequestReviewEdge": EDGE,
    "Label": ("color", "description", "id", "isDefault", "name", "url"),
    "LabelConnection": CONNECTION,
    "LabelEdge": EDGE,
    "Deployment": (
        "commit",
        "commitOid",
        "createdAt",
        "creator",
        "databaseId",
        "description",
        "environment",
        "id",
        "latestEnvironment",
        "latestStatus",
        "originalEnvironment",
        "payload",
        "ref",
        "state",
        "statuses",
        "task",
        "updatedAt",
    ),
    "DeploymentConnection": CONNECTION,
    "DeploymentEdge": EDGE,
    "DeploymentStatus": (
        "createdAt",
        "creator",
        "description",
        "environment",
        "environmentUrl",
        "id",
        "logUrl",
        "state",
        "updatedAt",
    ),
    "DeploymentStatusConnection": CONNECTION,
    "DeploymentStatusEdge": EDGE,
    "Ref": ("id", "name", "prefix"),
    "IssueOrder": None,
    "IssueOrderField": None,
    "DeploymentOrder": None,
    "DeploymentOrderField": None,
    "LabelOrder": None,
    "LabelOrderField": None,
    "OrderDirection": None,
    "PullRequestState": None,
    "PullRequestReviewState": None,
    "DeploymentState": None,
    "DeploymentStatusState": None,
    "CommentAuthorAssociation": None,
    "DateTime": None,
    "URI": None,
    "GitObjectID": None,
    "BigInt": None,
    "GitTimestamp": None,
}


BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def _known(node) -> bool:
    name = _type_name(node)
    return name in KEEP or name in BUILT_IN


def _type_name(node) -> str:
    while not isinstance(node, graphql.language.NamedTypeNode):
        node = node.type
    return node.name.value


def subset(full_sdl: str) -> str:
    document = graphql.parse(full_sdl, no_location=True)
    kept = []
    for definition in document.definitions:
        name = getattr(getattr(definition, "name", None), "value", None)
        if name not in KEEP:
            continue
        definition.description = None
        wanted = KEEP[name]
        if getattr(definition, "interfaces", None):  # kept where the type keeps the interface's fields
            definition.interfaces = tuple(
                i
                for i in definition.interfaces
                if i.name.value in KEEP
                and (wanted is None or set(KEEP[i.name.value] or ("id",)) <= set(wanted))
            )
        if isinstance(definition, graphql.language.UnionTypeDefinitionNode):
            definition.types = tuple(t for t in definition.types if t.name.value in KEEP)
        for attribute in ("fields", "values"):
            items = getattr(definition, attribute, None)
            if not items:
                continue
            chosen, seen = [], set()
            for item in items:
                if (wanted is not None and item.name.value not in wanted) or item.name.value in seen:
                    continue
                seen.add(item.name.value)
                item.description = None
                if attribute == "fields" and getattr(item, "type", None) is not None:
                    if not _known(item.type):
                        continue
                    if getattr(item, "arguments", None):
                        item.arguments = tuple(a for a in item.arguments if _known(a.type))
                        for argument in item.arguments:
                            argument.description = None
                chosen.append(item)
            setattr(definition, attribute, tuple(chosen))
        kept.append(definition)
    kept.sort(key=lambda d: d.name.value)
    text = graphql.print_ast(graphql.language.DocumentNode(definitions=tuple(kept)))
    header = (
        "# The part of GitHub's public GraphQL schema the doraflow simulator serves, copied from\n"
        "# octokit/graphql-schema by scripts/vendor_graphql_schema.py (descriptions dropped).\n"
        f"# {LICENSE}\n\n"
    )
    graphql.build_schema(text)  # every reference resolves
    return header + text + "\n"


def main(argv: list[str]) -> None:
    source = (
        Path(argv[1])
        if len(argv) > 1
        else REPO_ROOT.parent / "shared" / "specs" / "github-graphql" / "schema.graphql"
    )
    TARGET.write_text(subset(source.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO_ROOT)} from {source}")


if __name__ == "__main__":
    main(sys.argv)
