"""`ReadFromApi` in a user's own Beam pipeline: the example of docs/extending.md, run as the script it is, reads
exactly the week's records from the sample API, sequentially and with worker threads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import items_config, t, write_yaml

REPOSITORY = Path(__file__).resolve().parents[2]
SECTION = "## ReadFromApi in your own pipeline"


def documented_example() -> str:
    """The Python block of the docs/extending.md section on ReadFromApi."""
    text = (REPOSITORY / "docs" / "extending.md").read_text()
    section = text[text.index(SECTION) :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL)[1]


@pytest.mark.parametrize(
    "beam_args",
    [[], ["--direct_num_workers=4", "--direct_running_mode=multi_threading"]],
    ids=["sequential", "threads"],
)
def test_the_documented_example_reads_exactly_the_week(sample_api, tmp_path, beam_args):
    write_yaml(tmp_path / "items.yaml", items_config(sample_api.url, tmp_path))
    (tmp_path / "item_ids.py").write_text(documented_example())

    done = subprocess.run(
        [sys.executable, "item_ids.py", *beam_args],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPOSITORY)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    written = [line for path in tmp_path.glob("item-ids-*.txt") for line in path.read_text().splitlines()]
    expected = sample_api.dataset.ids_between(t("2024-01-01"), t("2024-01-08"))
    assert len(expected) > 100
    assert sorted(written) == sorted(str(record_id) for record_id in expected)
    assert not (tmp_path / "state").exists()  # no watermark store was opened
