"""Forward cones in the stacked pass: each sampled axis's tangents on a window of a node's
grid (:mod:`plnet.backends.torch.cones`).

Networks on images large enough that the windows stay well inside the grid: the logits,
units and sampled squared norms must equal the numpy reference, every parameter gradient
the general engine's, and the windows must actually be used (no full-size rows).
"""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet import NetworkBuilder

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, cones, fused, get_relaxation, gradients, stacked  # noqa: E402,E501
from plnet.backends.torch.gradients import unit_gradient_norms  # noqa: E402
from plnet.backends.torch.losses import relaxation_terms  # noqa: E402
from plnet.backends.torch.lowerings import conv  # noqa: E402

TIGHT = dict(rtol=1e-10, atol=1e-11)


def _residual_pool_net(rng):
    """Convolutions (padding, stride, dilation, groups), PReLU, a scale, a residual add of
    two branches with different windows, an average pool with its divisor's border rule,
    LeakyReLU, flatten, dense."""
    b = NetworkBuilder((2, 20, 19))
    h = b.prelu(b.conv(b.input, rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4),
                       padding=1), rng.uniform(0.1, 0.3, size=(4, 1, 1)))
    h = b.scale_shift(h, rng.uniform(0.5, 1.5, size=(4, 1, 1)), rng.normal(size=(4, 1, 1)))
    skip = h
    h = b.relu(b.conv(h, rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), padding=2,
                      dilation=2, groups=2))
    h = b.add(b.conv(h, rng.normal(size=(4, 4, 1, 1)), rng.normal(size=4)), skip)
    h = b.avg_pool(h, 3, stride=2, padding=1, count_include_pad=False)
    h = b.leaky_relu(b.conv(h, rng.normal(size=(3, 4, 2, 2)), rng.normal(size=3),
                            stride=2), alpha=0.1)
    h = b.relu(b.dense(b.flatten(h), rng.normal(size=(6, int(np.prod(b.shape(h))))),
                       rng.normal(size=6)))
    return b.build(b.dense(h, rng.normal(size=(3, 6)), rng.normal(size=3)))


def _engine(module, x, axes):
    pattern, norms, _ = unit_gradient_norms(module, x, ("sq",), axes=axes,
                                            method="perturbation")
    return pattern.output, pattern.z, norms["sq"]


def _check(net, x, axes, scale=1.7):
    """The pass's terms against numpy, its parameter gradients against the engine's."""
    module = compile(net, device="cpu", dtype=torch.float64)
    xt, cols = torch.tensor(x), torch.tensor(axes)
    got = stacked.stacked_sampled_terms(module, xt, cols, scale)
    lin = plnet.linearize(net, x)
    np.testing.assert_allclose(got[0].detach().numpy(), lin.output, **TIGHT)
    np.testing.assert_allclose(got[1].detach().numpy(), lin.z, **TIGHT)
    expected = scale * (np.asarray(lin.grad)[:, :, axes] ** 2).sum(axis=2)
    np.testing.assert_allclose(got[2].detach().numpy(), expected, **TIGHT)
    ref_logits, ref_z, ref_sq = _engine(module, xt, cols)
    gen = torch.Generator().manual_seed(3)
    weights = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in got]
    params = list(module.parameters())

    def grads(terms):
        return torch.autograd.grad(sum((t * w).sum() for t, w in zip(terms, weights)), params,
                                   allow_unused=True)

    for a, b in zip(grads(got), grads((ref_logits, ref_z, scale * ref_sq))):
        if b is None:
            assert a is None or not bool(a.any())
        else:
            torch.testing.assert_close(a, b, **TIGHT)


@pytest.fixture
def calls(monkeypatch):
    """How many times the windows became full-size rows, and the dense layers that read
    windows."""
    seen = {"to_rows": 0, "dense_rows": 0}
    for name in seen:
        real = getattr(cones, name)

        def counted(*a, _real=real, _name=name):
            seen[_name] += 1
            return _real(*a)

        monkeypatch.setattr(cones, name, counted)
    return seen


# corners, edges, the middle and the second channel: windows clipped every way
AXES = [0, 18, 19 * 10 + 5, 379, 380, 380 + 19 * 19 + 18, 759]


@pytest.mark.parametrize("matrix_size", [0, 1 << 30], ids=["convolutions", "matrices"])
def test_windows_give_the_reference_terms_and_gradients(matrix_size, make_points, calls,
                                                        monkeypatch):
    """Every window convolution by torch's convolution, or by its window matrix."""
    monkeypatch.setattr(conv, "WINDOW_MATRIX_SIZE", matrix_size)
    net = _residual_pool_net(np.random.default_rng(5))
    _check(net, make_points(net, batch=3), AXES)
    assert calls == {"to_rows": 0, "dense_rows": 1}


@pytest.mark.parametrize("axes", [[0], [77], [759, 0, 150]])
def test_one_to_three_axes(axes, make_points, calls):
    net = _residual_pool_net(np.random.default_rng(6))
    _check(net, make_points(net, batch=2), axes)
    assert calls["to_rows"] == 0


def test_wide_windows_become_full_rows(make_points, calls, monkeypatch):
    """Past MAX_FRACTION of the grid the pass goes on with full-size rows: same terms."""
    monkeypatch.setattr(cones, "MAX_FRACTION", 0.05)
    net = _residual_pool_net(np.random.default_rng(7))
    _check(net, make_points(net, batch=2), AXES)
    assert calls["to_rows"] >= 1 and calls["dense_rows"] == 0


def test_an_op_without_a_rule_takes_full_rows(make_points, calls):
    """A max pool has no cone rule: the windows before it become full rows."""
    rng = np.random.default_rng(8)
    b = NetworkBuilder((1, 10, 10))
    h = b.relu(b.conv(b.input, rng.normal(size=(3, 1, 3, 3)), rng.normal(size=3)))
    h = b.max_pool(h, 2)
    net = b.build(b.dense(b.flatten(h), rng.normal(size=(2, 48))))
    _check(net, make_points(net, batch=2), [0, 45, 99])
    assert calls == {"to_rows": 1, "dense_rows": 0}


def test_shared_windows_reach_a_dense_layer(make_points, calls):
    """No pattern op before the dense layer: its tangents are shared by the points."""
    rng = np.random.default_rng(9)
    b = NetworkBuilder((2, 9, 9))
    h = b.conv(b.input, rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3), stride=2)
    h = b.relu(b.dense(b.flatten(h), rng.normal(size=(4, 48)), rng.normal(size=4)))
    net = b.build(b.dense(h, rng.normal(size=(2, 4))))
    _check(net, make_points(net, batch=3), [0, 40, 161])
    assert calls == {"to_rows": 0, "dense_rows": 1}


def test_a_convolutional_output(make_points, calls):
    """The output node is an image: the logits are the windows' forward rows."""
    rng = np.random.default_rng(10)
    b = NetworkBuilder((1, 11, 11))
    h = b.relu(b.conv(b.input, rng.normal(size=(2, 1, 3, 3)), rng.normal(size=2), padding=1))
    net = b.build(b.conv(h, rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2), stride=2))
    _check(net, make_points(net, batch=2), [0, 60, 120])
    assert calls == {"to_rows": 0, "dense_rows": 0}


def test_an_axis_no_output_reads(make_points, calls):
    """A 1 x 1 stride-2 convolution never reads odd rows: that axis's tangent is zero from
    there on (a window of exact zeros), the others' are not."""
    rng = np.random.default_rng(11)
    b = NetworkBuilder((1, 8, 8))
    h = b.relu(b.conv(b.input, rng.normal(size=(3, 1, 1, 1)), rng.normal(size=3), stride=2))
    h = b.relu(b.conv(h, rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2), padding=1))
    net = b.build(b.dense(b.flatten(h), rng.normal(size=(2, 32))))
    x = make_points(net, batch=2)
    _check(net, x, [9, 18])  # pixel (1, 1): odd; pixel (2, 2): read
    module = compile(net, device="cpu", dtype=torch.float64)
    _, _, sq = stacked.stacked_sampled_terms(module, torch.tensor(x), torch.tensor([9]))
    assert not bool(sq.any())


def test_any_number_of_axes_and_a_switch():
    module = compile(_residual_pool_net(np.random.default_rng(5)), dtype=torch.float64)
    assert cones.usable(module, 1) and cones.usable(module, module.input_size)
    assert not cones.usable(module, 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cones, "MAX_AXES", 0)
        assert not cones.usable(module, 1)


def test_exact_roll_on_images_takes_the_cones(make_points, calls):
    """samples=None: every input axis on its cone, equal to the perturbation engine's exact
    terms (values and parameter gradients of a ROLL loss)."""
    net = _residual_pool_net(np.random.default_rng(12))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=2))
    logits, z, sq = relaxation_terms(module, x, samples=None)
    assert calls["dense_rows"] == 1 and calls["to_rows"] == 0
    ref_logits, ref_z, ref_sq = _engine(module, x, None)
    roll = get_relaxation("roll")
    params = list(module.parameters())
    got = torch.autograd.grad(roll(z, sq, C=1.2).sum() + logits.sum(), params)
    expected = torch.autograd.grad(roll(ref_z, ref_sq, C=1.2).sum() + ref_logits.sum(), params)
    torch.testing.assert_close(sq, ref_sq, **TIGHT)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, **TIGHT)


def test_cones_past_the_budget_fall_back_and_are_not_tried_again(make_points, monkeypatch):
    """Windows that outgrow the engines' memory budget give up (None), the engines take
    over with the same terms, and the same batch size and number of axes skip the cones
    from then on."""
    net = _residual_pool_net(np.random.default_rng(13))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=2))
    expected = relaxation_terms(module, x, samples=None)
    attempts = []
    real = stacked.stacked_sampled_terms
    monkeypatch.setattr(stacked, "stacked_sampled_terms",
                        lambda *a, **k: attempts.append(k.get("with_cones")) or real(*a, **k))
    monkeypatch.setattr(gradients, "WORKSPACE_BYTES", 3_000_000)  # exact: ~10x that
    fresh = compile(net, device="cpu", dtype=torch.float64)
    for _ in range(2):
        got = relaxation_terms(fresh, x, samples=None)
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, **TIGHT)
    assert attempts == [True]
    assert fused.cone_terms(fresh, x, torch.tensor([0, 5])) is not None  # few axes fit


def test_an_op_past_the_budget_gives_up_before_allocating(make_points, monkeypatch):
    """All D axes reach a max pool (no cone rule): the full-size rows would pass the budget,
    so the pass gives up (None) inside the conversion, before its allocation."""
    rng = np.random.default_rng(8)
    b = NetworkBuilder((1, 10, 10))
    h = b.relu(b.conv(b.input, rng.normal(size=(3, 1, 3, 3)), rng.normal(size=3)))
    net = b.build(b.dense(b.flatten(b.max_pool(h, 2)), rng.normal(size=(2, 48))))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(net, batch=2))
    seen = []
    real = cones.to_rows
    monkeypatch.setattr(cones, "to_rows", lambda *a: seen.append("in") or real(*a))
    monkeypatch.setattr(torch.Tensor, "new_zeros", _refuse_large(torch.Tensor.new_zeros))
    axes = torch.arange(net.input_size)
    assert stacked.stacked_sampled_terms(module, x, axes, with_cones=True,
                                         budget=400_000) is None
    assert seen == ["in"]
    monkeypatch.undo()  # with room for the rows, the same pass completes
    assert stacked.stacked_sampled_terms(module, x, axes, with_cones=True,
                                         budget=10_000_000) is not None


def _refuse_large(new_zeros):
    """``Tensor.new_zeros`` that fails for more than 200 kB (the budget's half)."""
    def guarded(self, size, *args, **kwargs):
        if int(np.prod(size)) * self.element_size() > 200_000:
            raise AssertionError(f"allocated {tuple(size)} past the budget")
        return new_zeros(self, size, *args, **kwargs)
    return guarded
