"""A GitHub-shaped issues route: `GET /repos/{owner}/{repo}/issues`, as the REST API v3 answers it.

Shaped like https://docs.github.com/en/rest/issues/issues#list-repository-issues: `state`, `sort`,
`direction`, `since` (updated at or after; there is no end bound), `per_page` (at most 100), `page`; issue
objects with `number`, `title`, `state`, `user`, timestamps and `pull_request` on pull requests; and the
headers GitHub sends: a `Link` header whose `next` URL is on `/repositories/{id}/issues` (as GitHub's are),
and `X-RateLimit-*`. Every fourth record is a pull request, every third one is closed. And each issue's
comments, `GET /repos/{owner}/{repo}/issues/{number}/comments`: as many as its `comments` field says.
"""

from __future__ import annotations

import re
import time
import zlib
from datetime import timedelta
from typing import Any

from sample_api.data import Dataset, Record, format_instant
from sample_api.faults import Faults
from sample_api.protocol import BadRequest, Reply, Request, instant_param, link_to, size_param

REPO_PATH = re.compile(r"/repos/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)/issues")
REPOSITORY_ID_PATH = re.compile(r"/repositories/(?P<repository_id>\d+)/issues")
COMMENTS_PATH = re.compile(r"/repos/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)/issues/(?P<number>\d+)/comments")
GITHUB_MAX_PER_PAGE = 100
_GITHUB_DEFAULT_PER_PAGE = 30
_CHOICES = {
    "state": ("open", "closed", "all"),
    "sort": ("created", "updated", "comments"),
    "direction": ("asc", "desc"),
}
_DEFAULTS = {"state": "open", "sort": "created", "direction": "desc"}


def repository_id(owner: str, repo: str) -> int:
    """A stable numeric id for `owner/repo`, like GitHub's."""
    return zlib.crc32(f"{owner}/{repo}".encode()) % 10**8


def issue_state(record: Record) -> str:
    """`closed` for every third record, else `open`."""
    return "closed" if record.id % 3 == 0 else "open"


def as_issue(record: Record, origin: str, repo_path: str) -> dict[str, Any]:
    """`record` as a GitHub issue (a pull request for every fourth id)."""
    created = record.updated_at - timedelta(days=1)
    issue: dict[str, Any] = {
        "url": f"{origin}{repo_path}/issues/{record.id}",
        "id": 10_000_000 + record.id,
        "node_id": f"I_kwDO{record.id:08d}",
        "number": record.id,
        "title": f"Item {record.id}",
        "user": {"login": "octocat", "id": 1, "type": "User"},
        "labels": [],
        "state": issue_state(record),
        "locked": False,
        "comments": record.id % 5,
        "created_at": format_instant(created),
        "updated_at": format_instant(record.updated_at),
        "closed_at": format_instant(record.updated_at) if issue_state(record) == "closed" else None,
        "author_association": "MEMBER",
        "body": f"Body of item {record.id}",
    }
    if record.id % 4 == 0:
        issue["pull_request"] = {"url": f"{origin}{repo_path}/pulls/{record.id}", "merged_at": None}
    return issue


def _choice(request: Request, name: str) -> str:
    value = request.param(name) or _DEFAULTS[name]
    if value not in _CHOICES[name]:
        raise BadRequest(name, f"must be one of {', '.join(_CHOICES[name])}, got {value!r}")
    return value


def _sort_key(sort: str):
    if sort == "updated":
        return lambda record: (record.updated_at, record.id)
    if sort == "comments":
        return lambda record: (record.id % 5, record.id)
    return lambda record: (record.updated_at - timedelta(days=1), record.id)


def issues(dataset: Dataset, faults: Faults, request: Request, repo_path: str, repo_id: int) -> Reply:
    """One page of a repository's issues, with GitHub's `Link` and rate-limit headers."""
    state, sort, direction = (_choice(request, name) for name in ("state", "sort", "direction"))
    per_page = faults.page_size(size_param(request, "per_page", _GITHUB_DEFAULT_PER_PAGE, maximum=GITHUB_MAX_PER_PAGE))
    page = size_param(request, "page", 1, maximum=10**9)
    found = [r for r in dataset.window(instant_param(request, "since")) if state in ("all", issue_state(r))]
    found.sort(key=_sort_key(sort), reverse=direction == "desc")
    last_page = max(1, -(-len(found) // per_page))
    served = found[(page - 1) * per_page : page * per_page]
    link_path = f"/repositories/{repo_id}/issues"
    origin = faults.next_url_host or request.origin
    params = {name: request.param(name) for name in ("state", "sort", "direction", "since")}

    def link(number: int, rel: str) -> str:
        return f'<{link_to(origin, link_path, {**params, "per_page": per_page, "page": number})}>; rel="{rel}"'

    links = []
    if page < last_page:
        next_page = 2 if faults.loop_from_page > 1 and page >= faults.loop_from_page else page + 1
        links += [link(next_page, "next"), link(last_page, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-GitHub-Media-Type": "github.v3; format=json",
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "4999",
        "X-RateLimit-Reset": "1893456000",
        "X-RateLimit-Resource": "core",
    }
    if links:
        headers["Link"] = ", ".join(links)
    return Reply(200, [as_issue(record, request.origin, repo_path) for record in served], headers)


def comment_ids(number: int) -> list[int]:
    """The ids of issue `number`'s comments: as many as the issue's `comments` field says (`number % 5`)."""
    return [50_000_000 + number * 10 + k for k in range(number % 5)]


def as_comment(comment_id: int, issue: Record, origin: str, repo_path: str) -> dict[str, Any]:
    """A comment of `issue`, as GitHub's issue comments endpoint answers it."""
    order = comment_id % 10
    at = format_instant(issue.updated_at - timedelta(minutes=10 * (issue.id % 5 - order)))
    return {
        "url": f"{origin}{repo_path}/issues/comments/{comment_id}",
        "html_url": f"https://github.com{repo_path.removeprefix('/repos')}/issues/{issue.id}#issuecomment-{comment_id}",
        "issue_url": f"{origin}{repo_path}/issues/{issue.id}",
        "id": comment_id,
        "node_id": f"IC_kwDO{comment_id:08d}",
        "user": {"login": "hubot", "id": 2, "type": "User"},
        "created_at": at,
        "updated_at": at,
        "author_association": "CONTRIBUTOR",
        "body": f"Comment {order + 1} on item {issue.id}",
    }


def comments(dataset: Dataset, request: Request, repo_path: str, number: int) -> Reply:
    """One page of an issue's comments (oldest first), with GitHub's `Link` header; 404 for an unknown issue."""
    issue = dataset.record(number)
    if issue is None:
        return Reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
    per_page = size_param(request, "per_page", _GITHUB_DEFAULT_PER_PAGE, maximum=GITHUB_MAX_PER_PAGE)
    page = size_param(request, "page", 1, maximum=10**9)
    ids = comment_ids(number)
    last_page = max(1, -(-len(ids) // per_page))
    served = ids[(page - 1) * per_page : page * per_page]
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if page < last_page:
        path = f"{repo_path}/issues/{number}/comments"
        headers["Link"] = f'<{link_to(request.origin, path, {"per_page": per_page, "page": page + 1})}>; rel="next"'
    return Reply(200, [as_comment(comment_id, issue, request.origin, repo_path) for comment_id in served], headers)


def rate_limited(retry_after: str) -> Reply:
    """GitHub's primary rate-limit answer: 403, `X-RateLimit-Remaining: 0`, the reset in epoch seconds."""
    reset = int(time.time()) + int(retry_after) if retry_after.isdigit() else int(time.time())
    headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    body = {
        "message": "API rate limit exceeded for user ID 1.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
    }
    return Reply(403, body, headers)
