"""Variable-length batches: lists or padded arrays, validated, grouped and scattered back."""

from __future__ import annotations

import numpy as np
import pytest

import plnet.sequence as ps
from plnet.errors import InvalidInputError, ShapeError


def test_group_by_length_keeps_input_order_within_a_length():
    groups = ps.group_by_length([3, 1, 3, 2, 1])
    assert list(groups) == [1, 2, 3]
    assert [g.tolist() for g in groups.values()] == [[1, 4], [3], [0, 2]]


def test_a_padded_array_with_lengths_equals_the_list(sequences):
    xs = sequences([3, 1, 4])
    padded = ps.sequence_batch(xs, (3,)).padded(value=7.0)
    batch = ps.sequence_batch(padded, (3,), lengths=[3, 1, 4])
    for a, b in zip(batch.samples, xs):
        np.testing.assert_array_equal(a, b)
    assert batch.lengths.tolist() == [3, 1, 4]


def test_scatter_puts_results_back_in_input_order(sequences):
    batch = ps.sequence_batch(sequences([2, 1, 2]), (3,))
    per_length = {t: batch.stacked(idx).sum(axis=(1, 2)) for t, idx in batch.groups().items()}
    expected = [s.sum() for s in batch.samples]
    np.testing.assert_allclose(batch.scatter_rows(per_length), expected)
    np.testing.assert_allclose(batch.scatter(per_length), expected)


@pytest.mark.parametrize("x, lengths, error, message", [
    ([], None, InvalidInputError, "empty"),
    (np.zeros((4, 3)), None, ShapeError, r"one sequence.*pass \[x\]"),
    (np.zeros((2, 4, 3)), [1, 5], ShapeError, "sample 1 has length 5"),
    (np.zeros((2, 4, 3)), [1], InvalidInputError, "lengths must be 2 integers"),
    (np.zeros((2, 4, 3)), [1.5, 2], InvalidInputError, "lengths must be 2 integers"),
    ([np.zeros((2, 3))], [2], InvalidInputError, "padded array"),
    ([np.zeros((2, 3)), np.full((2, 3), np.nan)], None, InvalidInputError, "sample 1 holds NaN"),
    ([np.array([["a", "b", "c"]])], None, InvalidInputError, "dtype"),
])
def test_bad_batches_are_refused_with_the_sample_named(x, lengths, error, message):
    with pytest.raises(error, match=message):
        ps.sequence_batch(x, (3,), lengths)
