"""Tiny settings for the reproductions, so that their plumbing is tested in seconds."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from plnet.datasets import Splits, load_japanese_vowels, load_mnist
from plnet.reproduce import distortion_runs, figure1, relaxations, table1, table2, vowels_runs
from plnet.reproduce.common import TrainSettings

TINY_MNIST = table1.MnistSetup((8,), 200, TrainSettings(epochs=1), lambdas=(1.0,), Cs=(1.0,))
TINY_DISTORTION = dataclasses.replace(
    distortion_runs.QUICK, width=2, settings=TrainSettings(epochs=1, optimizer="adam",
                                                           lr=1e-3, samples=2),
    lambdas=(0.1,), eval_points=3, samples=4, population=4, epochs=1)
TINY_TOY = figure1.ToySetup(width=6, epochs=2)
TINY_VOWELS = vowels_runs.VowelSetup(4, TrainSettings(epochs=1, optimizer="amsgrad", lr=1e-3,
                                                      batch_size=32),
                                     lambdas=(0.5,), Cs=(1.0,))


@functools.lru_cache(maxsize=None)
def _small_mnist(flatten: bool, seed: int) -> Splits:
    data = load_mnist(flatten=flatten, seed=seed)
    rng = np.random.default_rng(seed)

    def part(xy, n):
        keep = np.sort(rng.permutation(len(xy[1]))[:n])
        return xy[0][keep], xy[1][keep]

    return dataclasses.replace(data, train=part(data.train, 200), val=part(data.val, 60),
                               test=part(data.test, 60))


@functools.lru_cache(maxsize=None)
def _small_vowels() -> Splits:
    data = load_japanese_vowels()

    def part(xy, n):
        keep = np.random.default_rng(0).permutation(len(xy[1]))[:n]
        return [xy[0][i] for i in keep], xy[1][keep]

    test = part(data.test, 30)
    return dataclasses.replace(data, train=part(data.train, 40), val=test, test=test)


@pytest.fixture
def tiny(monkeypatch):
    """Make every --quick run tiny: 200/60/60 MNIST points, one epoch, one grid point; toy
    models of width 6 trained for 2 epochs."""
    small = lambda flatten=False, seed=0: _small_mnist(flatten, seed)  # noqa: E731
    monkeypatch.setattr(table1, "load_mnist", small)
    monkeypatch.setattr(distortion_runs, "load_mnist", small)
    for module in (table1, table2, relaxations):
        monkeypatch.setattr(module, "QUICK", TINY_MNIST)
    monkeypatch.setattr(relaxations, "LAMBDAS", {"quick": (1.0,), "full": (1.0,)})
    monkeypatch.setattr(distortion_runs, "QUICK", TINY_DISTORTION)
    monkeypatch.setattr(figure1, "QUICK", TINY_TOY)
    monkeypatch.setattr(vowels_runs, "QUICK", TINY_VOWELS)
    monkeypatch.setattr(vowels_runs, "load_japanese_vowels", _small_vowels)
