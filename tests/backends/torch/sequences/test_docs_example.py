"""docs/sequences-training.md: its example trains, certifies and prints the bounds."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

DOC = Path(__file__).resolve().parents[4] / "docs" / "sequences-training.md"


def test_the_training_example_runs_and_prints_accuracy_margin_and_bounds():
    section = DOC.read_text().split("## Example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/sequences-training.md", "exec"), {})
    found = re.fullmatch(r"accuracy (\d\.\d\d), median l2 margin \d+\.\d{4}, channel 0 of "
                         r"step 0 stable on \[-\d+\.\d{4}, \d+\.\d{4}\]\n", printed.getvalue())
    assert found, printed.getvalue()
    assert float(found.group(1)) > 0.75  # it learned (chance is about 0.5)
