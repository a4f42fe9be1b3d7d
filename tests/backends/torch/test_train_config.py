"""``FitConfig``: the keyword and config forms of ``fit`` agree, and settings are validated."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")

from plnet.backends.torch import fit  # noqa: E402
from plnet.backends.torch.train_config import (FIELD_GROUPS, DataConfig, FitConfig,  # noqa: E402
                                               OptimizationConfig, RollConfig, TrackingConfig)

QUIET = dict(progress=False, eval_margins=False)


def blobs(n=48, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.normal(0, 2.0, (classes, d))[y] + rng.normal(0, 0.7, (n, d)), y


def same_params(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_keyword_and_config_forms_train_identical_parameters(mlp_net):
    keywords = dict(lam=0.5, samples=2, optimizer="sgd", lr=0.02, epochs=2, batch_size=16,
                    seed=4, device="cpu", **QUIET)
    config = FitConfig(
        optimization=OptimizationConfig(optimizer="sgd", lr=0.02, epochs=2),
        roll=RollConfig(lam=0.5, samples=2),
        data=DataConfig(batch_size=16, seed=4, device="cpu"),
        tracking=TrackingConfig(progress=False, eval_margins=False))
    assert FitConfig.from_keywords(**keywords) == config
    by_keywords = fit(mlp_net, blobs(), **keywords)
    by_config = fit(mlp_net, blobs(), config=config)
    assert same_params(by_keywords.last_module, by_config.last_module)
    other_seed = fit(mlp_net, blobs(), config=config.replace(seed=5))
    assert not same_params(by_keywords.last_module, other_seed.last_module)


def test_keywords_override_the_fields_of_a_given_config(mlp_net):
    config = FitConfig.from_keywords(epochs=3, batch_size=16, device="cpu", **QUIET)
    result = fit(mlp_net, blobs(), config, epochs=1)
    assert len(result.history) == 1
    assert config.optimization.epochs == 3  # the config itself is left alone


def test_an_unknown_keyword_is_refused_with_the_valid_names(mlp_net):
    with pytest.raises(plnet.InvalidInputError, match="unknown fit setting") as info:
        fit(mlp_net, blobs(), learning_rate=0.1)
    assert "'learning_rate'" in str(info.value)
    for name in ("lr", "lam", "epochs", "checkpoint_dir", "margin_engine"):
        assert f"'{name}'" in str(info.value).split("valid names")[1]


def test_a_config_that_is_not_a_fitconfig_is_refused(mlp_net):
    with pytest.raises(plnet.InvalidInputError, match="FitConfig"):
        fit(mlp_net, blobs(), config={"lam": 1.0})
    with pytest.raises(plnet.InvalidInputError, match="RollConfig"):
        FitConfig(roll={"lam": 1.0})


@pytest.mark.parametrize("make, match", [
    (lambda: OptimizationConfig(lr=-0.1), "lr must be a finite number > 0"),
    (lambda: OptimizationConfig(lr=float("nan")), "lr"),
    (lambda: OptimizationConfig(optimizer="rmsprop"), "optimizer 'rmsprop'"),
    (lambda: OptimizationConfig(epochs=-1), "epochs must be an integer >= 0"),
    (lambda: OptimizationConfig(epochs=2.5), "epochs"),
    (lambda: OptimizationConfig(momentum=-1), "momentum"),
    (lambda: RollConfig(lam=True), "lam"),
    (lambda: RollConfig(gamma=0), "gamma"),
    (lambda: RollConfig(samples=0), "samples"),
    (lambda: RollConfig(relaxation="nope"), "relaxation"),
    (lambda: DataConfig(batch_size=0), "batch_size"),
    (lambda: DataConfig(loss="hinge"), "loss"),
    (lambda: DataConfig(device=0), "device"),
    (lambda: TrackingConfig(margin_points=0), "margin_points"),
    (lambda: TrackingConfig(margin_engine="exact"), "margin_engine"),
    (lambda: TrackingConfig(resume=True), "checkpoint_dir"),
    (lambda: TrackingConfig(progress="yes"), "progress"),
    (lambda: FitConfig().replace(lr=0), "lr"),
])
def test_invalid_settings_fail_when_the_config_is_made(make, match):
    with pytest.raises(plnet.InvalidInputError, match=match):
        make()


def test_the_config_is_frozen_and_normalizes_numbers():
    config = FitConfig.from_keywords(lr=1, lam=np.float32(0.5), epochs=np.int64(3))
    assert type(config.optimization.lr) is float and type(config.roll.lam) is float
    assert type(config.optimization.epochs) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.roll.lam = 2.0  # type: ignore[misc]
    assert FitConfig().optimization.learning_rate == 1e-3
    assert FitConfig.from_keywords(optimizer="sgd").optimization.learning_rate == 0.01


def test_the_checkpoint_stores_the_config_and_a_config_run_resumes(mlp_net, tmp_path):
    config = FitConfig.from_keywords(lam=0.3, samples=3, seed=3, optimizer="sgd", lr=0.01,
                                     batch_size=16, device="cpu", **QUIET)
    full = fit(mlp_net, blobs(), config.replace(epochs=3))
    ckpt = config.replace(checkpoint_dir=tmp_path)
    fit(mlp_net, blobs(), ckpt.replace(epochs=1))
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["config"] == ckpt.replace(epochs=1).to_dict()
    assert FitConfig.from_dict(state["config"]) == ckpt.replace(epochs=1, lr=0.01)
    resumed = fit(mlp_net, blobs(), ckpt.replace(epochs=3, resume=True))
    assert same_params(full.last_module, resumed.last_module)
    with pytest.raises(plnet.InvalidInputError, match="lam"):
        fit(mlp_net, blobs(), ckpt.replace(epochs=3, resume=True, lam=0.4))


def test_a_callable_is_stored_by_name_and_cannot_come_back_from_a_dict():
    def my_loss(logits, y):
        return torch.nn.functional.cross_entropy(logits, y)

    settings = FitConfig.from_keywords(loss=my_loss).to_dict()
    assert settings["loss"].startswith("callable:") and settings["loss"].endswith("my_loss")
    with pytest.raises(plnet.InvalidInputError, match="callables"):
        FitConfig.from_dict(settings)


def test_fit_shows_every_setting_in_its_signature():
    params = inspect.signature(fit).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    assert set(FIELD_GROUPS) <= set(params)
    for name, p in params.items():
        assert p.annotation is not inspect.Parameter.empty, name
    for name in FIELD_GROUPS:
        group = getattr(FitConfig(), FIELD_GROUPS[name])
        assert params[name].default == getattr(group, name), name
