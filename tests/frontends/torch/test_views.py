"""Linear views (flatten, view/reshape, permute/transpose, squeeze/unsqueeze, indexing, cat)
are lowered to IR views and agree with torch; the batch axis must stay first."""

from __future__ import annotations

import pytest

import plnet
from plnet.errors import UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


VIEWS = {
    "flatten_module": (nn.Flatten(), (2, 3, 4)),
    "flatten_partial": (nn.Flatten(2, 3), (2, 3, 4)),
    "torch_flatten": (lambda x: torch.flatten(x, 1), (2, 3, 4)),
    "flatten_method": (lambda x: x.flatten(1, 2), (2, 3, 4)),
    "view_size": (lambda x: x.view(x.size(0), -1), (2, 3, 4)),
    "view_shape": (lambda x: x.view(x.shape[0], 4, 6), (2, 3, 4)),
    "view_minus_one_first": (lambda x: x.view(-1, 6, 4), (2, 3, 4)),
    "reshape": (lambda x: torch.reshape(x, (x.shape[0], 3, 8)), (2, 3, 4)),
    "reshape_method": (lambda x: x.reshape(x.size(0), 2, -1), (2, 3, 4)),
    "unflatten_module": (nn.Unflatten(1, (2, 12)), (24,)),
    "permute": (lambda x: x.permute(0, 3, 1, 2), (2, 3, 4)),
    "permute_list": (lambda x: torch.permute(x, [0, 2, 3, 1]), (2, 3, 4)),
    "transpose": (lambda x: x.transpose(1, 3), (2, 3, 4)),
    "torch_transpose": (lambda x: torch.transpose(x, -1, -2), (2, 3, 4)),
    "squeeze_all": (lambda x: x.squeeze(), (1, 3, 1)),
    "squeeze_dim": (lambda x: torch.squeeze(x, 3), (1, 3, 1)),
    "squeeze_noop": (lambda x: x.squeeze(2), (1, 3, 1)),
    "unsqueeze": (lambda x: x.unsqueeze(1), (3, 4)),
    "unsqueeze_end": (lambda x: torch.unsqueeze(x, -1), (3, 4)),
    "index_last": (lambda x: x[:, -1], (3, 4)),
    "index_slices": (lambda x: x[:, 1:, ::2], (3, 4)),
    "index_ellipsis": (lambda x: x[..., 0:3:2], (2, 3, 4)),
    "index_none": (lambda x: x[:, None, 1], (3, 4)),
    "index_mixed": (lambda x: x[:, 1, None, 1:3], (2, 3, 4)),
    "cat": (lambda x: torch.cat([x, F.relu(x)], dim=1), (3, 4)),
    "cat_last": (lambda x: torch.cat((x, -x, x * 2), -1), (3, 4)),
    "pad": (lambda x: F.pad(x, (1, 2, 0, 3)), (2, 3, 4)),
    "contiguous": (lambda x: x.transpose(1, 2).contiguous().view(x.size(0), -1), (3, 4)),
    "size_arith": (lambda x: x.view(x.size(0), x.size(1) * x.size(2)), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_matches_torch(convert_and_compare, name):
    fn, shape = VIEWS[name]
    module = fn if isinstance(fn, nn.Module) else Lambda(fn)
    net = convert_and_compare(module, shape)
    assert net.num_units == 0 or name == "cat"


def test_view_ops_become_views_not_dense_layers(convert_and_compare):
    net = convert_and_compare(Lambda(lambda x: x.permute(0, 2, 1).reshape(x.size(0), -1)),
                              (3, 4))
    assert [net.op(n).type_name for n in net.order] == ["input", "transpose", "reshape"]


@pytest.mark.parametrize("fn,match", [
    (lambda x: x.view(-1), "batch"),
    (lambda x: x.view(2, -1), "batch"),
    (lambda x: torch.flatten(x), "start_dim"),
    (lambda x: x[0], "batch axis"),
    (lambda x: x[:, [0, 2]], "advanced"),
    (lambda x: x.squeeze(0), "batch axis"),
    (lambda x: x.unsqueeze(0), "batch axis"),
    (lambda x: torch.cat([x, x], 0), "batch axis"),
    (lambda x: x.transpose(0, 1).relu(), "batch axis first"),
    (lambda x: x.transpose(0, 1), "batch axis first"),
    (lambda x: x.view(x.size(0) * 2, -1), "batch size"),
])
def test_views_that_move_or_mix_the_batch_are_refused(fn, match):
    with pytest.raises(UnsupportedOpError, match=match):
        plnet.from_torch(Lambda(fn), torch.randn(2, 3, 4))


def test_batch_size_one_example_still_keeps_the_batch(convert_and_compare):
    net = plnet.from_torch(Lambda(lambda x: x.squeeze().relu()), torch.randn(1, 1, 5))
    assert net.input_shape == (1, 5) and net.output_shape == (5,)
