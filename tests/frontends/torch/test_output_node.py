"""drop_trailing finds a final probability map behind pass-through layers."""

from __future__ import annotations

import pytest

import plnet
from plnet.errors import NotPiecewiseLinearError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Tail(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


TAILS = {
    "identity": [nn.Identity()],
    "dropout_eval": [nn.Dropout(0.3)],
    "dropout_and_identity": [nn.Dropout1d(0.5), nn.Identity()],
    "functional_dropout": [Tail(lambda x: F.dropout(x, 0.2, training=False))],
}


def _classifier(tail):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), nn.LogSoftmax(dim=1),
                         *tail).double().eval()


@pytest.mark.parametrize("name", list(TAILS))
def test_trailing_op_behind_pass_through_layers_is_dropped(name):
    model = _classifier(TAILS[name])
    with pytest.raises(NotPiecewiseLinearError):
        plnet.from_torch(model, torch.randn(2, 4))
    net = plnet.from_torch(model, torch.randn(2, 4), drop_trailing=True)
    dropped = net.graph.graph["dropped"]
    assert len(dropped) == len(TAILS[name]) + 1 and "LogSoftmax" in dropped[-1]["op"]
    assert dropped[-1]["dim"] == 1
    x = torch.randn(6, 4, dtype=torch.float64)
    with torch.no_grad():
        logits = model[:3](x)
    assert torch.allclose(torch.as_tensor(net(x.numpy())), logits, rtol=1e-12, atol=1e-12)


def test_dropout_in_training_mode_is_not_looked_through():
    model = _classifier([nn.Dropout(0.3)]).train()
    with pytest.raises(NotPiecewiseLinearError, match="LogSoftmax"):
        plnet.from_torch(model, torch.randn(2, 4), drop_trailing=True)


def test_pass_through_layers_without_a_trailing_op_stay():
    model = nn.Sequential(nn.Linear(4, 3), nn.Identity(), nn.Dropout(0.1)).double().eval()
    net = plnet.from_torch(model, torch.randn(2, 4), drop_trailing=True)
    assert "dropped" not in net.graph.graph or net.graph.graph["dropped"] == []
