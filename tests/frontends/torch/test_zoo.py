"""The classification zoo (small, faithful torchvision architectures from ``zoo.py``):
``from_torch`` converts each exactly (float64 and float32), ``to_torch`` and ``to_onnx``
round-trip the result, and architectures with ops that are not piecewise linear are refused
with the op and the node named."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import plnet  # noqa: E402
from plnet.errors import NotPiecewiseLinearError, UnsupportedOpError  # noqa: E402

pytestmark = pytest.mark.slow

#: float64 conversions agree with torch to this (relative); float32 modules to FLOAT32_RTOL
EXACT_RTOL = 1e-10
FLOAT32_RTOL = 1e-5


def rel_error(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    return float(np.abs(got - want).max() / (1.0 + np.abs(want).max()))


def test_zoo_converts_exactly_in_float64(zoo_conversion, zoo_name):
    module, net, x = zoo_conversion(zoo_name)
    with torch.no_grad():
        want = module(torch.as_tensor(x)).numpy()
    assert rel_error(net(x), want) <= EXACT_RTOL


def test_zoo_converts_a_float32_module_within_float32_rounding(zoo_conversion, zoo_name):
    module, net, x = zoo_conversion(zoo_name)
    x32 = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        want = module.float()(x32).numpy()
    module.double()
    assert rel_error(net(x32.double().numpy()), want) <= FLOAT32_RTOL


def test_zoo_round_trips_through_to_torch(zoo_conversion, zoo_name):
    _, net, x = zoo_conversion(zoo_name)
    exported = plnet.to_torch(net, dtype=torch.float64)
    with torch.no_grad():
        got = exported(torch.as_tensor(x)).numpy()
    assert rel_error(got, net(x)) <= EXACT_RTOL


def test_zoo_round_trips_through_to_onnx(zoo_conversion, zoo_name):
    ort = pytest.importorskip("onnxruntime")
    _, net, x = zoo_conversion(zoo_name)
    model = plnet.to_onnx(net)  # float32: onnxruntime has no float64 Conv kernel
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]
    assert rel_error(got, net(x)) <= FLOAT32_RTOL


def test_zoo_architectures_with_smooth_ops_are_refused_naming_op_and_node(zoo, refused_zoo_name):
    make, shape, op = zoo.REFUSED[refused_zoo_name]
    module = make().double().eval()
    with pytest.raises((NotPiecewiseLinearError, UnsupportedOpError)) as info:
        plnet.from_torch(module, torch.randn((2,) + shape, dtype=torch.float64))
    assert op in str(info.value) and "torch.fx node" in str(info.value)
