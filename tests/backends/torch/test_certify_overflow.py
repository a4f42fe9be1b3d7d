"""The torch certificates at huge weights: overflow-safe norms, and NonFiniteError."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.errors import NonFiniteError

torch = pytest.importorskip("torch")
backend = pytest.importorskip("plnet.backends.torch")


def base_net(seed: int = 0):
    rng = np.random.default_rng(seed)
    b = plnet.NetworkBuilder((3,))
    h = b.input
    for fan_in, width in ((3, 4), (4, 3)):
        h = b.relu(b.dense(h, rng.normal(size=(width, fan_in)), rng.normal(size=width)))
    return b.build(b.dense(h, rng.normal(size=(2, 3))))


def scaled_mlp(exponent: int, bias_exponent: int | None = None):
    """The hidden layers' weights times ``2**exponent``, layer k's biases times
    ``2**(k * exponent)``: the margins equal those of ``exponent = 0``."""
    net = base_net()
    hidden = [n for n in net.order if type(net.op(n)).__name__ == "Dense"][:2]
    scales = {}
    for k, name in enumerate(hidden, start=1):
        op = net.op(name)
        bias = k * exponent if bias_exponent is None or k == 1 else bias_exponent
        scales[op.weight] = net.params[op.weight] * 2.0 ** exponent
        scales[op.bias] = net.params[op.bias] * 2.0 ** bias
    return net.with_params(scales)


X = np.random.default_rng(1).normal(size=(6, 3))


@pytest.mark.filterwarnings("ignore::plnet.errors.PrecisionWarning")
@pytest.mark.parametrize("dtype,exponent,rtol", [(torch.float64, 500, 1e-12),
                                                 (torch.float32, 40, 1e-4)])
def test_margins_at_huge_weights_equal_the_rescaled_reference(device, dtype, exponent, rtol):
    module = backend.compile(scaled_mlp(exponent), device=device, dtype=dtype)
    reference = {p: plnet.margin(scaled_mlp(0), X, p) for p in (1, 2, np.inf)}
    found = {p: backend.margins(module, X, p).detach().double().cpu().numpy() for p in reference}
    report = backend.certify(module, X, progress=False)
    for p in reference:
        np.testing.assert_allclose(found[p], reference[p], rtol=rtol)
        np.testing.assert_allclose(report.margins[p], reference[p], rtol=rtol)
    assert (found[np.inf] <= found[2]).all() and (found[2] <= found[1]).all()


def test_overflowing_network_raises_naming_the_node(device):
    net = scaled_mlp(515, bias_exponent=515)
    second = [n for n in net.order if type(net.op(n)).__name__ == "Dense"][1]
    module = backend.compile(net, device=device, dtype=torch.float64)
    for evaluate in (lambda: backend.margins(module, X, 2),
                     lambda: backend.certify(module, X, progress=False),
                     lambda: backend.unit_gradients(module, X)):
        with pytest.raises(NonFiniteError, match="rescale") as info:
            evaluate()
        assert info.value.node == second

