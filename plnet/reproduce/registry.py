"""The reproductions ``plnet reproduce NAME`` knows: each paper table or figure by name.

A reproduction is a function ``run(*, quick, out, progress, seed) -> dict`` returning the
result object (``{"name", "quick", "rows", "paper", "figures", ...}``, see
``docs/reproduction.md``) and a printable ``"table"``. Entries that need a part of plnet
this build lacks are registered as pending, with what they need, and fail with that message
instead of producing anything.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Callable

from plnet.errors import InvalidInputError, MissingDependencyError


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """A registered reproduction.

    Attributes:
        name: the command's NAME (``table1``...).
        title: what it reproduces, one line.
        runner: the function that runs it, or None while it is pending.
        needs: for a pending entry, what it needs (the error message says it).
    """

    name: str
    title: str
    runner: Callable[..., dict] | None = None
    needs: str | None = None


#: name -> entry; modules of plnet.reproduce fill it when :func:`load_all` imports them.
REPRODUCTIONS: dict[str, Reproduction] = {}
#: the modules that register reproductions (imported on first use: they import torch).
MODULES = ["plnet.reproduce.table1", "plnet.reproduce.table2",
           "plnet.reproduce.table4", "plnet.reproduce.relaxations",
           "plnet.reproduce.figure1", "plnet.reproduce.table3", "plnet.reproduce.figure3"]


def register(name: str, title: str):
    """Decorator registering ``run(*, quick, out, progress, seed)`` under ``name``
    (replacing a pending entry of that name)."""
    def decorator(fn):
        REPRODUCTIONS[name] = Reproduction(name, title, fn)
        return fn
    return decorator


def register_pending(name: str, title: str, needs: str) -> None:
    """Register ``name`` as known but not runnable in this build, saying what it needs."""
    if name not in REPRODUCTIONS or REPRODUCTIONS[name].runner is None:
        REPRODUCTIONS[name] = Reproduction(name, title, None, needs)


#: the names the command line offers (pending ones included, so that they explain themselves)
NAMES = ("figure1", "table1", "table2", "table3", "figure3", "table4", "figure4",
         "relaxations")


def load_all() -> dict[str, Reproduction]:
    """Import every registering module; returns the registry."""
    for module in MODULES:
        importlib.import_module(module)
    return REPRODUCTIONS


def run(name: str, *, quick: bool = False, out: str | Path = "reproduce-results",
        progress: bool = False, seed: int = 0) -> dict:
    """Run the reproduction ``name`` and write its JSON (and PNGs) under ``out``.

    Returns:
        The result object (with ``"table"``, the printable text, and ``"json"``, the path
        written).

    Raises:
        InvalidInputError: an unknown name.
        MissingDependencyError: a pending reproduction (the message says what it needs),
            or a missing extra (torch, data, plot).
    """
    from plnet.errors import require

    require("torch", "torch", f"plnet reproduce {name}")
    entries = load_all()
    if name not in entries:
        raise InvalidInputError(f"unknown reproduction {name!r}: use one of "
                                f"{sorted(entries)}")
    entry = entries[name]
    if entry.runner is None:
        raise MissingDependencyError(
            f"plnet reproduce {name} ({entry.title}) is not available in this build: it needs "
            f"{entry.needs}, which this version of plnet does not have yet. Nothing was run.")
    from plnet.reproduce.common import write_result

    result = entry.runner(quick=quick, out=Path(out), progress=progress, seed=seed)
    table = result.pop("table")
    path = write_result(result, Path(out))
    return {**result, "table": table, "json": str(path)}
