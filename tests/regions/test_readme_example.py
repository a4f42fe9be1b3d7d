"""The README's regions examples run and print what the README says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_regions_example_runs_and_prints_what_it_says():
    pytest.importorskip("cvxpy")  # explore needs the exact extra
    section = README.read_text().split("### Regions around a point", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert lines[0].startswith("8 rows, 5 facets:")
    assert lines[-1] == "16 regions, 24 shared facets, complete: True"
    assert "16 regions, 24 shared" in section


def test_the_readme_slices_example_runs_and_prints_what_it_says(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    section = README.read_text().split("### Exact slices and pictures", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    line = "3897 regions by pattern, 3897 by affine map; total area 4.0"
    assert printed.getvalue().strip() == line and f"`{line}`" in section
    assert (tmp_path / "regions.png").stat().st_size > 1000
    picture = re.search(r"!\[.*?\]\((docs/[^)]+\.png)\)", section).group(1)
    assert (README.parent / picture).stat().st_size < 100_000
