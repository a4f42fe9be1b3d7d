"""docs/sequences.md: its example runs."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "sequences.md"


def test_the_sequences_example_runs_and_prints_the_bounds():
    section = DOC.read_text().split("## Example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/sequences.md", "exec"), {})
    assert re.fullmatch(r"margins \[.*\]; channel 9 of step 0 stays in its region on "
                        r"\[-\d+\.\d{4}, \d+\.\d{4}\]\n", printed.getvalue(), re.S)
