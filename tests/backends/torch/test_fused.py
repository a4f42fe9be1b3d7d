"""The fused forward-and-tangent pass of dense chains (Eq. 10's fast path) and its fallback.

Dense ReLU chains take :func:`fused_sampled_terms`; every other network falls back to the
perturbation engine. Both must give the same logits, unit values, sampled squared norms
and parameter gradients, and the estimate must stay unbiased.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile  # noqa: E402
from plnet.backends.torch.fused import dense_chain, fused_sampled_terms  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms  # noqa: E402
from plnet.backends.torch.losses import relaxation_terms, sample_axes  # noqa: E402



def build_mlp(rng, sizes, leaky=False):
    """A dense chain (ReLU, or LeakyReLU(0.1) when ``leaky``) with biases."""
    b = plnet.NetworkBuilder((sizes[0],))
    h = b.input
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        h = b.dense(h, rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), rng.normal(0, 0.3, n_out))
        if i < len(sizes) - 2:
            h = b.leaky_relu(h, 0.1) if leaky else b.relu(h)
    return b.build(h)


def _reference(module, x, axes):
    """``(logits, z, sq)`` over ``axes`` from the general perturbation engine."""
    pattern, norms, _ = unit_gradient_norms(module, x, ("sq",), axes=axes,
                                            method="perturbation")
    return pattern.output, pattern.z, norms["sq"]


def _param_grads(module, x, outputs, seed=0):
    """Gradients of a fixed random linear function of the outputs (parameters, then x)."""
    gen = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in outputs)
    inputs = list(module.parameters()) + ([x] if x.requires_grad else [])
    return torch.autograd.grad(loss, inputs, allow_unused=True)


@pytest.mark.parametrize("leaky", [False, True])
def test_dense_chains_are_recognised(leaky):
    net = build_mlp(np.random.default_rng(0), sizes=(6, 8, 7, 5, 3), leaky=leaky)
    chain = dense_chain(compile(net, device="cpu"))
    assert chain is not None and len(chain) == 4
    assert chain[-1][1] is None  # the output layer carries no unit


def test_only_dense_chains_take_the_fast_path(small_net, request):
    is_mlp = request.node.callspec.params["small_net"] == "mlp"
    assert (dense_chain(compile(small_net, device="cpu")) is not None) == is_mlp


@pytest.mark.parametrize("leaky", [False, True])
@pytest.mark.parametrize("unused", [None, 0, 1, 2])
def test_fused_pass_matches_the_perturbation_engine(leaky, unused, make_points):
    """Values and gradients (parameters and input), also when an output goes unused."""
    net = build_mlp(np.random.default_rng(0), sizes=(6, 8, 7, 5, 3), leaky=leaky)
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=5), requires_grad=True)
    axes = torch.tensor([0, 2, 5])
    fused = fused_sampled_terms(module, dense_chain(module), x, axes)
    ref = _reference(module, x, axes)
    for a, b in zip(fused, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    keep = [i for i in range(3) if i != unused]
    ga = _param_grads(module, x, [fused[i] for i in keep])
    gb = _param_grads(module, x, [ref[i] for i in keep])
    for a, b in zip(ga, gb):
        if b is None:  # an unused output layer: the fused node reports zeros
            assert a is None or not bool(a.any())
        else:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fused_pass_matches_the_numpy_reference(make_points):
    net = build_mlp(np.random.default_rng(3), sizes=(5, 9, 6, 4, 2))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = make_points(net, batch=4)
    axes = [1, 3, 4]
    logits, z, sq = fused_sampled_terms(module, dense_chain(module), torch.tensor(x),
                                        torch.tensor(axes), scale=2.0)
    lin = plnet.linearize(net, x)
    np.testing.assert_allclose(z.detach().numpy(), lin.z, rtol=1e-10, atol=1e-12)
    grads = np.asarray(lin.grad)[:, :, axes]  # [B, N, D] restricted to the axes
    np.testing.assert_allclose(sq.detach().numpy(), 2.0 * (grads ** 2).sum(axis=2),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(logits.detach().numpy(), lin.output, rtol=1e-10,
                               atol=1e-12)


def test_relaxation_terms_agree_on_every_fixture(small_net, make_points):
    """The sampled terms training uses: fast path (MLP) or fallback, same numbers."""
    net = small_net
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=4))
    d, k = module.input_size, 2
    got = relaxation_terms(module, x, samples=k, generator=torch.Generator().manual_seed(5))
    axes = sample_axes(d, k, module.device, torch.Generator().manual_seed(5))
    logits, z, sq = _reference(module, x, axes)
    for a, b in zip(got, (logits, z, sq * (d / k))):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    expected = (logits, z, sq * (d / k))
    for a, b in zip(_param_grads(module, x, got), _param_grads(module, x, expected)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fused_estimate_is_unbiased(make_points):
    """Averaged over every axis subset, the fused estimate is the exact squared norm."""
    net = build_mlp(np.random.default_rng(2), sizes=(5, 7, 6, 3))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=3))
    d, k = module.input_size, 2
    chain = dense_chain(module)
    _, _, exact = _reference(module, x, None)
    estimates = [fused_sampled_terms(module, chain, x, torch.tensor(axes), scale=d / k)[2]
                 for axes in itertools.combinations(range(d), k)]
    torch.testing.assert_close(torch.stack(estimates).mean(dim=0), exact, rtol=1e-12,
                               atol=1e-12)


def test_float32_training_step_matches(make_points):
    """float32 (training's dtype): the fused and general paths agree to round-off."""
    net = build_mlp(np.random.default_rng(4), sizes=(12, 16, 16, 4))
    module = compile(net, device="cpu")
    x = torch.tensor(make_points(net, batch=6), dtype=torch.float32)
    axes = torch.tensor([1, 7, 11])
    fused = fused_sampled_terms(module, dense_chain(module), x, axes)
    for a, b in zip(fused, _reference(module, x, axes)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_many_axes_take_the_chunked_engine(mlp_net, make_points, monkeypatch):
    """Past the memory budget the general engine (chunked over axes) gives the same terms."""
    from plnet.backends.torch import gradients

    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(mlp_net, batch=4))
    fast = relaxation_terms(module, x, samples=3, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(gradients, "WORKSPACE_BYTES", 1)
    slow = relaxation_terms(module, x, samples=3, generator=torch.Generator().manual_seed(1))
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
