"""The perturbation engine's last dense layer before the skipped logits writes unit-major.

When a dense layer feeds only an elementwise pattern op whose own tangents nobody reads
(the last hidden layer: the logits layer is skipped), its tangents are computed as
``[R, out, K]`` memory, the layout of the ``[B, N, K]`` result's rows, and that pattern
op's tangent map is not run. Gradients must equal the numpy reference wherever it applies
(after a flatten of images or not, into fresh memory or a caller's NaN-filled buffer, on
all axes or some), and it must not apply where the layout would not help (norms, a dense
layer whose ReLU feeds another layer).
"""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet import NetworkBuilder

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, unit_gradients  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms  # noqa: E402
from plnet.backends.torch.lowerings import ReluLowering  # noqa: E402
from plnet.backends.torch.lowerings.dense import DenseLowering  # noqa: E402

TIGHT = dict(rtol=1e-10, atol=1e-12)


def _conv_head_net(seed, hidden_layers):
    """conv + ReLU, flatten, ``hidden_layers`` dense + ReLU, dense logits."""
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((2, 8, 8))
    h = b.relu(b.conv(b.input, rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3), stride=2,
                      padding=1))
    h = b.flatten(h)
    for width in (7, 6)[:hidden_layers]:
        h = b.relu(b.dense(h, rng.normal(size=(width, b.shape(h)[0])), rng.normal(size=width)))
    return b.build(b.dense(h, rng.normal(size=(3, b.shape(h)[0]))))


@pytest.fixture
def recorded(monkeypatch):
    """The unit-major products run, and the ReLU tangent maps run, by input width."""
    calls = {"unit_major": [], "relu": []}
    real_major, real_relu = DenseLowering.unit_major_tangent, ReluLowering.tangent

    def major(self, t, params, images=False, out=None):
        calls["unit_major"].append(images)
        return real_major(self, t, params, images=images, out=out)

    def relu(self, ts, params, frozen=None, out=None):
        calls["relu"].append(ts[0].shape[-1] if ts[0].dim() == 3 else None)
        return real_relu(self, ts, params, frozen, out)

    monkeypatch.setattr(DenseLowering, "unit_major_tangent", major)
    monkeypatch.setattr(ReluLowering, "tangent", relu)
    return calls


@pytest.mark.parametrize("hidden_layers, images", [(1, True), (2, False)])
@pytest.mark.parametrize("axes", [None, [0, 5, 17, 60, 127]], ids=["all axes", "some"])
def test_the_last_hidden_dense_layer_writes_unit_major(hidden_layers, images, axes, recorded):
    net = _conv_head_net(1, hidden_layers)
    x = np.random.default_rng(2).normal(size=(3,) + net.input_shape)
    expected = np.asarray(plnet.linearize(net, x).grad)
    if axes is not None:
        expected = expected[:, :, axes]
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        _, grad = unit_gradients(module, x, axes=axes, method="perturbation", chunk_size=50)
        buffer = torch.full(grad.shape, float("nan"), dtype=torch.float64)
        _, into = unit_gradients(module, x, axes=axes, method="perturbation", out=buffer)
    for got in (grad, into):
        np.testing.assert_allclose(got.numpy(), expected, **TIGHT)
    assert recorded["unit_major"] and set(recorded["unit_major"]) == {images}
    last_width = (7, 6)[hidden_layers - 1]
    assert last_width not in recorded["relu"]  # the last ReLU's tangents are not computed
    if hidden_layers == 2:
        assert 7 in recorded["relu"]  # the first dense ReLU feeds a layer: computed


def test_norms_and_the_output_jacobian_keep_the_axis_major_layout(recorded):
    """The norm sink reduces axis-major tangents as they are, and with the output's
    Jacobian asked for every tangent is read: no unit-major product there."""
    net = _conv_head_net(3, 2)
    x = np.random.default_rng(4).normal(size=(2,) + net.input_shape)
    grad = np.asarray(plnet.linearize(net, x).grad)
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        _, norms, out_jac = unit_gradient_norms(module, x, ("sq",), method="perturbation",
                                                want_output=True)
        _, norms_only, _ = unit_gradient_norms(module, x, ("sq",), method="perturbation")
    for got in (norms, norms_only):
        np.testing.assert_allclose(got["sq"].numpy(), (grad ** 2).sum(axis=2), **TIGHT)
    assert out_jac is not None and not recorded["unit_major"]
