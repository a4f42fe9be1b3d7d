"""The 2-d toy data: binary labels, seeded, separate training and testing points."""

import numpy as np

from plnet.datasets import load_toy


def test_toy_data_is_seeded_binary_and_2d():
    a, b = load_toy(50, seed=1), load_toy(50, seed=1)
    np.testing.assert_array_equal(a.train[0], b.train[0])
    assert a.train[0].shape == (50, 2) and set(a.train[1]) == {0, 1}
    assert a.sizes() == {"train": 50, "val": 0, "test": 50}
    assert not np.array_equal(a.train[0], a.test[0])
