"""Residual adds and elementwise maps by constants (input normalization as a layer)."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.errors import UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Block(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.a = nn.Linear(5, 5)
        self.b = nn.Linear(5, 5)

    def forward(self, x):
        h = F.relu(self.a(x))
        if self.kind == "plus":
            return self.b(h) + x
        if self.kind == "torch_add":
            return torch.add(self.b(h), x, alpha=0.5)
        if self.kind == "method_add":
            return x.add(self.b(h)).relu()
        if self.kind == "operator_add":
            import operator

            return operator.add(x, self.b(h))
        if self.kind == "sub":
            return x - self.b(h)
        if self.kind == "three_way":
            return x + h + self.b(h)
        raise AssertionError(self.kind)


@pytest.mark.parametrize("kind", ["plus", "torch_add", "method_add", "operator_add", "sub",
                                  "three_way"])
def test_residual_adds_match_torch(convert_and_compare, kind):
    net = convert_and_compare(Block(kind), (5,))
    assert "add" in {net.op(n).type_name for n in net.order}


def test_stacked_residual_cnn_matches_torch(convert_and_compare, randomize_batch_norm):
    class ResBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + x)

    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), ResBlock(4), ResBlock(4),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    net = convert_and_compare(randomize_batch_norm(model), (2, 6, 6))
    assert not any(net.op(n).type_name == "scale_shift" for n in net.order)  # all folded


class Normalize(nn.Module):
    def __init__(self, style):
        super().__init__()
        self.style = style
        self.register_buffer("mean", torch.tensor([0.4, -0.2, 1.5]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2, 0.5, 2.0]).view(3, 1, 1))

    def forward(self, x):
        if self.style == "sub_div":
            return (x - self.mean) / self.std
        if self.style == "mul_add":
            return x * (1 / self.std) + (-self.mean / self.std)
        if self.style == "torch_ops":
            return torch.div(torch.sub(x, self.mean), self.std)
        if self.style == "scalars":
            return (2.0 - x) * 0.5 + 1
        if self.style == "neg":
            return -(x / 4.0)
        raise AssertionError(self.style)


@pytest.mark.parametrize("style", ["sub_div", "mul_add", "torch_ops", "scalars", "neg"])
def test_input_normalization_becomes_one_scale_shift(convert_and_compare, style):
    model = nn.Sequential(Normalize(style), nn.Conv2d(3, 2, 3), nn.ReLU())
    net = convert_and_compare(model, (3, 5, 5))
    types = [net.op(n).type_name for n in net.order]
    assert types == ["input", "scale_shift", "conv", "relu"]


def test_normalization_used_twice_is_emitted_once(convert_and_compare):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = Normalize("sub_div")
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            z = self.norm(x)
            return F.relu(self.conv(z)) + z

    net = convert_and_compare(Model(), (3, 4, 4))
    assert sum(net.op(n).type_name == "scale_shift" for n in net.order) == 1


def test_normalization_values_are_the_constants():
    net = plnet.from_torch(nn.Sequential(Normalize("sub_div"), nn.ReLU()),
                           torch.randn(2, 3, 2, 2))
    node = next(n for n in net.order if net.op(n).type_name == "scale_shift")
    op = net.op(node)
    scale, shift = net.params[op.scale], net.params[op.shift]
    std = np.array([0.2, 0.5, 2.0]).reshape(3, 1, 1)
    mean = np.array([0.4, -0.2, 1.5]).reshape(3, 1, 1)
    np.testing.assert_allclose(scale.reshape(3, 1, 1), 1 / std, rtol=1e-6)
    np.testing.assert_allclose(shift.reshape(3, 1, 1), -mean / std, rtol=1e-6)


def test_constant_spanning_the_batch_is_refused():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("c", torch.ones(2, 3))

        def forward(self, x):
            return x + self.c

    with pytest.raises(UnsupportedOpError, match="batch"):
        plnet.from_torch(Model(), torch.randn(2, 3))


def test_constant_that_enlarges_the_tensor_is_refused():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("c", torch.ones(1, 4, 3))

        def forward(self, x):
            return x * self.c

    with pytest.raises(UnsupportedOpError, match="broadcast"):
        plnet.from_torch(Model(), torch.randn(2, 1, 3))


def test_adding_tensors_of_different_shapes_is_refused():
    class Model(nn.Module):
        def forward(self, x):
            return x + x[:, :1]

    with pytest.raises(UnsupportedOpError, match="equally shaped"):
        plnet.from_torch(Model(), torch.randn(2, 3))


def test_shared_weights_are_tied(convert_and_compare):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(F.relu(self.lin(x)))

    net = convert_and_compare(Model(), (4,))
    assert sorted(net.params) == ["lin.bias", "lin.weight"]
    assert sum(net.op(n).type_name == "dense" for n in net.order) == 2
