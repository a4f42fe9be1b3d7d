"""A module called twice: the IR nodes share (tie) its parameters."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


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
