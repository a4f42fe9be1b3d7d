"""The all-unit gradients' finiteness check: one sum per point, exact in every case."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from plnet.backends.torch.gradients import finite_points  # noqa: E402


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("where", ["z", "grad"])
def test_a_non_finite_entry_flags_only_its_point(bad, where):
    z, grad = torch.zeros(3, 4), torch.ones(3, 4, 5)
    (z if where == "z" else grad)[1, 2, ...] = bad
    assert finite_points(z, grad).tolist() == [True, False, True]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_huge_finite_entries_whose_sum_overflows_stay_finite(dtype):
    big = torch.finfo(dtype).max
    z, grad = torch.zeros(2, 3, dtype=dtype), torch.zeros(2, 3, 4, dtype=dtype)
    grad[0] = big  # the sum overflows to inf: the elementwise check decides
    grad[1, 0, 0], grad[1, 0, 1] = big, -big
    grad[1, 2, 3] = float("nan")
    assert finite_points(z, grad).tolist() == [True, False]


def test_opposite_infinities_are_caught():
    z, grad = torch.zeros(1, 2), torch.zeros(1, 2, 2)
    grad[0, 0, 0], grad[0, 1, 1] = float("inf"), -float("inf")
    assert finite_points(z, grad).tolist() == [False]



def test_rows_written_from_patches_are_judged_by_their_sums():
    # rows 0-1 came from patches (their entries' sums are given), rows 2-3 are read
    z, grad = torch.zeros((3, 4)), torch.zeros((3, 4, 2))
    grad[1, 0, 1] = float("nan")
    sums = grad[:, :2].flatten(1).sum(dim=1)
    grad[2, 3, 1] = float("inf")
    assert finite_points(z, grad, [(slice(0, 2), sums)]).tolist() == [True, False, False]
    # the patch rows are not read again: finite sums vouch for them
    grad[2, 3, 1], grad[0, 1, 0] = 0.0, float("nan")
    assert finite_points(z, grad, [(slice(0, 2), torch.zeros(3))]).tolist() == [True] * 3
