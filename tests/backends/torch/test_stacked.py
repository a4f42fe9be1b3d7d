"""The stacked forward-and-tangent pass (Eq. 10's fast path beyond dense chains).

Convolutional, pooled and residual networks carry their forward and sampled tangent rows
through one call per layer, or, on images, each sampled axis's forward cone until an op
without a cone rule; the logits, units, sampled squared norms and every parameter
gradient must equal the numpy reference and the general perturbation engine, both ways.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet import NetworkBuilder
from plnet.testing import strategies as pst

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, get_relaxation  # noqa: E402
from plnet.backends.torch import cones, fused, stacked  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms  # noqa: E402
from plnet.backends.torch.lowerings import AffineLowering, ConvLowering, conv  # noqa: E402
from plnet.backends.torch.losses import relaxation_terms  # noqa: E402

TIGHT = dict(rtol=1e-10, atol=1e-11)


FORMS = ["cones", "cones, convolution calls", "full rows"]


@contextlib.contextmanager
def forced(form):
    """Run the pass with forward cones kept as long as ops have rules (never widened to
    full rows for their size; window convolutions as window matrices, or as convolution
    calls), or with full-size rows from the input on."""
    with pytest.MonkeyPatch.context() as patch:
        if form.startswith("cones"):
            patch.setattr(cones, "MAX_FRACTION", 1.0)
            if form.endswith("calls"):
                patch.setattr(conv, "WINDOW_MATRIX_SIZE", 0)
        else:
            patch.setattr(cones, "MAX_AXES", 0)
        yield


@pytest.fixture(params=FORMS)
def tangent_form(request):
    with forced(request.param):
        yield request.param


def _engine_terms(module, x, axes):
    pattern, norms, _ = unit_gradient_norms(module, x, ("sq",), axes=axes,
                                            method="perturbation")
    return pattern.output, pattern.z, norms["sq"]


def _param_grads(module, outputs, seed=0):
    if not list(module.parameters()):
        return []
    gen = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in outputs)
    return torch.autograd.grad(loss, list(module.parameters()), allow_unused=True)


def _assert_same_gradients(module, got, expected):
    for a, b in zip(_param_grads(module, got), _param_grads(module, expected)):
        if b is None:
            assert a is None or not bool(a.any())
        else:
            torch.testing.assert_close(a, b, **TIGHT)


@pytest.mark.parametrize("form", FORMS)
@settings(max_examples=40)
@given(pst.network_and_points(batch_size=st.integers(1, 3),
                              families=("cnn1d", "cnn2d", "mlp")), st.data())
def test_stacked_pass_equals_the_reference_on_random_networks(form, net_x, data):
    """Convolutions (padding, stride, dilation, groups), max and average pools, residual
    adds, views: values against numpy, parameter gradients against the general engine."""
    net, x = net_x
    module = compile(net, device="cpu", dtype=torch.float64)
    assert stacked.unsupported_steps(module) == []
    d = net.input_size
    axes = sorted(data.draw(st.sets(st.integers(0, d - 1), min_size=1, max_size=min(d, 4))))
    xt = torch.tensor(x)
    with forced(form):
        got = stacked.stacked_sampled_terms(module, xt, torch.tensor(axes), scale=1.5)
    lin = plnet.linearize(net, x)
    np.testing.assert_allclose(got[0].detach().numpy(), lin.output, **TIGHT)
    np.testing.assert_allclose(got[1].detach().numpy(), lin.z, **TIGHT)
    expected_sq = 1.5 * (np.asarray(lin.grad)[:, :, axes] ** 2).sum(axis=2)
    np.testing.assert_allclose(got[2].detach().numpy(), expected_sq, **TIGHT)
    logits, z, sq = _engine_terms(module, xt, torch.tensor(axes))
    _assert_same_gradients(module, got, (logits, z, 1.5 * sq))


def _conv_maxpool_net(rng):
    """Conv (stride, dilation, padding), ReLU, overlapping max pool, grouped conv, add."""
    b = NetworkBuilder((2, 9, 9))
    h = b.relu(b.conv(b.input, rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), stride=1,
                      padding=2, dilation=2))
    h = b.max_pool(h, 3, stride=2, padding=1)
    skip = h
    h = b.relu(b.conv(h, rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), padding=1,
                      groups=2))
    h = b.add(h, skip)
    return b.build(b.dense(b.flatten(h), rng.normal(size=(3, int(np.prod(b.shape(h)))))))


def _flatten_dense_net(rng, first_relu_after_dense):
    """One input channel, conv, flatten, dense: the flatten of shared rows (no ReLU before
    it) or of per-point rows (a ReLU after the conv)."""
    b = NetworkBuilder((1, 6, 6))
    h = b.conv(b.input, rng.normal(size=(3, 1, 3, 3)), rng.normal(size=3), stride=2,
               padding=1)
    if not first_relu_after_dense:
        h = b.relu(h)
    h = b.relu(b.dense(b.flatten(h), rng.normal(size=(5, int(np.prod(b.shape(h))))),
                       rng.normal(size=5)))
    return b.build(b.dense(h, rng.normal(size=(2, 5)), rng.normal(size=2)))


@pytest.mark.parametrize("shared", [True, False], ids=["shared rows", "per-point rows"])
def test_a_dense_layer_reads_flattened_images_as_they_lie(shared, make_points, monkeypatch):
    monkeypatch.setattr(cones, "MAX_AXES", 0)  # full rows (cones: test_cones.py)
    """Dense after flatten takes the channels-last image rows with its weight's columns
    permuted (no flatten copy): values against numpy, parameter gradients (the permuted
    weight's included) against the general engine."""
    calls = []
    real = stacked._dense_of_images
    monkeypatch.setattr(stacked, "_dense_of_images",
                        lambda *a: calls.append(a[2]) or real(*a))
    net = _flatten_dense_net(np.random.default_rng(11), shared)
    module = compile(net, device="cpu", dtype=torch.float64)
    x = make_points(net, batch=3)
    axes = [0, 7, 20, 35]
    got = stacked.stacked_sampled_terms(module, torch.tensor(x), torch.tensor(axes), 2.0)
    assert calls == [shared]
    lin = plnet.linearize(net, x)
    np.testing.assert_allclose(got[0].detach().numpy(), lin.output, **TIGHT)
    np.testing.assert_allclose(got[1].detach().numpy(), lin.z, **TIGHT)
    expected_sq = 2.0 * (np.asarray(lin.grad)[:, :, axes] ** 2).sum(axis=2)
    np.testing.assert_allclose(got[2].detach().numpy(), expected_sq, **TIGHT)
    logits, z, sq = _engine_terms(module, torch.tensor(x), torch.tensor(axes))
    _assert_same_gradients(module, got, (logits, z, 2.0 * sq))


@pytest.mark.parametrize("net_name", ["cnn_max_net", "residual_net"])
def test_a_mean_over_units_gives_the_engines_gradients(net_name, request, make_points,
                                                      tangent_form):
    """The ROLL loss at gamma = 100 hands each pattern op one gradient value per point for
    its squared norms (a broadcast, not a [B, n] tensor): the parameter gradients of that
    loss equal the general engine's."""
    net = request.getfixturevalue(net_name)
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=3))
    axes = torch.tensor(sorted({0, net.input_size // 2, net.input_size - 1}))
    roll = get_relaxation("roll")
    logits, z, sq = stacked.stacked_sampled_terms(module, x, axes, 4.0)
    ref_logits, ref_z, ref_sq = _engine_terms(module, x, axes)
    weights = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    got = torch.autograd.grad((roll(z, sq, C=1.3) * weights).sum() + logits.sum(),
                              list(module.parameters()))
    expected = torch.autograd.grad((roll(ref_z, 4.0 * ref_sq, C=1.3) * weights).sum()
                                   + ref_logits.sum(), list(module.parameters()))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, **TIGHT)


def test_a_one_channel_batch_runs_channels_last():
    """A one-channel image passes torch's channels-last test in the default layout, and
    a convolution would return the default layout; the lowering's view has the
    channels-last strides, so what follows stays in one layout."""
    from plnet.backends.torch.lowerings.conv import channels_last

    x = torch.randn(4, 1, 5, 6)
    view = channels_last(x)
    assert view.stride() == (30, 1, 6, 1) and torch.equal(view, x)
    conv = torch.nn.functional.conv2d(view, torch.randn(3, 1, 3, 3))
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    many = torch.randn(4, 2, 5, 6)
    assert channels_last(many).is_contiguous(memory_format=torch.channels_last)


def test_max_pool_ties_follow_the_general_engine(tangent_form):
    """Equal maxima in a window: the first one is selected, as in the frozen pattern."""
    net = _conv_maxpool_net(np.random.default_rng(1))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.zeros((2,) + net.input_shape, dtype=torch.float64)
    x[1] = 1.0  # constant images: every pool window ties
    axes = torch.tensor([0, 40, 161])
    got = stacked.stacked_sampled_terms(module, x, axes)
    expected = _engine_terms(module, x, axes)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, **TIGHT)
    _assert_same_gradients(module, got, expected)


def test_convolutional_networks_take_the_stacked_pass(cnn_max_net, make_points,
                                                      monkeypatch):
    calls = []
    real = stacked.stacked_sampled_terms
    monkeypatch.setattr(stacked, "stacked_sampled_terms",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    module = compile(cnn_max_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(cnn_max_net, batch=3))
    relaxation_terms(module, x, samples=2, generator=torch.Generator().manual_seed(0))
    assert calls == [1]


def test_an_op_with_an_undeclared_offset_falls_back(cnn_max_net, make_points, monkeypatch):
    """An affine lowering whose forward adds a constant it does not declare as its offset
    cannot run stacked: the general engine gives the same terms."""
    module = compile(cnn_max_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(cnn_max_net, batch=3))
    axes = torch.tensor([1, 5])
    before = fused.sampled_terms(module, x, axes, 2.0)
    monkeypatch.setattr(ConvLowering, "offset", AffineLowering.offset)
    fresh = compile(cnn_max_net, device="cpu", dtype=torch.float64)
    convs = [s.name for s in fresh.steps if isinstance(s.lowering, ConvLowering)]
    assert stacked.unsupported_steps(fresh) == convs and convs
    assert fused.sampled_terms(fresh, x, axes, 2.0) is None
    logits, z, sq = _engine_terms(fresh, x, axes)
    for a, b in zip(before, (logits, z, 2.0 * sq)):
        torch.testing.assert_close(a, b, **TIGHT)


def test_float32_stacked_pass_matches_the_engine(cnn_avg_net, make_points):
    module = compile(cnn_avg_net, device="cpu")
    x = torch.tensor(make_points(cnn_avg_net, batch=4), dtype=torch.float32)
    axes = torch.tensor([3, 17, 40])
    for a, b in zip(stacked.stacked_sampled_terms(module, x, axes),
                    _engine_terms(module, x, axes)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_every_lowering_with_a_constant_declares_it():
    """Today no op falls back: each affine lowering whose forward adds a constant (dense,
    conv, transposed conv, scale-shift) says which, so every network runs stacked."""
    from plnet.backends.torch.lowerings import LOWERINGS

    for op_class, lowering in LOWERINGS.items():
        if issubclass(lowering, AffineLowering) and \
                lowering.forward is not AffineLowering.forward:
            assert lowering.offset is not AffineLowering.offset, op_class.__name__
