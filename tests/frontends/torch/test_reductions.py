"""Reductions (mean, sum, amax, amin, max/min along a dim) and elementwise maximum/minimum:
converted exactly and compared with torch (float64)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import plnet  # noqa: E402
from plnet.errors import UnsupportedOpError  # noqa: E402


@pytest.mark.parametrize("fn", [
    lambda x: x.mean((2, 3)),
    lambda x: torch.mean(x, dim=-1),
    lambda x: x.mean(dim=(1, 3), keepdim=True),
    lambda x: x.mean(-2, True),
    lambda x: x.sum((2, 3)),
    lambda x: torch.sum(x, dim=(-1, 1), keepdim=True),
    lambda x: x.sum(1),
], ids=["mean_hw", "mean_last", "mean_keepdim", "mean_neg_keepdim", "sum_hw",
        "sum_keepdim", "sum_channels"])
def test_mean_and_sum_over_dims_match_torch(convert_exactly, as_module, fn):
    convert_exactly(as_module(fn), (3, 4, 5))


@pytest.mark.parametrize("fn", [
    lambda x: torch.amax(x, dim=(2, 3)),
    lambda x: x.amax(1, keepdim=True),
    lambda x: torch.amin(x, dim=-1),
    lambda x: x.amin((1, 2), keepdim=True),
], ids=["amax_hw", "amax_keepdim", "amin_last", "amin_keepdim"])
def test_amax_and_amin_match_torch(convert_exactly, as_module, fn):
    convert_exactly(as_module(fn), (3, 4, 5))


@pytest.mark.parametrize("fn", [
    lambda x: torch.max(x, 1)[0],
    lambda x: x.max(dim=-1, keepdim=True).values,
    lambda x: torch.min(x, 2)[0],
    lambda x: x.min(-1).values,
], ids=["max_getitem", "max_values", "min_getitem", "min_values"])
def test_max_and_min_along_a_dim_match_torch(convert_exactly, as_module, fn):
    convert_exactly(as_module(fn), (3, 4, 5))


def test_max_along_a_dim_with_used_indices_is_refused(as_module):
    model = as_module(lambda x: x + torch.max(x, 1, keepdim=True)[1])
    with pytest.raises(UnsupportedOpError, match="indices"):
        plnet.from_torch(model, torch.randn(2, 3, 4))


def test_mean_over_the_batch_axis_is_refused(as_module):
    with pytest.raises(UnsupportedOpError, match="batch axis"):
        plnet.from_torch(as_module(lambda x: x.mean(0)), torch.randn(2, 3, 4))


class TwoBranch(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.a, self.b = nn.Linear(4, 5), nn.Linear(4, 5)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.a(x), self.b(x))


@pytest.mark.parametrize("fn", [
    torch.maximum, torch.minimum, lambda a, b: torch.max(a, b), lambda a, b: a.minimum(b),
    lambda a, b: torch.maximum(a, torch.tensor(0.3, dtype=a.dtype)),
    lambda a, b: torch.minimum(a, torch.linspace(-1, 1, 5, dtype=a.dtype)),
    lambda a, b: torch.maximum(a, torch.linspace(-1, 1, 5, dtype=a.dtype)),
], ids=["maximum", "minimum", "max_two", "minimum_method", "maximum_scalar",
        "minimum_vector", "maximum_vector"])
def test_elementwise_maximum_and_minimum_match_torch(convert_exactly, fn):
    convert_exactly(TwoBranch(fn), (4,))
