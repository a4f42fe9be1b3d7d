"""fit on variable-length data: tied parameters, checkpoints, learning, and ROLL's margins."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.backends import torch as pt

torch = pytest.importorskip("torch")

SETTINGS = dict(epochs=6, lr=0.01, batch_size=16, seed=3, progress=False)


def sign_task(n, seed):
    """Sequences of lengths 3..8 (2 channels); the label says whether channel 0 sums > 0."""
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(int(t), 2)) for t in rng.integers(3, 9, size=n)]
    return xs, np.array([int(x[:, 0].sum() > 0) for x in xs])


@pytest.fixture(scope="module")
def task():
    return sign_task(240, seed=0), sign_task(120, seed=1)


@pytest.fixture(scope="module")
def trained(task, make_model):
    """The same model, data and seed trained without and with ROLL."""
    train, val = task
    model = make_model(features=2, hidden=8, classes=2)
    return {lam: pt.fit(model, train, val_data=val, lam=lam, C=1.0, **SETTINGS)
            for lam in (0.0, 0.5)}


def accuracy(model, data):
    xs, y = data
    return float((np.argmax(model(xs), axis=1) == y).mean())


def test_fit_learns_a_variable_length_task(trained, task):
    result = trained[0.0]
    assert isinstance(result.network, plnet.sequence.SequenceModel)
    assert accuracy(result.network, task[1]) > 0.85  # chance is about 0.5
    selected = result.history[result.best_epoch - 1]
    assert selected["val_accuracy"] == pytest.approx(accuracy(result.network, task[1]))
    assert selected["margin_points"] == len(task[1][0])


def test_roll_grows_the_median_margin_over_vanilla_on_the_same_seed(trained, task):
    xs = task[1][0]
    median = {lam: np.median(plnet.margin(r.network, xs, p=2)) for lam, r in trained.items()}
    assert median[0.5] > 2 * median[0.0]
    assert accuracy(trained[0.5].network, task[1]) > 0.75
    selected = trained[0.5].history[trained[0.5].best_epoch - 1]
    assert selected["margin_l2_p50"] == pytest.approx(median[0.5], rel=1e-3)


def test_one_step_at_one_length_changes_every_length_consistently(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    before = module(xs).detach().clone()
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    short = torch.as_tensor(np.stack([x for x in xs if len(x) == 2]))
    pt.roll_regularizer(module.at(2), short, C=1.0).backward()
    opt.step()
    after = module(xs).detach()
    trained = module.to_sequence_model()
    for i, x in enumerate(xs):
        assert not torch.allclose(after[i], before[i])  # the longer lengths moved too
        np.testing.assert_allclose(after[i].numpy(), trained.unroll(len(x))(x[None])[0],
                                   rtol=1e-12, atol=1e-12)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(task, make_model, tmp_path):
    train, _ = task
    model = make_model(features=2, hidden=4, classes=2)
    # Eq. 10 samples at most D axes of the shortest length the model accepts (1 step: 2)
    settings = dict(SETTINGS, lam=0.5, samples=2, eval_margins=False)
    whole = pt.fit(model, train, **dict(settings, epochs=2))
    pt.fit(model, train, checkpoint_dir=tmp_path, **dict(settings, epochs=1))
    resumed = pt.fit(model, train, checkpoint_dir=tmp_path, resume=True,
                     **dict(settings, epochs=2))
    for name, value in whole.last_module.to_sequence_model().params.items():
        np.testing.assert_array_equal(resumed.last_module.to_sequence_model().params[name],
                                      value)


def test_the_trained_model_saves_and_loads_with_its_ties(trained, task, tmp_path):
    model = trained[0.5].network
    model.save(tmp_path / "model.npz")
    loaded = plnet.load(tmp_path / "model.npz")
    xs = task[1][0][:10]
    np.testing.assert_array_equal(loaded(xs), model(xs))
    module = pt.compile(loaded)
    module.load_state_dict(trained[0.5].module.state_dict())
    torch.testing.assert_close(module(xs), trained[0.5].module(xs))


def test_a_padded_dataset_trains_exactly_as_the_list(task, make_model, pad):
    (xs, y), _ = task
    model = make_model(features=2, hidden=4, classes=2)
    settings = dict(SETTINGS, epochs=1, lam=0.5, eval_margins=False)
    x_pad, lengths = pad(xs[:60])
    a = pt.fit(model, (xs[:60], y[:60]), **settings)
    b = pt.fit(model, pt.SequenceData(x_pad, y[:60], lengths=lengths), **settings)
    torch.testing.assert_close(a.module.state_dict(), b.module.state_dict(), rtol=0, atol=0)
