"""The classification zoo (``tests/frontends/torch/zoo.py``) exported by both of torch's ONNX
exporters: ``from_onnx`` equals torch within float32 rounding on fresh inputs, the result
round-trips through ``to_onnx`` and ``to_torch``, and the architectures with ops that are not
piecewise linear are refused with the ONNX op and node named.

The exports are static (a batch of 2 fixed in the file), as ``torch.onnx.export(model, x)``
writes them by default; each is made once per session.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import plnet  # noqa: E402
from plnet.errors import NotPiecewiseLinearError  # noqa: E402

pytestmark = pytest.mark.slow

#: float32 files (onnxruntime has no float64 Conv) agree with torch to this, relative
FLOAT32_RTOL = 1e-5


def _load_zoo():
    """``zoo.py`` of the torch tests, by path (test folders do not import each other under
    --import-mode=importlib); shared with that folder's conftest under one module name."""
    if "plnet_test_zoo" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "torch" / "zoo.py"
        spec = importlib.util.spec_from_file_location("plnet_test_zoo", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["plnet_test_zoo"] = module
        spec.loader.exec_module(module)
    return sys.modules["plnet_test_zoo"]


zoo = _load_zoo()

#: the ONNX ops each refused architecture is refused at (either exporter)
REFUSED_AT = {
    "regnet_se": ("Sigmoid",),
    "mobilenet_v3_hardswish": ("HardSwish", "HardSigmoid"),
    "efficientnet_silu": ("Sigmoid",),  # SiLU is exported as x * Sigmoid(x)
    "convnext_layer_norm": ("LayerNormalization", "ReduceMean", "Sqrt", "Div"),
    "vit_attention": ("MatMul", "Softmax"),
}

#: torch's legacy exporter cannot write adaptive average pooling to an output size that does
#: not divide the input size ("Unsupported: ONNX export of operator adaptive_avg_pool2d,
#: output size that are not factor of input size"): VGG and AlexNet pool 1x1 to 7x7 / 6x6
LEGACY_CANNOT_EXPORT = {"vgg11", "vgg11_bn", "alexnet"}

_EXPORTS: dict = {}
_CONVERSIONS: dict = {}


def _shape(name):
    return (zoo.ZOO.get(name) or zoo.REFUSED[name])[1]


def _export(name: str, route: str) -> bytes:
    """The float32 eval module ``name`` exported by ``route`` ("dynamo" or "legacy")."""
    if (name, route) not in _EXPORTS:
        module = zoo.build(name)
        x = torch.randn((2,) + _shape(name))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if route == "dynamo":
                pytest.importorskip("onnxscript")
                program = torch.onnx.export(module, (x,), dynamo=True, verbose=False)
                data = program.model_proto.SerializeToString()
            else:
                buffer = io.BytesIO()
                torch.onnx.export(module, (x,), buffer, dynamo=False)
                data = buffer.getvalue()
        _EXPORTS[name, route] = data
    return _EXPORTS[name, route]


def _conversion(name: str, route: str):
    """``(torch module, network, fresh inputs)`` for a zoo architecture's export."""
    if (name, route) not in _CONVERSIONS:
        net = plnet.from_onnx(_export(name, route))
        x = np.random.default_rng(7).normal(size=(3,) + _shape(name)).astype(np.float32)
        _CONVERSIONS[name, route] = (zoo.build(name), net, x)
    return _CONVERSIONS[name, route]


def rel_error(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    return float(np.abs(got - want).max() / (1.0 + np.abs(want).max()))


def _cases():
    for name in sorted(zoo.ZOO):
        yield pytest.param(name, "dynamo", id=f"{name}-dynamo")
        marks = ()
        if name in LEGACY_CANNOT_EXPORT:
            marks = pytest.mark.xfail(
                strict=True, raises=torch.onnx.errors.SymbolicValueError,
                reason="torch's legacy exporter: adaptive_avg_pool2d to an output size that "
                       "is not a factor of the input size is unsupported")
        yield pytest.param(name, "legacy", id=f"{name}-legacy", marks=marks)


@pytest.mark.parametrize("name,route", list(_cases()))
def test_exported_zoo_converts_within_float32_rounding(name, route):
    module, net, x = _conversion(name, route)
    with torch.no_grad():
        want = module(torch.as_tensor(x)).numpy()
    assert rel_error(net(x.astype(np.float64)), want) <= FLOAT32_RTOL


@pytest.mark.parametrize("name,route", list(_cases()))
def test_exported_zoo_round_trips_through_to_onnx_and_to_torch(name, route):
    _, net, x = _conversion(name, route)
    want = net(x.astype(np.float64))
    session = ort.InferenceSession(plnet.to_onnx(net).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    assert rel_error(session.run(None, {session.get_inputs()[0].name: x})[0],
                     want) <= FLOAT32_RTOL
    with torch.no_grad():
        back = plnet.to_torch(net, dtype=torch.float64)(torch.as_tensor(x, dtype=torch.float64))
    assert rel_error(back.numpy(), want) <= 1e-10


@pytest.mark.parametrize("route", ["dynamo", "legacy"])
@pytest.mark.parametrize("name", sorted(zoo.REFUSED))
def test_exported_architectures_with_smooth_ops_are_refused_naming_op_and_node(name, route):
    with pytest.raises(NotPiecewiseLinearError) as info:
        plnet.from_onnx(_export(name, route))
    message = str(info.value)
    assert "node '" in message
    assert any(f"({op}, opset" in message for op in REFUSED_AT[name]), message
