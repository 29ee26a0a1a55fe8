"""`init --openapi` through the command line: the listing, the file written (guesses as comments, TODO_ keys
that `validate` refuses), a YAML document with `$ref`s read from a URL on 127.0.0.1, and the refusals."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openapi_specs import spec_path

from beam_api_pipeline.cli import main
from beam_api_pipeline.openapi.command import init_openapi

#: An OpenAPI 3.1 document in YAML, its parts behind $refs: offset paging with a stated maximum, an API key in
#: a header, updated_since/updated_before, records under `items` beside a `total`, and a child endpoint.
SHOP = """\
openapi: 3.1.0
info: {title: Shop, version: "2"}
servers: [{url: "https://api.shop.example/v2"}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Shop-Key}
  parameters:
    limit: {name: limit, in: query, schema: {type: integer, maximum: 500, default: 50}}
  schemas:
    Order:
      type: object
      properties:
        id: {type: integer}
        updated_at: {type: string, format: date-time}
        lines: {type: array, items: {$ref: "#/components/schemas/Line"}}
    Line:
      type: object
      properties: {sku: {type: string}, quantity: {type: integer}}
security: [{key: []}]
paths:
  /orders:
    get:
      operationId: listOrders
      parameters:
        - $ref: "#/components/parameters/limit"
        - {name: offset, in: query, schema: {type: integer}}
        - {name: updated_since, in: query, schema: {type: string, format: date-time}}
        - {name: updated_before, in: query, schema: {type: string, format: date-time}}
      responses:
        "200":
          description: orders
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: "#/components/schemas/Order"}}
                  total: {type: integer}
  /orders/{order_id}/refunds:
    get:
      parameters:
        - {name: order_id, in: path, required: true, schema: {type: integer}}
        - {name: cursor, in: query, schema: {type: string}}
      responses:
        "200":
          description: refunds
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: {type: array, items: {type: object, properties: {id: {type: string}, amount: {type: number}}}}
                  meta: {type: object, properties: {next_cursor: {type: string}}}
"""

SHOP_YAML = """\
# Written by `init --openapi {url}` from Shop 2
# Comments say what was guessed and why; a TODO_ key is what was not found: `validate` fails until
# it is replaced by the setting it names.
pipeline_id: shop
description: "Shop: orders, refunds"
extractor_class: rest
api_config:
  base_url: "https://api.shop.example/v2"
  headers: {{Accept: application/json}}
  endpoints:
    orders:   # GET /orders (listOrders)
      path: /orders
      records_path: items
      primary_key: id
      pagination:
        strategy: offset
        offset_param: offset
        limit_param: limit
        page_size: 500
        total_path: total
    refunds:   # GET /orders/{{order_id}}/refunds
      parent: orders   # `order_id` in the path is the `id` of its records
      path: "/orders/{{parent.id}}/refunds"
      include_from_parent: [id]
      records_path: data
      primary_key: id
      pagination:
        strategy: cursor
        cursor_param: cursor
        cursor_path: meta.next_cursor
  auth_config:   # securitySchemes.key
    auth_type: api_key
    auth_credentials:
      key: "${{env:SHOP_API_KEY}}"
      name: X-Shop-Key
      location: header
  watermark:
    enabled: true
    timestamp_field: updated_at
    watermark_field: updated_since
    window_end_field: updated_before
    time_format: iso8601
    initial_watermark: "2024-05-02T00:00:00Z"   # where the first run starts: 30 days back, change it
    lookback_window: "1h"   # late updates: each run reads again this much before the watermark
    window: {{window_size: "24h"}}
output:
  - type: local
    config: {{path: "./output/shop"}}
  - type: bigquery   # enable it with your dataset (and project) to load BigQuery
    enabled: false
    config:
      dataset_id: shop
      table_id: "{{endpoint}}"
      schema: auto   # several endpoints share this output: each table gets its rows' schema
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        """No access log on stderr."""


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("shop")
    (folder / "shop.yaml").write_text(SHOP)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/shop.yaml"
    server.shutdown()
    server.server_close()


def test_a_yaml_document_from_a_url_gives_the_pipeline_with_refs_resolved_and_parents_linked(shop_url):
    text = init_openapi(shop_url, ["refunds"], None, None, today=datetime(2024, 6, 1, 12, tzinfo=UTC))
    assert text == SHOP_YAML.format(url=shop_url)


def test_without_endpoints_each_list_endpoint_is_one_line_and_nothing_is_written(
    shop_url, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--openapi", shop_url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "orders  GET /orders  records=items  pagination=offset  page_size=500"
        "  time_filter=updated_since..updated_before (iso8601)  timestamp=updated_at  primary_key=id",
        "refunds  GET /orders/{order_id}/refunds  records=data  pagination=cursor  page_size=-  time_filter=none (a"
        " child)  timestamp=TODO  primary_key=id  parent=/orders (order_id = id)",
    ]
    assert list(tmp_path.iterdir()) == []


def test_the_github_listing_has_a_line_per_list_endpoint(capsys):
    assert main(["init", "--openapi", str(spec_path("github"))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 348
    assert (
        "repos_owner_repo_issues_issue_number_comments  GET /repos/{owner}/{repo}/issues/{issue_number}/comments"
        "  records=(root)  pagination=link_header?"
        "  page_size=100  time_filter=none (a child)  timestamp=updated_at  primary_key=id"
        "  parent=/repos/{owner}/{repo}/issues (issue_number = number)"
    ) in lines


def test_the_github_issues_and_comments_file_validates_unchanged(tmp_path, capsys):
    out = tmp_path / "pipeline.yaml"
    wanted = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
    assert main(["init", "--openapi", str(spec_path("github")), "--endpoints", wanted, "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert main(["validate", "--config", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: valid (pipeline github, endpoints: issues, comments)\n"


def test_what_was_not_found_is_a_todo_that_validate_refuses(tmp_path, capsys):
    out = tmp_path / "asana.yaml"
    assert main(["init", "--openapi", str(spec_path("asana")), "--endpoints", "/tasks", "--out", str(out)]) == 0
    text = out.read_text()
    assert '      TODO_pagination: "where the next `offset` is in the answer: set pagination.cursor_path"\n' in text
    capsys.readouterr()
    assert main(["validate", "--config", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{out}: api_config.endpoints.tasks.pagination.cursor_path: required when strategy is cursor",
        f"{out}: api_config.endpoints.tasks.TODO_pagination: unknown key",
    ]
    # the TODO replaced by the setting it names, the file is valid (`opt_fields` asks for `modified_at`)
    filled = text.replace(
        '      TODO_pagination: "where the next `offset` is in the answer: set pagination.cursor_path"\n',
        "        cursor_path: next_page.offset\n",
    )
    assert '      params: {opt_fields: "gid,resource_type,name,resource_subtype,modified_at"}' in filled
    out.write_text(filled)
    assert main(["validate", "--config", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: valid (pipeline asana, endpoints: tasks)\n"


def test_a_swagger_2_document_is_refused_with_what_to_do(tmp_path, capsys):
    spec = tmp_path / "old.json"
    spec.write_text('{"swagger": "2.0", "info": {"title": "old", "version": "1"}, "paths": {}}')
    assert main(["init", "--openapi", str(spec)]) == 2
    assert capsys.readouterr().err == (
        f"{spec}: Swagger 2.0 is not read: convert it to OpenAPI 3 first (for example `npx swagger2openapi SPEC -o "
        "openapi.json`)\n"
    )


def test_an_endpoint_that_is_not_a_list_endpoint_is_refused(shop_url, capsys):
    assert main(["init", "--openapi", shop_url, "--endpoints", "orders", "/orders/{order_id}"]) == 2
    assert capsys.readouterr().err == "--endpoints: not a list endpoint of the document: /orders/{order_id}\n"


def test_an_unreadable_document_names_itself(tmp_path, capsys):
    missing = tmp_path / "none.json"
    assert main(["init", "--openapi", str(missing)]) == 2
    assert capsys.readouterr().err == f"{missing}: cannot read the OpenAPI document: No such file or directory\n"
    assert not Path(missing).exists()


def test_an_endpoint_with_only_a_sort_beside_server_filtered_ones_gets_a_todo(tmp_path, capsys):
    out = tmp_path / "github.yaml"
    wanted = ["/repos/{owner}/{repo}/issues", "/repos/{owner}/{repo}/pulls"]
    assert main(["init", "--openapi", str(spec_path("github")), "--endpoints", *wanted, "--out", str(out)]) == 0
    assert (
        "      params: {sort: updated, direction: desc}   # newest first by update time, for watermark.filter: client\n"
        in (out.read_text())
    )
    capsys.readouterr()
    assert main(["validate", "--config", str(out)]) == 2
    assert capsys.readouterr().err == f"{out}: api_config.endpoints.pulls.TODO_time_filter: unknown key\n"
