"""docs/sequences-frontends.md: its torch example runs and gives what it says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

DOC = Path(__file__).resolve().parents[3] / "docs" / "sequences-frontends.md"


def test_the_from_torch_example_gives_an_elman_model_and_margins():
    section = DOC.read_text().split("## From torch", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)
    assert scope["model"].recipe["kind"] == "elman"
    assert scope["eps"].shape == (3,) and np.all(scope["eps"] >= 0)
