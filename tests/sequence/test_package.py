"""plnet.sequence: loaded on first use, a documented public API, and no cost to networks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import plnet.sequence as ps

REPO = Path(__file__).resolve().parents[2]


def test_plnet_sequence_loads_on_attribute_access_and_not_before():
    code = ("import sys, plnet\n"
            "assert 'plnet.sequence' not in sys.modules\n"
            "print(plnet.sequence.SequenceModel.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == "SequenceModel", out.stderr


def test_every_public_name_is_documented():
    for name in ps.__all__:
        obj = getattr(ps, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"plnet.sequence.{name}"
