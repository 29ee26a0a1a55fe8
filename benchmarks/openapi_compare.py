"""`init --openapi` side by side with dlt-init-openapi on the same real OpenAPI documents and list endpoints
(the hand-checked table of tests/openapi/test_openapi_real_specs.py): for each endpoint, whether each tool found
the right pagination, records path, auth and incremental filter. Prints the markdown table of RESULTS.md.

    make openapi-tools                     # the documents, into .tools/
    python -m benchmarks.openapi_compare   # installs dlt-init-openapi into benchmarks/dlt_openapi/.venv once

dlt-init-openapi 0.1.0 (with dlt 0.4.12) runs in a virtualenv of its own, from PyPI; it copies dlt's `rest_api`
source into what it generates and downloads it from GitHub when its cache folder is missing: the folder is
created empty, since only the generated `source_config` is compared and this machine reaches no GitHub. Its
output is read with `ast` (the `source_config` dict of the generated source, names kept as names). Each tool's
pagination is right when its style and the parameters that carry the position (page, offset, cursor parameter
and cursor path, next-URL path) are the hand-written ones; auth when its kind is one the API accepts; the
incremental filter when the start parameter (and end parameter, and format for this project) are the
hand-written ones, a child endpoint needing none and an endpoint with no filter in its document needing none.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "openapi"))

from openapi_specs import SPECS, cells, generated, spec_and_endpoints  # noqa: E402
from test_openapi_real_specs import EXPECTED  # noqa: E402

VENV = ROOT / "benchmarks" / "dlt_openapi" / ".venv"
OUTPUT = ROOT / "benchmarks" / "dlt_openapi" / "output"
DLT_PINS = ["dlt-init-openapi==0.1.0", "setuptools==75.8.0", "click==8.1.8"]  # pkg_resources; typer 0.12's click
#: Auth kinds each API accepts (Stripe: its key as a bearer token or as the basic user name).
ACCEPTED_AUTH = {"github": {"bearer"}, "stripe": {"bearer", "basic"}, "asana": {"bearer", "oauth2"}}
_DLT_AUTH = {"bearer": "bearer", "http_basic": "basic", "api_key": "api_key", "oauth2": "oauth2"}
COLUMNS = ("pagination", "records_path", "auth", "incremental", "parent")
#: (document, child path) → (the parent's path, the parent field its path parameter takes); others have none.
PARENTS = {
    ("github", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): ("/repos/{owner}/{repo}/issues", "number"),
    ("asana", "/projects/{project_gid}/tasks"): ("/projects", "gid"),
}


def _install() -> None:
    if not (VENV / "bin" / "dlt-init-openapi").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", *DLT_PINS], check=True)
    site = next((VENV / "lib").glob("python3*/site-packages"))
    (site / "rest_api").mkdir(exist_ok=True)  # dlt-init-openapi's cache of dlt's rest_api source: present, empty


def _dlt_source(document: str) -> Path:
    source = OUTPUT / document / f"{document}_pipeline" / document / "__init__.py"
    if not source.exists():
        _install()
        command = [str(VENV / "bin" / "dlt-init-openapi"), document, "--path", str(SPECS[document])]
        command += ["--no-interactive", "--output-path", str(OUTPUT / document)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return source


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Dict):
        return {_value(key): _value(value) for key, value in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.List | ast.Tuple):
        return [_value(item) for item in node.elts]
    if isinstance(node, ast.Name):
        return f"<{node.id}>"
    if isinstance(node, ast.Attribute):
        return f"<{ast.unparse(node)}>"
    return ast.literal_eval(node)


def dlt_config(document: str) -> dict[str, Any]:
    """The `source_config` dict of the source dlt-init-openapi generates for `document`."""
    tree = ast.parse(_dlt_source(document).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "source_config":
            return _value(node.value)
    raise ValueError(f"no source_config in the source generated for {document}")


def _dlt_cells(config: dict[str, Any], path: str) -> dict[str, Any] | None:
    resource = next((r for r in config["resources"] if r["endpoint"]["path"] == path), None)
    if resource is None:
        return None
    endpoint = resource["endpoint"]
    paginator = endpoint.get("paginator") or config["client"].get("paginator") or {}
    kind = paginator.get("type") if isinstance(paginator, dict) else paginator
    pagination = {
        "header_link": {"strategy": "link_header"},
        "json_response": {"strategy": "next_url", "next_url_path": paginator.get("next_url_path")},
        "json_link": {"strategy": "next_url", "next_url_path": paginator.get("next_url_path")},
        "cursor": {
            "strategy": "cursor",
            "cursor_param": paginator.get("cursor_param"),
            "cursor_path": paginator.get("cursor_path"),
        },
        "offset": {"strategy": "offset", "offset_param": paginator.get("offset_param", "offset")},
        "page_number": {"strategy": "page_number", "page_param": paginator.get("page_param", "page")},
    }.get(kind)
    auth = (config["client"].get("auth") or {}).get("type")
    incremental = endpoint.get("incremental")
    resolved = [
        p for p in (endpoint.get("params") or {}).values() if isinstance(p, dict) and p.get("type") == "resolve"
    ]
    parent = None
    if resolved:
        paths = {r["name"]: r["endpoint"]["path"] for r in config["resources"]}
        parent = (paths.get(resolved[0]["resource"]), resolved[0]["field"])
    return {
        "pagination": pagination,
        "records_path": "" if endpoint.get("data_selector") in (None, "$", "") else endpoint["data_selector"],
        "auth": _DLT_AUTH.get(auth, "none"),
        "incremental": [incremental.get("start_param"), incremental.get("end_param")] if incremental else None,
        "parent": parent,
    }


_POSITION = ("strategy", "page_param", "offset_param", "cursor_param", "cursor_path", "next_url_path")


def _position(pagination: dict[str, Any] | None) -> dict[str, Any] | None:
    return {key: value for key, value in (pagination or {}).items() if key in _POSITION} or None


def _our_parent(document: str, path: str) -> tuple[str, str] | None:
    _, endpoints = spec_and_endpoints(document)
    parent = next(endpoint for endpoint in endpoints if endpoint.path == path).parent
    return (parent[0], parent[2]) if parent else None


def _their_incremental(wanted: list[Any] | None, theirs: list[Any] | None) -> bool:
    if wanted is None:  # a child, or no filter in the document: none is right
        return theirs is None
    if wanted[0] == "client":  # only a newest-first sort: dlt's rest_api has no such stop
        return False
    return theirs == wanted[:2]


def scores(document: str, path: str, dlt: dict[str, Any]) -> dict[str, tuple[bool, bool | None]]:
    """Column → (this project right, dlt-init-openapi right; None when it wrote no resource for the path)."""
    want = EXPECTED[document, path]
    ours = cells(generated(document, path))
    theirs = _dlt_cells(dlt, path)
    wanted_parent = PARENTS.get((document, path))
    mine = {
        "pagination": _position(ours["pagination"]) == _position(want["pagination"]),
        "records_path": ours["records_path"] == want["records_path"],
        "auth": ours["auth"]["auth_type"] in ACCEPTED_AUTH[document],
        "incremental": ours["time_filter"] == want["time_filter"],
        "parent": _our_parent(document, path) == wanted_parent,
    }
    if theirs is None:
        return {column: (right, None) for column, right in mine.items()}
    return {
        "pagination": (mine["pagination"], theirs["pagination"] == _position(want["pagination"])),
        "records_path": (mine["records_path"], theirs["records_path"] == want["records_path"]),
        "auth": (mine["auth"], theirs["auth"] in ACCEPTED_AUTH[document]),
        "incremental": (mine["incremental"], _their_incremental(want["time_filter"], theirs["incremental"])),
        "parent": (mine["parent"], theirs["parent"] == wanted_parent),
    }


def _mark(right: bool | None) -> str:
    return {True: "yes", False: "no", None: "(none)"}[right]


def main() -> None:
    configs = {document: dlt_config(document) for document in SPECS}
    totals = {column: [0, 0] for column in COLUMNS}
    print("| document | endpoint | " + " | ".join(f"{c}: this / dlt" for c in COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for document, path in EXPECTED:
        row = scores(document, path, configs[document])
        for column, (ours, theirs) in row.items():
            totals[column][0] += ours
            totals[column][1] += bool(theirs)
        marks = " | ".join(f"{_mark(ours)} / {_mark(theirs)}" for ours, theirs in row.values())
        print(f"| {document} | `{path}` | {marks} |")
    rows = len(EXPECTED)
    print("| **right** | | " + " | ".join(f"**{o}/{rows} / {t}/{rows}**" for o, t in totals.values()) + " |")
    ours, theirs = (sum(total[i] for total in totals.values()) for i in (0, 1))
    cells_count = rows * len(COLUMNS)
    print(
        f"\nall cells: this project {ours}/{cells_count} ({ours / cells_count:.0%}), "
        f"dlt-init-openapi {theirs}/{cells_count} ({theirs / cells_count:.0%})"
    )


if __name__ == "__main__":
    main()
