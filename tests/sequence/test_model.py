"""SequenceModel: unrolling per length on demand, tied arrays, with_params, save and load."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
import plnet.sequence as ps
from plnet.errors import GraphError, InvalidInputError, SerializationError, ShapeError


def test_every_length_shares_the_models_arrays(make_elman):
    model = make_elman(num_layers=2, bidirectional=True, initial_state=True)
    nets = [model.unroll(t) for t in (1, 3, 7)]
    for net in nets:
        assert set(net.params) <= set(model.params)
        for name, value in net.params.items():
            assert value is model.params[name]
            assert not value.flags.writeable
    assert model.unroll(3) is nets[1]  # cached


def test_lengths_outside_the_accepted_range_are_refused(make_elman):
    model = make_elman(min_length=2, max_length=5)
    with pytest.raises(ShapeError, match="length 6"):
        model.unroll(6)
    with pytest.raises(ShapeError, match=r"sample 1 has shape \(1, 3\).*2 <= T <= 5"):
        model([np.zeros((2, 3)), np.zeros((1, 3))])


def test_a_feature_shape_mismatch_names_the_sample(make_elman):
    model = make_elman()
    with pytest.raises(ShapeError, match=r"sample 2 has shape \(4, 2\); expected \[T, \*\(3,\)\]"):
        model([np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((4, 2))])


def test_with_params_keeps_the_structure_and_uses_the_new_arrays(make_elman, sequences):
    model = make_elman()
    xs = sequences([2, 5])
    w = model.params["fc.weight"] * 2.0
    trained = model.with_params({"fc.weight": w})
    assert trained.recipe == model.recipe
    np.testing.assert_array_equal(trained.unroll(5).params["fc.weight"], w)
    before = model(xs) - model.params["fc.bias"]
    np.testing.assert_allclose(trained(xs) - model.params["fc.bias"], 2 * before, rtol=1e-12)
    with pytest.raises(InvalidInputError, match="unknown parameter"):
        model.with_params({"nope": w})
    with pytest.raises(ShapeError, match="fc.weight"):
        model.with_params({"fc.weight": w[:1]})


def test_an_unroll_function_must_use_the_models_parameter_names():
    def unroll(t):
        b = plnet.NetworkBuilder((t, 2))
        return b.build(b.relu(b.dense(b.flatten(b.input), np.ones((1, 2 * t)))))

    model = ps.SequenceModel(unroll, {}, (2,))
    with pytest.raises(GraphError, match="does not hold"):
        model.unroll(2)


def test_a_model_from_a_function_runs_but_cannot_be_saved(tmp_path, sequences):
    w = np.array([[1.0, -1.0, 0.5]])

    def unroll(t):
        b = plnet.NetworkBuilder((t, 3))
        b.param("w", w)
        return b.build(b.relu(b.dense(b.input, "w")))

    model = ps.SequenceModel(unroll, {"w": w}, (3,))
    xs = sequences([2, 4])
    ys = model(xs)
    assert [y.shape for y in ys] == [(2, 1), (4, 1)]
    np.testing.assert_allclose(ys[1], np.maximum(xs[1] @ w.T, 0))
    with pytest.raises(SerializationError, match="no recipe"):
        model.save(tmp_path / "m.npz")


def test_save_and_load_keep_the_recipe_and_the_tied_arrays(make_elman, sequences, tmp_path):
    model = make_elman(num_layers=2, bidirectional=True, initial_state=True, max_length=9)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = plnet.load(path)
    assert isinstance(loaded, ps.SequenceModel)
    assert loaded.recipe == model.recipe and loaded.max_length == 9
    xs = sequences([1, 6, 3])
    np.testing.assert_array_equal(loaded(xs), model(xs))
    for t in (2, 6):
        for name, value in loaded.unroll(t).params.items():
            assert value is loaded.params[name]
    with pytest.raises(SerializationError, match="holds a sequence model, not a network"):
        plnet.Network.load(path)


def test_a_network_file_is_not_read_as_a_sequence_model(make_elman, tmp_path):
    path = tmp_path / "net.npz"
    make_elman().unroll(3).save(path)
    assert isinstance(plnet.load(path), plnet.Network)
    with pytest.raises(SerializationError, match="holds a network, not a sequence model"):
        ps.SequenceModel.load(path)


def test_an_unknown_recipe_kind_says_which_are_known(tmp_path):
    with pytest.raises(SerializationError, match="elman"):
        ps.SequenceModel.from_recipe({"kind": "lstm"}, {}, (3,))
