"""Margins, unit gradients, certify and ROLL on variable-length batches equal per-length results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.backends import torch as pt
from plnet.testing.sequence_strategies import elman_model_and_batch

torch = pytest.importorskip("torch")

#: float64 torch against the float64 numpy reference: the same products, summed in other orders
RTOL = 1e-9


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_margins_of_a_variable_length_batch_are_each_lengths_margins(model, xs, p):
    module = pt.compile(model, dtype=torch.float64)
    got = pt.margins(module, xs, p=p).detach().numpy()
    for i, x in enumerate(xs):
        want = plnet.margin(model.unroll(len(x)), x[None], p=p)[0]
        np.testing.assert_allclose(got[i], want, rtol=RTOL)
    np.testing.assert_allclose(got, plnet.margin(model, xs, p=p), rtol=RTOL)


def test_a_padded_batch_with_lengths_gives_what_the_list_gives(model, xs, pad):
    module = pt.compile(model, dtype=torch.float64)
    x_pad, lengths = pad(xs)
    torch.testing.assert_close(pt.margins(module, x_pad, lengths=lengths), pt.margins(module, xs))


def test_an_uncompiled_sequence_model_is_accepted(model, xs):
    np.testing.assert_allclose(pt.margins(model, xs).detach().numpy(), plnet.margin(model, xs), rtol=RTOL)


def test_unit_gradients_equal_the_numpy_reference_per_sample(model, xs):
    zs, grads = pt.unit_gradients(pt.compile(model, dtype=torch.float64), xs)
    assert len(zs) == len(grads) == len(xs)
    for z, grad, x in zip(zs, grads, xs):
        lin = plnet.linearize(model.unroll(len(x)), x[None])
        assert grad.shape == (lin.z.shape[1], x.size)
        np.testing.assert_allclose(z.detach().detach().numpy(), lin.z[0], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(grad.detach().detach().numpy(), lin.grad[0], rtol=RTOL, atol=1e-12)


def test_unit_gradients_refuse_an_out_buffer(model, xs):
    from plnet.errors import InvalidInputError

    with torch.no_grad(), pytest.raises(InvalidInputError, match="sequence model"):
        pt.unit_gradients(model, xs, out=torch.zeros(1))


@pytest.mark.parametrize("relaxation, gamma", [("roll", 100), ("roll", 50), ("max", 100),
                                               ("distance", 100)])
def test_roll_regularizer_is_the_sample_weighted_mean_of_the_per_length_ones(model, xs,
                                                                             relaxation, gamma):
    module = pt.compile(model, dtype=torch.float64)
    logits, reg = pt.roll_regularizer(module, xs, C=0.5, gamma=gamma, relaxation=relaxation,
                                      return_logits=True)
    total = 0.0
    for length in sorted(set(map(len, xs))):
        group = [x for x in xs if len(x) == length]
        part = pt.roll_regularizer(module.at(length), np.stack(group), C=0.5, gamma=gamma,
                                   relaxation=relaxation)
        total = total + part * len(group) / len(xs)
    torch.testing.assert_close(reg, total)
    torch.testing.assert_close(logits, module(xs))


def test_roll_regularizer_is_differentiable_in_the_shared_parameters(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    pt.roll_regularizer(module, xs, C=1.0).backward()
    rnn = {n: p for n, p in module.param_tensors().items() if not n.startswith("fc.")}
    assert rnn and all(p.grad is not None and bool(p.grad.abs().sum() > 0)
                       for p in rnn.values())


def test_sampled_roll_draws_axes_within_each_length(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    reg = pt.roll_regularizer(module, xs, C=1.0, samples=2, generator=gen)
    assert torch.isfinite(reg) and reg > 0
    with pytest.raises(plnet.InvalidInputError, match="samples"):
        pt.roll_regularizer(module, xs, C=1.0, samples=7, generator=gen)  # D = 6 at T = 2


def test_certify_reports_each_sequence_in_input_order(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    labels = np.argmax(model(xs), axis=1)
    labels[0] = (labels[0] + 1) % 3
    report = pt.certify(module, (xs, labels), p=(1, 2, math.inf), batch_size=2, progress=False)
    for p in (1.0, 2.0, math.inf):
        np.testing.assert_allclose(report.margins[p], plnet.margin(model, xs, p=p), rtol=RTOL)
    assert report.correct.tolist() == [False] + [True] * (len(xs) - 1)
    assert not report.ties.any()
    # regions of different lengths are distinct: the per-length counts add up
    lower = upper = 0
    for length in sorted(set(map(len, xs))):
        group = np.stack([x for x in xs if len(x) == length])
        lo, hi = plnet.count_linear_regions(model.unroll(length), group)
        lower, upper = lower + lo, upper + hi
    assert (report.regions.lower, report.regions.upper) == (lower, upper)
    assert report.regions.n_points == len(xs)
    assert report.percentiles[2.0][50] == pytest.approx(np.percentile(report.margins[2.0], 50))


def test_certify_keeps_the_other_lengths_when_every_point_of_one_ties(model, xs):
    # without biases, a first step of zeros puts every unit of that step on its boundary
    unbiased = model.with_params({"bias_ih_l0": np.zeros(6), "bias_hh_l0": np.zeros(6)})
    xs = [np.vstack([np.zeros((1, 3)), x[1:]]) if len(x) == 2 else x for x in xs]
    tied = np.array([len(x) == 2 for x in xs])
    report = pt.certify(pt.compile(unbiased, dtype=torch.float64), xs, p=2, progress=False)
    assert report.ties.tolist() == tied.tolist()
    assert (report.margins[2.0][tied] == 0).all()
    np.testing.assert_allclose(report.margins[2.0][~tied],
                               plnet.margin(unbiased, [x for x, t in zip(xs, tied) if not t]),
                               rtol=RTOL)
    assert report.regions.n_points == int((~tied).sum())
    assert report.regions.tied_points == tuple(np.flatnonzero(tied))


@settings(max_examples=15, deadline=None)
@given(elman_model_and_batch(batch_size=4, max_length=5))
def test_margins_equal_the_reference_on_random_sequence_models(model_xs):
    model, xs = model_xs
    got = pt.margins(pt.compile(model, dtype=torch.float64), xs, p=2).detach().numpy()
    want = plnet.margin(model, xs, p=2)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12)
