"""Python spellings in plnet's messages, respelled as the command line's flags.

The library's errors advise ``output=<name>`` or ``drop_trailing=True``, which is right for a
caller of :func:`plnet.from_onnx`; on the command line the same advice is a flag. Every
message that reaches the user through the CLI passes through :func:`as_cli_hint`.
"""

from __future__ import annotations

import re

#: (pattern of the Python spelling, the flag that does the same)
PYTHON_TO_FLAGS = (
    (re.compile(r"\boutput=<name>"), "--output NAME"),
    (re.compile(r"\boutput=(['\"])([^'\"]*)\1"), r"--output \2"),
    (re.compile(r"\bdrop_trailing=True\b"), "--drop-trailing"),
    (re.compile(r"\bbatch_dim=None\b"), "--batch-dim none"),
    (re.compile(r"\bbatch_dim=<axis>"), "--batch-dim AXIS"),
    (re.compile(r"\bbatch_dim=(-?\d+)\b"), r"--batch-dim \1"),
    (re.compile(r"\bcheck=False\b"), "--no-check"),
    (re.compile(r"\bPLNET_MEMORY_BUDGET=<bytes>"), "--memory-budget SIZE"),
)


def as_cli_hint(message: str) -> str:
    """``message`` with every Python argument spelling replaced by its CLI flag."""
    for pattern, flag in PYTHON_TO_FLAGS:
        message = pattern.sub(flag, message)
    return message
