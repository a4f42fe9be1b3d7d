"""A module called twice: the IR nodes share (tie) its parameters."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import plnet  # noqa: E402


class Twice(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(torch.relu(self.layer(x)))


@pytest.mark.parametrize("layer,shape", [(nn.Linear(4, 4), (4,)),
                                         (nn.Conv2d(2, 2, 3, padding=1), (2, 5, 5))],
                         ids=["linear", "conv"])
def test_a_module_called_twice_has_its_parameters_tied(convert_and_compare, layer, shape):
    net = convert_and_compare(Twice(layer), shape)
    readers = [n for n in net.graph if "layer.weight" in net.graph.nodes[n]["op"].param_names()]
    assert len(readers) == 2
    assert not [p for p in net.params if p.startswith("layer.weight_")]


def test_a_conv_and_batch_norm_pair_called_twice_keeps_one_folded_weight():
    class ConvBnTwice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)

        def forward(self, x):
            return self.bn(self.conv(torch.relu(self.bn(self.conv(x)))))

    module = ConvBnTwice().eval()
    with torch.no_grad():
        module.bn.running_mean.uniform_(-1, 1)
        module.bn.running_var.uniform_(0.5, 2)
    net = plnet.from_torch(module, torch.randn(2, 2, 5, 5))
    folded = sorted(name for name in net.params if "bn_folded" in name)
    assert folded == ["conv.bias.bn_folded", "conv.weight.bn_folded"]
