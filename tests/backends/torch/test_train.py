"""``fit``: determinism, exact resumption, model selection, data forms and targets."""

from __future__ import annotations

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")

from plnet.backends.torch import FitResult, compile, fit  # noqa: E402


def blobs(n=60, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.normal(0, 2.0, (classes, d))
    return centers[y] + rng.normal(0, 0.7, (n, d)), y


def quick(net, data, **kwargs):
    opts = dict(epochs=2, batch_size=16, progress=False, device="cpu", eval_margins=False,
                lr=0.01)
    opts.update(kwargs)
    return fit(net, data, **opts)


def params_of(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_params(a, b):
    pa, pb = params_of(a), params_of(b)
    assert pa.keys() == pb.keys()
    for k in pa:
        assert torch.equal(pa[k], pb[k]), k


def without_times(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "amsgrad"])
def test_the_same_seed_gives_identical_parameters(mlp_net, optimizer):
    data = blobs()
    runs = [quick(mlp_net, data, lam=0.5, samples=2, optimizer=optimizer, seed=7)
            for _ in range(2)]
    assert_same_params(runs[0].last_module, runs[1].last_module)
    other = quick(mlp_net, data, lam=0.5, samples=2, optimizer=optimizer, seed=8)
    assert any(not torch.equal(a, b) for a, b in zip(params_of(runs[0].last_module).values(),
                                                      params_of(other.last_module).values()))


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(mlp_net, tmp_path):
    data, val = blobs(), blobs(n=30, seed=1)
    opts = dict(val_data=val, lam=0.3, samples=3, seed=3, optimizer="sgd")
    full = quick(mlp_net, data, epochs=4, checkpoint_dir=tmp_path / "a", **opts)
    quick(mlp_net, data, epochs=2, checkpoint_dir=tmp_path / "b", **opts)
    resumed = quick(mlp_net, data, epochs=4, checkpoint_dir=tmp_path / "b", resume=True, **opts)
    assert_same_params(full.last_module, resumed.last_module)
    assert_same_params(full.module, resumed.module)
    assert without_times(full.history) == without_times(resumed.history)
    assert (full.best_epoch, full.best_score) == (resumed.best_epoch, resumed.best_score)


def test_resuming_with_other_trajectory_settings_is_refused(mlp_net, tmp_path):
    data = blobs()
    quick(mlp_net, data, epochs=1, checkpoint_dir=tmp_path, lam=0.1)
    with pytest.raises(plnet.InvalidInputError, match="lam"):
        quick(mlp_net, data, epochs=2, checkpoint_dir=tmp_path, lam=0.2, resume=True)


def test_resume_without_a_checkpoint_dir_is_refused(mlp_net):
    with pytest.raises(plnet.InvalidInputError, match="checkpoint_dir"):
        quick(mlp_net, blobs(), resume=True)


def test_a_corrupt_checkpoint_is_reported(mlp_net, tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(plnet.SerializationError, match="checkpoint"):
        quick(mlp_net, blobs(), checkpoint_dir=tmp_path, resume=True)


def test_the_selected_model_has_the_lowest_validation_loss(mlp_net):
    val = blobs(n=30, seed=1)
    result = quick(mlp_net, blobs(), val_data=val, epochs=5, lr=0.05)
    assert isinstance(result, FitResult)
    losses = [row["val_loss"] for row in result.history]
    assert result.best_epoch == 1 + int(np.argmin(losses))
    assert result.best_score == min(losses)
    logits = result.module(torch.tensor(val[0], dtype=torch.float32))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(val[1]))
    np.testing.assert_allclose(float(loss.detach()), result.best_score, rtol=1e-5)
    assert isinstance(result.network, plnet.Network)


def test_training_lowers_the_loss_and_learns_the_classes(mlp_net):
    result = quick(mlp_net, blobs(), epochs=15, lr=0.02)
    assert result.history[-1]["train_task_loss"] < 0.5 * result.history[0]["train_task_loss"]
    assert result.history[-1]["train_accuracy"] > 0.9


def test_a_binary_network_trains_with_bce_on_one_logit():
    rng = np.random.default_rng(0)
    b = plnet.NetworkBuilder((2,))
    h = b.relu(b.dense(b.input, rng.normal(size=(8, 2)), rng.normal(size=8) * 0.1))
    net = b.build(b.dense(h, rng.normal(size=(1, 8))))
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] > 0).astype(np.float32).reshape(-1, 1)  # [M, 1] labels are accepted
    result = quick(net, (X, y), epochs=20, lr=0.05)
    assert result.history[-1]["train_accuracy"] > 0.9
    logits = result.last_module(torch.tensor(X, dtype=torch.float32))[:, 0]
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.tensor(y[:, 0]))
    assert float(expected.detach()) < 0.5
    np.testing.assert_allclose(float(expected.detach()),
                               result.history[-1]["train_task_loss"], rtol=0.5)


def test_zero_epochs_returns_the_untrained_model(mlp_net):
    result = quick(mlp_net, blobs(), epochs=0)
    assert result.history == [] and result.best_epoch == 0
    reference = compile(mlp_net, device="cpu")
    assert_same_params(result.module, reference)


def test_a_dataloader_and_tensors_train_like_arrays(mlp_net):
    X, y = blobs()
    tensors = (torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    a = quick(mlp_net, (X, y), seed=1)
    b = quick(mlp_net, tensors, seed=1)
    assert_same_params(a.last_module, b.last_module)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors),
                                         batch_size=16, shuffle=True)
    c = quick(mlp_net, loader, val_data=loader, seed=1)
    d = quick(mlp_net, loader, val_data=loader, seed=1)
    assert_same_params(c.last_module, d.last_module)
    assert c.history[-1]["val_accuracy"] is not None


def test_a_compiled_module_is_trained_in_place(mlp_net):
    module = compile(mlp_net, device="cpu")
    before = params_of(module)
    result = quick(module, blobs())
    assert result.last_module is module
    assert any(not torch.equal(before[k], v) for k, v in params_of(module).items())


def test_a_custom_loss_callable_is_used(mlp_net):
    calls = []

    def loss(logits, y):
        calls.append(logits.shape)
        return torch.nn.functional.cross_entropy(logits, y)

    result = quick(mlp_net, blobs(), loss=loss, epochs=1)
    assert calls and result.history[0]["train_accuracy"] is None


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(optimizer="rmsprop"), plnet.InvalidInputError, "optimizer"),
    (dict(relaxation="nope", lam=1.0), plnet.InvalidInputError, "relaxation"),
    (dict(gamma=0), plnet.InvalidInputError, "gamma"),
    (dict(gamma=101), plnet.InvalidInputError, "gamma"),
    (dict(C=-0.5), plnet.InvalidInputError, "C "),
    (dict(samples=7), plnet.InvalidInputError, "samples"),
    (dict(samples=2, relaxation="max"), plnet.InvalidInputError, "samples"),
    (dict(lr=0.0), plnet.InvalidInputError, "lr"),
    (dict(lam=-1.0), plnet.InvalidInputError, "lam"),
    (dict(epochs=-1), plnet.InvalidInputError, "epochs"),
    (dict(batch_size=0), plnet.InvalidInputError, "batch_size"),
    (dict(loss="hinge"), plnet.InvalidInputError, "loss"),
    (dict(loss="bce"), plnet.InvalidInputError, "one output"),
])
def test_bad_options_raise_plnet_errors(mlp_net, kwargs, error, match):
    with pytest.raises(error, match=match):
        quick(mlp_net, blobs(), **kwargs)


@pytest.mark.parametrize("data, error, match", [
    ((np.zeros((10, 6)), np.zeros(9, int)), plnet.ShapeError, "same number of points"),
    ((np.zeros((10, 5)), np.zeros(10, int)), plnet.ShapeError, "expects"),
    ((np.full((10, 6), np.nan), np.zeros(10, int)), plnet.InvalidInputError, "NaN"),
    ((np.zeros((10, 6)), np.full(10, 3)), plnet.InvalidInputError, r"\[0, 2\]"),
    ((np.zeros((10, 6)), np.full(10, 0.5)), plnet.InvalidInputError, "integers"),
    ((np.zeros((0, 6)), np.zeros(0, int)), plnet.InvalidInputError, "empty"),
    ((np.zeros((10, 6)),), plnet.InvalidInputError, "pair"),
    (42, plnet.InvalidInputError, "DataLoader"),
])
def test_bad_data_raises_plnet_errors(mlp_net, data, error, match):
    with pytest.raises(error, match=match):
        quick(mlp_net, data)


def test_a_plain_torch_module_is_refused_with_a_hint():
    with pytest.raises(plnet.InvalidInputError, match="from_torch"):
        quick(torch.nn.Linear(2, 1), blobs(d=2))


def test_resuming_a_shuffling_dataloader_equals_an_uninterrupted_run(mlp_net, tmp_path):
    X, y = blobs()
    dataset = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32),
                                             torch.tensor(y))

    def loader():  # shuffles from torch's global RNG, which fit seeds and checkpoints
        return torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)

    full = quick(mlp_net, loader(), epochs=3, lam=0.2, checkpoint_dir=tmp_path / "a")
    quick(mlp_net, loader(), epochs=1, lam=0.2, checkpoint_dir=tmp_path / "b")
    resumed = quick(mlp_net, loader(), epochs=3, lam=0.2, checkpoint_dir=tmp_path / "b",
                    resume=True)
    assert_same_params(full.last_module, resumed.last_module)


def test_fit_trains_on_every_device(mlp_net, device):
    result = quick(mlp_net, blobs(), device=device, lam=0.2, samples=2, epochs=1)
    assert next(result.module.parameters()).device.type == device
    assert np.isfinite(result.history[0]["train_loss"])


def prelu_mlp(seed=0):
    """6 -> 8 (PReLU, one slope per unit) -> 7 (PReLU, one slope) -> 3."""
    rng = np.random.default_rng(seed)
    b = plnet.NetworkBuilder((6,))
    h = b.prelu(b.dense(b.input, rng.normal(0, 0.4, (8, 6)), rng.normal(0, 0.3, 8)),
                rng.choice([-0.5, 0.25, 1.5], 8), name="act1")
    h = b.prelu(b.dense(h, rng.normal(0, 0.4, (7, 8)), rng.normal(0, 0.3, 7)), 0.2, name="act2")
    return b.build(b.dense(h, rng.normal(0, 0.4, (3, 7))))


@pytest.mark.parametrize("samples", [None, 3])
def test_the_roll_loss_is_differentiable_in_prelu_slopes(samples):
    from plnet.backends.torch import roll_regularizer
    from plnet.backends.torch.fused import dense_chain

    module = compile(prelu_mlp(), device="cpu", dtype=torch.float64)
    assert dense_chain(module) is None  # per-unit slopes take the general engine
    x = torch.as_tensor(blobs(n=8)[0])
    # the units are pre-activations: act1's slopes shape the second layer's units and
    # their gradients, act2's only the output
    slopes = [module.param_tensors()[f"act{i}.slope"] for i in (1, 2)]
    assert all(isinstance(s, torch.nn.Parameter) for s in slopes)

    def loss():
        return roll_regularizer(module, x, C=1.0, samples=samples,
                                generator=torch.Generator().manual_seed(0))

    grads = torch.autograd.grad(loss(), slopes, allow_unused=True)
    assert torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0
    assert grads[1] is None
    # central differences along a random direction of the first layer's slopes
    direction, h = torch.randn(slopes[0].shape, dtype=torch.float64), 1e-6
    with torch.no_grad():
        slopes[0].add_(h * direction)
        up = loss()
        slopes[0].sub_(2 * h * direction)
        down = loss()
        slopes[0].add_(h * direction)
    assert float((up - down) / (2 * h)) == pytest.approx(float(grads[0] @ direction), rel=1e-5)


def test_fit_updates_prelu_slopes():
    net = prelu_mlp()
    result = quick(net, blobs(), epochs=2, lam=1.0)
    for name in ("act1.slope", "act2.slope"):
        assert result.network.params[name].shape == net.params[name].shape
        assert not np.allclose(result.network.params[name], net.params[name]), name
