"""Adaptive pooling to sizes that do not divide the input (torch's variable windows), as
modules and functions: converted exactly and compared with torch (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import plnet  # noqa: E402
from plnet.frontends.torch.axis_maps import adaptive_windows  # noqa: E402


@pytest.mark.parametrize("cls,shape,size", [
    (nn.AdaptiveAvgPool1d, (3, 12), 5), (nn.AdaptiveAvgPool1d, (2, 5), 7),
    (nn.AdaptiveAvgPool2d, (2, 5, 5), (7, 7)), (nn.AdaptiveAvgPool2d, (2, 13, 13), (6, 6)),
    (nn.AdaptiveAvgPool2d, (2, 6, 7), (4, None)), (nn.AdaptiveMaxPool1d, (3, 12), 5),
    (nn.AdaptiveMaxPool1d, (2, 3), 7), (nn.AdaptiveMaxPool2d, (2, 5, 5), (7, 7)),
    (nn.AdaptiveMaxPool2d, (2, 13, 10), (6, 4)), (nn.AdaptiveMaxPool2d, (2, 6, 8), (4, 8)),
])
def test_adaptive_pooling_with_unequal_windows_matches_torch(convert_exactly, cls, shape,
                                                             size):
    convert_exactly(nn.Sequential(cls(size), nn.Flatten()), shape)


class Functional(nn.Module):
    def __init__(self, fn, size):
        super().__init__()
        self.fn, self.size = fn, size

    def forward(self, x):
        return self.fn(x, self.size)


@pytest.mark.parametrize("fn", [F.adaptive_avg_pool2d, F.adaptive_max_pool2d])
def test_functional_adaptive_pooling_matches_torch(convert_exactly, fn):
    convert_exactly(Functional(fn, (3, 4)), (2, 7, 9))


@pytest.mark.parametrize("fn", [F.adaptive_avg_pool1d, F.adaptive_max_pool1d])
def test_functional_adaptive_pooling_1d_matches_torch(convert_exactly, fn):
    convert_exactly(Functional(fn, 4), (2, 7))


def test_adaptive_windows_follow_torchs_floor_and_ceil_rule():
    assert adaptive_windows(5, 3) == [(0, 2), (1, 4), (3, 5)]
    assert adaptive_windows(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]


@given(st.data())
def test_random_adaptive_pooling_sizes_match_torch(data):
    """Any input length and output size, 1-d and 2-d, average and max."""
    n = data.draw(st.sampled_from([1, 2]))
    spatial = tuple(data.draw(st.integers(1, 9)) for _ in range(n))
    sizes = tuple(data.draw(st.integers(1, 10)) for _ in range(n))
    kind = data.draw(st.sampled_from(["Avg", "Max"]))
    pool = getattr(nn, f"Adaptive{kind}Pool{n}d")(sizes if n == 2 else sizes[0])
    model = nn.Sequential(pool).double().eval()
    example = torch.randn((2, 2) + spatial, dtype=torch.float64)
    net = plnet.from_torch(model, example, check=False)
    x = np.random.default_rng(0).normal(size=(3, 2) + spatial)
    with torch.no_grad():
        want = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(net(x), want, rtol=1e-12, atol=1e-12)
