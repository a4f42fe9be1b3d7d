"""The functional forms of supported layers (F.linear, F.conv*, F.batch_norm in eval,
pooling functions, activation functions), torch.flatten with start and end dims, and
nn.Identity in containers: converted and compared with torch (float64)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


class Functional(nn.Module):
    """Holds weights as parameters and buffers and applies ``fn(self, x)``."""

    def __init__(self, fn, channels=3):
        super().__init__()
        self.fn = fn
        self.weight = nn.Parameter(torch.randn(4, channels, 3, 3))
        self.weight1d = nn.Parameter(torch.randn(4, channels, 3))
        self.linear = nn.Parameter(torch.randn(5, 6))
        self.bias = nn.Parameter(torch.randn(4))
        self.register_buffer("mean", torch.randn(channels))
        self.register_buffer("var", torch.rand(channels) + 0.5)
        self.gamma = nn.Parameter(torch.randn(channels))
        self.beta = nn.Parameter(torch.randn(channels))

    def forward(self, x):
        return self.fn(self, x)


FORMS_2D = {
    "conv2d": lambda m, x: F.conv2d(x, m.weight, m.bias, stride=2, padding=1),
    "conv2d_groups": lambda m, x: F.conv2d(x[:, :2], m.weight[:, :1], None, 1, 1, 1, 2),
    "batch_norm_eval": lambda m, x: F.batch_norm(x, m.mean, m.var, m.gamma, m.beta,
                                                 training=False, eps=1e-3),
    "avg_pool2d": lambda m, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
    "max_pool2d": lambda m, x: F.max_pool2d(x, 2, 1, dilation=2),
    "adaptive_avg_pool2d": lambda m, x: F.adaptive_avg_pool2d(x, (2, 3)),
    "adaptive_max_pool2d": lambda m, x: F.adaptive_max_pool2d(x, 3),
    "relu6": lambda m, x: F.relu6(3 * x),
    "hardtanh": lambda m, x: F.hardtanh(x, -0.5, 1.5),
    "leaky_relu": lambda m, x: F.leaky_relu(x, 0.2),
    "flatten_start_end": lambda m, x: torch.flatten(x, 2, 3),
    "flatten_middle": lambda m, x: torch.flatten(x, 1, 2),
    "flatten_method": lambda m, x: x.flatten(-2),
}

FORMS_1D = {
    "linear": lambda m, x: F.linear(x[:, 0, :6], m.linear, m.bias.new_ones(5)),
    "conv1d": lambda m, x: F.conv1d(x, m.weight1d, m.bias, padding=2, dilation=2),
    "avg_pool1d": lambda m, x: F.avg_pool1d(x, 2),
    "max_pool1d": lambda m, x: F.max_pool1d(x, 3, 2, 1),
    "adaptive_avg_pool1d": lambda m, x: F.adaptive_avg_pool1d(x, 3),
    "adaptive_max_pool1d": lambda m, x: F.adaptive_max_pool1d(x, 3),
}


@pytest.mark.parametrize("name", sorted(FORMS_2D))
def test_functional_forms_2d_match_torch(convert_and_compare, name):
    torch.manual_seed(0)
    convert_and_compare(Functional(FORMS_2D[name]), (3, 6, 7))


@pytest.mark.parametrize("name", sorted(FORMS_1D))
def test_functional_forms_1d_match_torch(convert_and_compare, name):
    torch.manual_seed(0)
    convert_and_compare(Functional(FORMS_1D[name]), (3, 8))


def test_identity_in_containers_matches_torch(convert_and_compare):
    model = nn.Sequential(nn.Linear(4, 5), nn.Identity(), nn.ReLU(),
                          nn.Sequential(nn.Identity(), nn.Linear(5, 2)), nn.Identity())
    convert_and_compare(model, (4,))
