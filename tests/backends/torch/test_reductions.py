"""The norm sinks' reductions over the input axes, block by block (``axis_reductions``),
equal the whole-tensor reductions for every block shape, subset of kinds and edge case."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plnet.backends.torch import reductions  # noqa: E402
from plnet.backends.torch.reductions import KINDS, axis_reductions  # noqa: E402


def expected(t, kind):
    if kind == "sq":
        return (t ** 2).sum(dim=1)
    if kind == "abs":
        return t.abs().sum(dim=1)
    return t.abs().amax(dim=1)


KIND_SETS = [kinds for r in (1, 2, 3) for kinds in itertools.combinations(KINDS, r)]


@pytest.mark.parametrize("shape", [(3, 50, 7), (9, 4, 5), (1, 1, 1), (2, 33, 1)])
@pytest.mark.parametrize("block_bytes", [8, 200, 1000, 1 << 20])
@pytest.mark.parametrize("kinds", KIND_SETS)
def test_blocks_of_every_shape_give_the_whole_reductions(monkeypatch, shape, block_bytes,
                                                         kinds):
    # 8 bytes: one axis of one row per block; 200: rows split along K with a remainder;
    # 1000: several whole rows per block with a remainder; 1 MiB: one block
    monkeypatch.setattr(reductions, "BLOCK_BYTES", block_bytes)
    t = torch.tensor(np.random.default_rng(sum(shape)).normal(size=shape))
    found = axis_reductions(t, kinds)
    assert set(found) == set(kinds)
    for kind in kinds:
        torch.testing.assert_close(found[kind], expected(t, kind), rtol=1e-12, atol=0)


@pytest.mark.parametrize("block_bytes", [8, 1 << 20])
def test_a_non_finite_entry_reaches_every_reduction(monkeypatch, block_bytes):
    monkeypatch.setattr(reductions, "BLOCK_BYTES", block_bytes)
    t = torch.ones((2, 6, 3), dtype=torch.float64)
    t[1, 4, 2] = float("nan")
    t[0, 5, 0] = float("inf")
    found = axis_reductions(t, KINDS)
    for kind in KINDS:
        assert torch.isnan(found[kind][1, 2]) and torch.isinf(found[kind][0, 0])
        assert torch.isfinite(found[kind][0, 1:]).all() and torch.isfinite(found[kind][1, :2]).all()


@pytest.mark.parametrize("shape", [(2, 0, 3), (0, 4, 3), (2, 4, 0)])
def test_empty_axes_reduce_to_zeros(shape):
    found = axis_reductions(torch.ones(shape), KINDS)
    for value in found.values():
        assert value.shape == (shape[0], shape[2]) and not value.any()


def test_values_stay_untouched_and_float32_sums_stay_close():
    t = torch.randn((4, 3072, 64), generator=torch.Generator().manual_seed(0))
    before = t.clone()
    found = axis_reductions(t, KINDS)
    assert torch.equal(t, before)  # the scratch is separate memory
    double = t.double()
    for kind in KINDS:
        torch.testing.assert_close(found[kind].double(), expected(double, kind),
                                   rtol=1e-5, atol=0)
