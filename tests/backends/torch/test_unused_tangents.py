"""The perturbation engine skips the steps that feed no unit when the output's Jacobian is
not asked for (the logits layer of unit_gradients), and gives the same gradients."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, unit_gradients  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms  # noqa: E402
from plnet.backends.torch.perturbation import steps_feeding_no_unit  # noqa: E402


def conv_net(seed=0):
    rng = np.random.default_rng(seed)
    b = plnet.NetworkBuilder((2, 7, 7))
    h = b.relu(b.conv(b.input, rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3), stride=2))
    h = b.relu(b.dense(b.flatten(h), rng.normal(size=(5, 27)), rng.normal(size=5)))
    return b.build(b.dense(h, rng.normal(size=(4, 5)), rng.normal(size=4)))


class Untouchable:
    """A lowering stand-in whose tangent map must not run."""

    def __init__(self, lowering):
        self.lowering = lowering

    def __getattr__(self, name):
        return getattr(self.lowering, name)

    def tangent(self, *args, **kwargs):
        raise AssertionError("the logits layer's tangents were computed")


def test_unit_gradients_skip_the_logits_layer_and_equal_the_reference(device):
    net = conv_net()
    x = np.random.default_rng(1).normal(size=(3,) + net.input_shape)
    module = compile(net, device=device, dtype=torch.float64)
    assert steps_feeding_no_unit(module) == {module.output_index}
    output_step = module.steps[module.output_index]
    output_step.lowering = Untouchable(output_step.lowering)
    with torch.no_grad():
        _, grads = unit_gradients(module, x, method="perturbation")
    _, norms, _ = unit_gradient_norms(module, x, ("sq",), method="perturbation")
    expected = plnet.linearize(net, x).grad
    np.testing.assert_allclose(grads.cpu().numpy(), expected, rtol=REFERENCE_RTOL,
                               atol=REFERENCE_RTOL)
    np.testing.assert_allclose(norms["sq"].detach().cpu().numpy(),
                               (expected ** 2).sum(axis=2), rtol=REFERENCE_RTOL,
                               atol=REFERENCE_RTOL)
    with pytest.raises(AssertionError, match="logits"):
        unit_gradient_norms(module, x, ("sq",), method="perturbation", want_output=True)
