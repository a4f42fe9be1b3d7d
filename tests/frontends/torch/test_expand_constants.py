"""expand/repeat, constants shaped like a traced tensor, and x @ W: converted exactly and
compared with torch (float64)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import plnet  # noqa: E402
from plnet.errors import NotPiecewiseLinearError  # noqa: E402


@pytest.mark.parametrize("fn", [
    lambda x: x[:, :1].expand(-1, 4, 3) + x,
    lambda x: x[:, :, 1:2].expand(x.size(0), 4, 5),
    lambda x: x[:, :1].expand_as(x) - x,
    lambda x: x.repeat(1, 2, 3),
    lambda x: x.repeat(1, 1, 2) + x.repeat(1, 1, 2),
], ids=["expand", "expand_batch_size", "expand_as", "repeat", "repeat_last"])
def test_expand_and_repeat_match_torch(convert_exactly, as_module, fn):
    convert_exactly(as_module(fn), (4, 3))


@pytest.mark.parametrize("fn", [
    lambda x: torch.cat([x, x.new_zeros(x.size(0), 2, 3)], 1),
    lambda x: torch.cat([x.new_ones(x.shape[0], 1, 3), x], 1),
    lambda x: x + torch.zeros_like(x),
    lambda x: x - torch.ones_like(x),
    lambda x: torch.cat([x, x.new_full((x.size(0), 4, 2), 2.5)], -1),
    lambda x: x * 2 + torch.full_like(x, -0.5),
], ids=["new_zeros", "new_ones", "zeros_like", "ones_like", "new_full", "full_like"])
def test_constants_made_from_a_traced_tensor_match_torch(convert_exactly, as_module, fn):
    convert_exactly(as_module(fn), (4, 3))


def test_matmul_with_a_constant_matrix_matches_torch(convert_exactly, as_module):
    weight = torch.randn(3, 5, dtype=torch.float64)
    convert_exactly(as_module(lambda x: x @ weight), (4, 3))


def test_matmul_of_two_traced_tensors_is_refused_as_not_piecewise_linear(as_module):
    with pytest.raises(NotPiecewiseLinearError, match="matmul.*not piecewise linear"):
        plnet.from_torch(as_module(lambda x: x @ x.transpose(1, 2)), torch.randn(2, 4, 3))
