"""The relaxation registry and each relaxation's math, on hand-made (z, sq) tensors."""

from __future__ import annotations

import inspect
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import plnet

torch = pytest.importorskip("torch")

from plnet.backends.torch import RELAXATIONS, get_relaxation, register_relaxation  # noqa: E402
from plnet.backends.torch.relaxations import (is_sampling_unbiased, softmin_distance,  # noqa: E402
                                              top_count)


def terms(seed, b=4, n=9, zero_grad_units=(2,), tie_units=(5,)):
    """Random (z, sq) in float64 with some zero-gradient units and a tie."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (b, n))
    sq = rng.uniform(0.1, 4.0, (b, n))
    sq[:, list(zero_grad_units)] = 0.0
    z[0, list(tie_units)] = 0.0
    return torch.tensor(z, requires_grad=True), torch.tensor(sq, requires_grad=True)


def numpy_distances(z, sq):
    z, sq = z.detach().numpy(), sq.detach().numpy()
    with np.errstate(divide="ignore"):
        return np.where(sq > 0, np.abs(z) / np.sqrt(np.where(sq > 0, sq, 1)), np.inf)


def test_paper_relaxations_and_the_example_are_registered():
    assert {"distance", "max", "roll", "softmin_distance"} <= set(RELAXATIONS)


@pytest.mark.parametrize("name", sorted(RELAXATIONS))
def test_every_registered_relaxation_is_well_formed(name):
    fn = RELAXATIONS[name]
    assert callable(fn) and get_relaxation(name) is fn
    params = inspect.signature(fn).parameters
    assert {"C", "gamma"} <= {p for p, v in params.items() if v.kind is v.KEYWORD_ONLY}
    for gamma in (100.0, 30.0):
        z, sq = terms(seed=1)
        out = fn(z, sq, C=2.0, gamma=gamma)
        assert out.shape == (4,) and torch.isfinite(out).all()
        out.sum().backward()
        # zero-gradient units and ties must not poison the gradients with NaN
        assert torch.isfinite(z.grad).all() and torch.isfinite(sq.grad).all()
    empty = fn(torch.zeros(3, 0), torch.zeros(3, 0), C=1.0, gamma=100.0)
    assert empty.shape == (3,) and (empty == 0).all()


def test_roll_with_gamma_100_is_the_plain_mean_of_the_hinge_losses():
    z, sq = terms(seed=2)
    expected = (sq + 0.7 * torch.relu(1 - z.abs())).mean(dim=1)
    torch.testing.assert_close(get_relaxation("roll")(z, sq, C=0.7, gamma=100), expected)


@pytest.mark.parametrize("C", [0.0, 0.7, 2.5])
@given(seed=st.integers(0, 2**16), n=st.integers(1, 12))
def test_the_one_node_mean_hinge_has_the_composed_gradients(C, seed, n):
    """roll at gamma = 100 runs as one autograd node: its values and its gradients in z and
    sq equal the composed form's, at the kinks too (z = 0, z = +-1: zero, as torch's
    relu and abs give), and its backward differentiates again (gradgradcheck)."""
    z, sq = terms(seed, n=n, zero_grad_units=(), tie_units=())
    with torch.no_grad():
        z[:, 0] = 0.0
        z[1:, -1] = torch.tensor([1.0, -1.0, 1.0])[: z.shape[0] - 1]
    weights = torch.tensor(np.random.default_rng(seed).normal(size=z.shape[0]))
    got = get_relaxation("roll")(z, sq, C=C, gamma=100)
    assert got.grad_fn is not None and "MeanHinge" in type(got.grad_fn).__name__
    expected = (sq + C * torch.relu(1 - z.abs())).mean(dim=1)
    torch.testing.assert_close(got, expected, rtol=1e-13, atol=1e-14)
    for a, b in zip(torch.autograd.grad((got * weights).sum(), (z, sq)),
                    torch.autograd.grad((expected * weights).sum(), (z, sq))):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-14)
    free = (z.detach() + 0.05).requires_grad_(), sq.detach().requires_grad_()
    assert torch.autograd.gradgradcheck(
        lambda a, b: get_relaxation("roll")(a, b, C=C, gamma=100), free)


@given(seed=st.integers(0, 2**16), gamma=st.floats(0.5, 100.0), n=st.integers(1, 12))
def test_roll_averages_the_top_gamma_percent_units(seed, gamma, n):
    z, sq = terms(seed, n=n, zero_grad_units=(), tie_units=())
    losses = (sq + 1.3 * torch.relu(1 - z.abs())).detach().numpy()
    k = max(1, math.ceil(Fraction(gamma) * n / 100))
    expected = np.sort(losses, axis=1)[:, ::-1][:, :k].mean(axis=1)
    got = get_relaxation("roll")(z, sq, C=1.3, gamma=gamma).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_top_count_rounds_up_and_keeps_at_least_one_unit():
    assert top_count(8, 25) == 2 and top_count(8, 30) == 3 and top_count(8, 100) == 8
    assert top_count(1000, 0.01) == 1


def test_roll_with_one_kept_unit_is_the_max_relaxation_of_eq_7():
    z, sq = terms(seed=3, n=10)
    torch.testing.assert_close(get_relaxation("roll")(z, sq, C=2.0, gamma=10),
                               get_relaxation("max")(z, sq, C=2.0, gamma=100))


def test_distance_is_minus_the_nearest_constraining_boundary():
    z, sq = terms(seed=4)
    expected = -numpy_distances(z, sq).min(axis=1)
    assert expected[0] == 0.0  # the tie: margin 0
    np.testing.assert_allclose(get_relaxation("distance")(z, sq).detach().numpy(), expected)


def test_distance_ignores_zero_gradient_units_and_gives_zero_without_constraints():
    z = torch.tensor([[0.01, 3.0], [0.5, 0.2]])
    sq = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    torch.testing.assert_close(get_relaxation("distance")(z, sq), torch.tensor([-3.0, 0.0]))


@pytest.mark.parametrize("temperature", [1.0, 0.1, 0.01])
def test_softmin_distance_upper_bounds_eq_4_within_t_log_n(temperature):
    z, sq = terms(seed=5, tie_units=())
    exact = get_relaxation("distance")(z, sq)
    smooth = softmin_distance(z, sq, C=1.0, gamma=100, temperature=temperature)
    finite_units = (sq > 0).sum(dim=1).double()
    assert (smooth >= exact - 1e-12).all()
    assert (smooth <= exact + temperature * finite_units.log() + 1e-12).all()


def test_softmin_distance_spreads_its_gradient_over_near_binding_units():
    z = torch.tensor([[1.0, 1.05, 5.0]], requires_grad=True)
    sq = torch.ones(1, 3)
    softmin_distance(z, sq, C=0.0, gamma=100, temperature=0.1).sum().backward()
    assert (z.grad[0, :2] < 0).all() and abs(float(z.grad[0, 2])) < 1e-12
    z.grad = None
    get_relaxation("distance")(z, sq).sum().backward()
    assert int((z.grad != 0).sum()) == 1  # the hard minimum moves only the nearest unit


def test_softmin_distance_rejects_a_non_positive_temperature():
    with pytest.raises(plnet.InvalidInputError, match="temperature"):
        softmin_distance(torch.ones(1, 2), torch.ones(1, 2), C=1.0, gamma=100, temperature=0.0)


def test_only_the_full_roll_mean_is_declared_unbiased_under_sampling():
    assert is_sampling_unbiased(RELAXATIONS["roll"], 100.0)
    assert not is_sampling_unbiased(RELAXATIONS["roll"], 50.0)
    for name in ("max", "distance", "softmin_distance"):
        assert not is_sampling_unbiased(RELAXATIONS[name], 100.0)


def test_a_new_relaxation_registers_and_resolves_by_name():
    try:
        @register_relaxation("test_mean_sq", sampling_unbiased=True)
        def mean_sq(z, sq, *, C, gamma):
            return sq.mean(dim=1)

        assert get_relaxation("test_mean_sq") is mean_sq
        assert is_sampling_unbiased(mean_sq, 30.0)
        with pytest.raises(plnet.InvalidInputError, match="already registered"):
            register_relaxation("test_mean_sq")(mean_sq)
        register_relaxation("test_mean_sq", overwrite=True)(mean_sq)
    finally:
        RELAXATIONS.pop("test_mean_sq", None)


def test_bad_registrations_and_unknown_names_raise_plnet_errors():
    with pytest.raises(plnet.InvalidInputError, match="non-empty string"):
        register_relaxation("")
    with pytest.raises(plnet.InvalidInputError, match="needs a function"):
        register_relaxation("test_not_callable")(42)
    with pytest.raises(plnet.InvalidInputError, match="registered ones are"):
        get_relaxation("no-such-relaxation")
    assert "test_not_callable" not in RELAXATIONS
