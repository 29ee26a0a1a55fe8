"""The one parser of BigQuery table names: every form it reads, with its parts, and every form it refuses."""

from __future__ import annotations

import pytest

from beam_api_pipeline.core.bigquery_names import TableParts, parse_table_name

FULL = "expected project.dataset.table or project:dataset.table"
ALL = "expected project.dataset.table, project:dataset.table or dataset.table"
PROJECT_30 = "a" + "b" * 28 + "c"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("my-project.raw.issues", TableParts("my-project", "raw", "issues")),
        ("my-project:raw.issues", TableParts("my-project", "raw", "issues")),
        ("example.com:my-project.raw.issues", TableParts("example.com:my-project", "raw", "issues")),
        ("example.com:my-project:raw.issues", TableParts("example.com:my-project", "raw", "issues")),
        ("proj01.Raw_2.acme-issues_2", TableParts("proj01", "Raw_2", "acme-issues_2")),
        (f"{PROJECT_30}.d.t", TableParts(PROJECT_30, "d", "t")),
    ],
)
def test_a_full_name_is_read_into_its_parts(name, expected):
    assert parse_table_name(name) == expected
    assert parse_table_name(name, project_optional=True) == expected


@pytest.mark.parametrize(
    "name",
    [
        "raw.issues",  # no project
        "my-project.raw",  # no table
        "my-project.raw.issues.extra",
        "p.raw.issues",  # a project ID has 6 to 30 characters
        "abcde.raw.issues",
        f"{PROJECT_30}x.raw.issues",
        "My-Project.raw.issues",  # lowercase only
        "1project.raw.issues",  # starts with a letter
        "my-project-.raw.issues",  # does not end with a hyphen
        "my_project.raw.issues",
        "my-project.raw-data.issues",  # no hyphen in a dataset
        "my-project.raw.issues$20240101",  # no partition decorator
        "my-project.raw.acme_{endpoint}",  # `{endpoint}` only where asked for
        " my-project.raw.issues",
        "my-project..issues",
        "my-project::raw.issues",
        "",
    ],
)
def test_anything_else_is_refused_where_a_project_is_required(name):
    with pytest.raises(ValueError) as caught:
        parse_table_name(name)
    assert str(caught.value) == FULL


def test_dataset_table_is_read_where_a_default_project_applies():
    assert parse_table_name("raw.issues", project_optional=True) == TableParts(None, "raw", "issues")
    assert parse_table_name("rawdata.issues", project_optional=True) == TableParts(None, "rawdata", "issues")


@pytest.mark.parametrize("name", ["issues", "raw.", ".issues", "my-project:issues", "raw.acme_{endpoint}"])
def test_names_refused_where_a_default_project_applies(name):
    with pytest.raises(ValueError) as caught:
        parse_table_name(name, project_optional=True)
    assert str(caught.value) == ALL


def test_endpoint_stands_in_the_table_only_when_asked_for():
    options = {"project_optional": True, "endpoint_template": True}
    assert parse_table_name("raw.acme_{endpoint}", **options) == TableParts(None, "raw", "acme_{endpoint}")
    assert parse_table_name("my-project:raw.{endpoint}", **options) == TableParts("my-project", "raw", "{endpoint}")
    with pytest.raises(ValueError, match=f"^{ALL}$"):
        parse_table_name("raw.acme_{other}", **options)
    with pytest.raises(ValueError, match=f"^{ALL}$"):
        parse_table_name("raw_{endpoint}.issues", **options)
