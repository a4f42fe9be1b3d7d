"""Argument types of the command line: each turns a flag's text into a value or explains, as
a usage error (exit 2), what the flag accepts."""

from __future__ import annotations

import argparse
import re

from plnet.errors import InvalidInputError

#: Suffixes of --memory-budget, in bytes (KB/MB/GB are decimal, KiB/MiB/GiB binary).
SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def int_at_least(low: int, description: str):
    """An argument type accepting integers >= ``low``; ``description`` names them."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


positive_int = int_at_least(1, "a positive integer")
grid_points = int_at_least(2, "an integer >= 2")
seed = int_at_least(0, "an integer >= 0")


def batch_size(text: str):
    """``auto`` or an integer >= 1."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'auto', got {text!r}") from None


def batch_dim(text: str) -> int | None:
    """The ONNX input's batch axis: an integer, or ``none`` when the input is one sample."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or 'none', got {text!r}") from None


def norms(text: str) -> tuple[float, ...]:
    """``2`` or a comma-separated list such as ``1,2,inf`` (each 1, 2 or inf; no repeats)."""
    from plnet.analysis.margins import check_p

    parts = [part.strip() for part in text.split(",")]
    try:
        values = [check_p(part) for part in parts if part] if all(parts) else []
    except InvalidInputError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(
            f"p must be 1, 2 or inf, or a comma-separated list of them such as 1,2,inf; got "
            f"{text!r}")
    return tuple(dict.fromkeys(values))


def memory_size(text: str) -> int:
    """A size in bytes: ``2GiB``, ``500MB``, ``1.5 GiB`` or a plain number of bytes."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if unit not in SIZE_UNITS or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive size such as 2GiB, 500MB or 1000000 (bytes), got {text!r}")
    return max(1, int(float(match.group(1)) * SIZE_UNITS[unit]))
