"""The check's float64 grouped convolution (tap by tap) equals torch's."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from plnet.frontends.torch.grouped_conv import (fast_grouped_convolutions,  # noqa: E402
                                                grouped_conv2d)


@pytest.mark.parametrize("groups,stride,padding,dilation", [
    (6, 1, 1, 1), (3, 2, 0, 1), (2, (2, 1), (1, 2), (1, 2)), (6, 2, 2, 2)])
def test_grouped_conv2d_equals_torch(groups, stride, padding, dilation):
    x = torch.randn(3, 6, 9, 8, dtype=torch.float64)
    w = torch.randn(12, 6 // groups, 3, 3, dtype=torch.float64)
    b = torch.randn(12, dtype=torch.float64)
    want = F.conv2d(x, w, b, stride, padding, dilation, groups)
    got = grouped_conv2d(x, w, b, stride, padding, dilation, groups)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    with fast_grouped_convolutions():
        assert torch.allclose(F.conv2d(x, w, b, stride, padding, dilation, groups), want,
                              rtol=1e-12, atol=1e-12)


def test_grouped_conv1d_equals_torch():
    x = torch.randn(3, 4, 11, dtype=torch.float64)
    w = torch.randn(8, 2, 3, dtype=torch.float64)
    want = F.conv1d(x, w, None, 2, 1, 1, 2)
    with fast_grouped_convolutions():
        got = torch.conv1d(x, w, None, 2, 1, 1, 2)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
