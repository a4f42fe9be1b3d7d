"""Fixtures of the command-line tests: a saved demo network, its points, and an in-process
runner returning ``(status, stdout, stderr)``."""

from __future__ import annotations

import numpy as np
import pytest

from plnet.cli import main
from plnet.demo import demo_grid, demo_network


@pytest.fixture
def cli(capsys):
    def run(*argv):
        status = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def saved_net(tmp_path):
    path = tmp_path / "net.npz"
    demo_network().save(path)
    return path


@pytest.fixture
def points(tmp_path):
    """Sixteen 2-d points in a .npy file: ``(path, array)``."""
    path, x = tmp_path / "x.npy", demo_grid(4)
    np.save(path, x)
    return path, x
