"""SequenceData: seeded, shuffled batches of one length each, every sample once per epoch."""

from __future__ import annotations

import numpy as np
import pytest

from plnet.backends import torch as pt
from plnet.errors import InvalidInputError, ShapeError

torch = pytest.importorskip("torch")


@pytest.fixture
def data(make_sequences):
    xs = make_sequences((5, 2, 7, 2, 5, 3, 7, 5, 5, 5, 2))
    # each sample's label is its index, so batches say which samples they hold
    return pt.SequenceData(xs, np.arange(len(xs))), xs


def test_every_batch_holds_one_length_and_every_sample_comes_once(data):
    dataset, xs = data
    seen = []
    for x, y in dataset.batches(2, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert x.shape[0] == y.shape[0] <= 2
        for row, index in zip(x, y.tolist()):
            np.testing.assert_array_equal(row.numpy(), xs[index])
        seen += y.tolist()
    assert sorted(seen) == list(range(len(xs)))
    assert dataset.num_batches(2) == 2 + 1 + 3 + 1  # lengths 2, 3, 5, 7 hold 3, 1, 5, 2


def order(dataset, seed):
    gen = torch.Generator().manual_seed(seed)
    return [y.tolist() for _, y in dataset.batches(2, shuffle=True, generator=gen)]


def test_the_order_is_shuffled_and_reproducible_from_the_seed(data):
    dataset, _ = data
    assert order(dataset, 0) == order(dataset, 0)
    assert order(dataset, 0) != order(dataset, 1)
    unshuffled = [y.tolist() for _, y in dataset.batches(2, shuffle=False)]
    assert unshuffled[0] == [1, 3]  # shortest length first, in dataset order


def test_collect_points_gives_the_first_sequences_in_dataset_order(data):
    dataset, xs = data
    points = dataset.collect_points(4)
    assert len(points) == 4
    for p, x in zip(points, xs):
        np.testing.assert_array_equal(p, x)


@pytest.mark.parametrize("make, error, match", [
    (lambda xs: pt.SequenceData(xs, np.zeros(3)), ShapeError, "labels"),
    (lambda xs: pt.SequenceData([], []), InvalidInputError, "non-empty"),
    (lambda xs: pt.SequenceData(xs + [np.zeros((2, 4))], np.zeros(len(xs) + 1)), ShapeError,
     r"per-step shape \(4,\)"),
])
def test_malformed_data_is_refused_with_what_was_expected(make_sequences, make, error, match):
    with pytest.raises(error, match=match):
        make(make_sequences((2, 3)))


def test_fit_refuses_sequences_the_model_cannot_take(model, make_sequences):
    xs = make_sequences((2, 3), features=4)
    with pytest.raises(ShapeError, match=r"\(4,\)"):
        pt.fit(model, (xs, np.zeros(2, dtype=int)), epochs=1, progress=False)
    with pytest.raises(InvalidInputError, match="pair"):
        pt.fit(model, make_sequences((2, 3, 4)), epochs=1, progress=False)


def test_epoch_batches_follow_the_seed_and_epoch_and_share_each_batch_among_ranks(data):
    dataset, xs = data
    whole = [(y.tolist(), n) for _, y, n in dataset.epoch_batches(3, seed=5, epoch=2)]
    assert whole == [(y.tolist(), n) for _, y, n in dataset.epoch_batches(3, seed=5, epoch=2)]
    assert whole != [(y.tolist(), n) for _, y, n in dataset.epoch_batches(3, seed=5, epoch=3)]
    assert sorted(i for y, _ in whole for i in y) == list(range(len(xs)))
    ranks = [list(dataset.epoch_batches(3, seed=5, epoch=2, num_replicas=2, rank=r))
             for r in range(2)]
    for (y, n), (x0, y0, n0), (x1, y1, n1) in zip(whole, *ranks):
        assert x0.shape[1] == x1.shape[1] == len(xs[y[0]])  # one length per global batch
        kept = (y0.tolist() if n0 else []) + (y1.tolist() if n1 else [])
        assert kept == y and n0 + n1 == n == len(y)
