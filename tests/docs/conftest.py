"""Examples register things (a margin relaxation, ...); each test gives the registries back."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(autouse=True)
def restored_relaxation_registry():
    """The relaxations registered by a tutorial or docstring example do not outlive it."""
    if importlib.util.find_spec("torch") is None:
        yield
        return
    from plnet.backends.torch import RELAXATIONS

    saved = dict(RELAXATIONS)
    yield
    RELAXATIONS.clear()
    RELAXATIONS.update(saved)
