"""The analyses run unchanged on converted corpus models and agree with the network."""

from __future__ import annotations

import numpy as np
import pytest

import plnet

MODELS = [("fc1", 0), ("fc_2-2-3", 0), ("mnist2x10", 0), ("mnist5x20_leaky_relu", 0),
          ("conv_mp1", 0), ("KJ_TinyTaxiNet", 0), ("linear2-3_bn1-linear3-1", 0),
          ("fc_matMul", None), ("layerzoo_maxpool", None)]


@pytest.mark.parametrize("stem,batch_dim", MODELS)
def test_linearize_and_margin_on_converted_models(corpus, stem, batch_dim):
    net = plnet.from_onnx(corpus / f"{stem}.onnx", batch_dim=batch_dim)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3,) + net.input_shape)
    lin = plnet.linearize(net, x)
    y = net(x).reshape(3, -1)
    assert np.allclose(lin.output.reshape(3, -1), y, rtol=1e-9, atol=1e-9)
    # the local affine map reproduces the output at the point
    affine = np.einsum("bld,bd->bl", lin.jacobian, x.reshape(3, -1)) + lin.offset.reshape(3, -1)
    assert np.allclose(affine, y, rtol=1e-9, atol=1e-8)
    eps = plnet.margin(net, x, p=2)
    assert eps.shape == (3,) and (eps >= 0).all()
    # a point well inside the certified ball keeps the pattern and the affine map
    for i in range(3):
        if not np.isfinite(eps[i]) or eps[i] == 0:
            continue
        v = rng.standard_normal(net.input_size)
        z = x[i].reshape(-1) + 0.5 * eps[i] * v / np.linalg.norm(v)
        inner = plnet.linearize(net, z.reshape((1,) + net.input_shape))
        assert np.array_equal(inner.signs[0], lin.signs[i])
        predicted = lin.jacobian[i] @ z + lin.offset[i].reshape(-1)
        assert np.allclose(net(z.reshape((1,) + net.input_shape)).reshape(-1), predicted,
                           rtol=1e-8, atol=1e-8)
