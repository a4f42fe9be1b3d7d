"""One forward pass for the task loss and the regularizer: ``return_logits=True``."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from plnet.backends import torch as pt  # noqa: E402
from plnet.backends.torch.relaxations import RELAXATIONS, is_sampling_unbiased  # noqa: E402

# every registered relaxation exactly; the sampled (Eq. 10) form where it is unbiased
FORMS = [(name, None) for name in sorted(RELAXATIONS)] + [
    (name, 2) for name in sorted(RELAXATIONS) if is_sampling_unbiased(RELAXATIONS[name], 100)]


def setting(net, make_points, relaxation, samples):
    """Every small net: the fused dense chain (mlp) and the general engine (the rest)."""
    module = pt.compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=4))
    kwargs = dict(C=0.7, relaxation=relaxation, samples=samples)
    return module, x, kwargs


def seeded(kwargs):
    return dict(kwargs, generator=torch.Generator().manual_seed(11))


@pytest.mark.parametrize("relaxation,samples", FORMS)
def test_return_logits_gives_the_module_output_and_the_same_regularizer(small_net, make_points,
                                                                         relaxation, samples):
    module, x, kwargs = setting(small_net, make_points, relaxation, samples)
    logits, reg = pt.roll_regularizer(module, x, return_logits=True, **seeded(kwargs))
    torch.testing.assert_close(logits, module(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(reg, pt.roll_regularizer(module, x, **seeded(kwargs)),
                               rtol=1e-12, atol=1e-12)
    public = pt.regularized_forward(module, x, **seeded(kwargs))
    torch.testing.assert_close(public, (logits, reg), rtol=0, atol=0)


@pytest.mark.parametrize("relaxation,samples", FORMS)
def test_one_pass_loss_has_the_two_pass_parameter_gradients(small_net, make_points, relaxation,
                                                          samples):
    module, x, kwargs = setting(small_net, make_points, relaxation, samples)
    target = torch.arange(x.shape[0]) % 2
    params = [p for p in module.parameters() if p.requires_grad]

    def task(logits):
        return torch.nn.functional.cross_entropy(logits.reshape(x.shape[0], -1), target)

    two_pass = task(module(x)) + 0.3 * pt.roll_regularizer(module, x, **seeded(kwargs))
    logits, reg = pt.roll_regularizer(module, x, return_logits=True, **seeded(kwargs))
    one_pass = task(logits) + 0.3 * reg
    expected = torch.autograd.grad(two_pass, params)
    got = torch.autograd.grad(one_pass, params)
    assert any(float(g.abs().max()) > 0 for g in got)  # the comparison has power
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def test_the_default_return_is_the_scalar(mlp_net, make_points):
    module = pt.compile(mlp_net, device="cpu", dtype=torch.float64)
    reg = pt.roll_regularizer(module, torch.tensor(make_points(mlp_net)), C=1.0)
    assert isinstance(reg, torch.Tensor) and reg.shape == ()
