"""Tiny settings for the reproductions, so that their plumbing is tested in seconds."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from plnet.datasets import Splits, load_mnist
from plnet.reproduce import distortion_runs, relaxations, table1, table2
from plnet.reproduce.common import TrainSettings

TINY_MNIST = table1.MnistSetup((8,), 200, TrainSettings(epochs=1), lambdas=(1.0,), Cs=(1.0,))
TINY_DISTORTION = dataclasses.replace(
    distortion_runs.QUICK, width=2, settings=TrainSettings(epochs=1, optimizer="adam",
                                                           lr=1e-3, samples=2),
    lambdas=(0.1,), eval_points=3, samples=4, population=4, epochs=1)


@functools.lru_cache(maxsize=None)
def _small_mnist(flatten: bool, seed: int) -> Splits:
    data = load_mnist(flatten=flatten, seed=seed)
    rng = np.random.default_rng(seed)

    def part(xy, n):
        keep = np.sort(rng.permutation(len(xy[1]))[:n])
        return xy[0][keep], xy[1][keep]

    return dataclasses.replace(data, train=part(data.train, 200), val=part(data.val, 60),
                               test=part(data.test, 60))


@pytest.fixture
def tiny(monkeypatch):
    """Make every --quick run tiny: 200/60/60 MNIST points, one epoch, one grid point."""
    small = lambda flatten=False, seed=0: _small_mnist(flatten, seed)  # noqa: E731
    monkeypatch.setattr(table1, "load_mnist", small)
    monkeypatch.setattr(distortion_runs, "load_mnist", small)
    for module in (table1, table2, relaxations):
        monkeypatch.setattr(module, "QUICK", TINY_MNIST)
    monkeypatch.setattr(relaxations, "LAMBDAS", {"quick": (1.0,), "full": (1.0,)})
    monkeypatch.setattr(distortion_runs, "QUICK", TINY_DISTORTION)
