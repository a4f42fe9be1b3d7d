"""The conversion check, and clear errors for what the frontend cannot convert."""

from __future__ import annotations

import subprocess
import sys

import pytest

import plnet
from plnet.errors import ConversionMismatch, InvalidInputError, UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn


def _wrong_relu(lower, node, module, x):
    from plnet.frontends.torch.values import TensorValue

    tv = lower.tensor(x)
    return TensorValue(lower.builder.leaky_relu(tv.node, 0.5, name=lower.node_name(node)))


def test_check_catches_a_wrong_converter(monkeypatch):
    # importing the fx -> IR loop registers the converters this test replaces one of
    from plnet.frontends.torch import fx_to_ir, registry  # noqa: F401

    monkeypatch.setitem(registry.MODULE_CONVERTERS, nn.ReLU, _wrong_relu)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(ConversionMismatch) as info:
        plnet.from_torch(model, torch.randn(2, 4))
    assert info.value.max_abs_error > info.value.tolerance > 0
    net = plnet.from_torch(model, torch.randn(2, 4), check=False)
    assert net.op("1").type_name == "leaky_relu"


def test_check_passes_on_float32_modules_and_leaves_them_alone():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    before = [p.clone() for p in model.parameters()]
    net = plnet.from_torch(model, torch.randn(2, 4), check_samples=3, seed=5)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert net.params["0.weight"].dtype.name == "float64"


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x + y


class TupleOut(nn.Module):
    def forward(self, x):
        return x.relu(), x


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class ConstantOut(nn.Module):
    def forward(self, x):
        return torch.zeros(3)


@pytest.mark.parametrize("model,match", [
    (TwoInputs(), "more than one input"),
    (TupleOut(), "tuple"),
    (DataDependent(), "torch.fx cannot trace"),
    (ConstantOut(), "constant"),
])
def test_modules_plnet_cannot_represent_raise_clear_errors(model, match):
    with pytest.raises(UnsupportedOpError, match=match):
        plnet.from_torch(model, torch.randn(2, 3))


def test_optional_forward_arguments_take_their_defaults(convert_and_compare):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x, scale=2.0, extra=None):
            y = self.lin(x) * scale
            return y if extra is None else y + extra

    net = convert_and_compare(Model(), (3,))
    assert [net.op(n).type_name for n in net.order] == ["input", "dense", "scale_shift"]


def test_bad_arguments_are_invalid_input():
    with pytest.raises(InvalidInputError, match="torch.nn.Module"):
        plnet.from_torch(lambda x: x, torch.randn(2, 3))
    with pytest.raises(InvalidInputError, match="batch"):
        plnet.from_torch(nn.ReLU(), torch.randn(3))


def test_errors_name_the_node_and_the_module_type():
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), nn.Tanh()))
    with pytest.raises(UnsupportedOpError) as info:
        plnet.from_torch(model, torch.randn(2, 3))
    message = str(info.value)
    assert "'1.1'" in message and "Tanh" in message and "ReLU" in message


def test_importing_plnet_does_not_import_torch():
    code = ("import sys, plnet, plnet.frontends, plnet.frontends.torch; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
