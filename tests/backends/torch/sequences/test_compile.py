"""pt.compile of a sequence model: one shared parameter set, per-length networks on demand."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import plnet
from plnet.backends import torch as pt
from plnet.errors import InvalidInputError, ShapeError

torch = pytest.importorskip("torch")


def test_every_length_runs_on_the_one_shared_parameter_dict(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    module(xs)
    assert module.compiled_lengths == tuple(sorted(set(map(len, xs))))
    assert len(list(module.parameters())) == len(model.params)
    for length in module.compiled_lengths:
        compiled = module.at(length)
        assert compiled.params is module.params
        for name, tensor in compiled.param_tensors().items():
            assert tensor is module.param_tensors()[name]


def test_the_state_dict_does_not_depend_on_the_lengths_compiled(model, xs):
    fresh = pt.compile(model, dtype=torch.float64)
    used = pt.compile(model, dtype=torch.float64)
    used(xs)
    assert list(fresh.state_dict()) == list(used.state_dict())
    fresh.load_state_dict(used.state_dict())


def test_forward_gives_each_sample_its_lengths_output_in_input_order(model, xs, pad):
    module = pt.compile(model, dtype=torch.float64)
    out = module(xs).detach().numpy()
    for i, x in enumerate(xs):
        np.testing.assert_allclose(out[i], model.unroll(len(x))(x[None])[0], rtol=1e-12,
                                   atol=1e-12)
    x_pad, lengths = pad(xs)
    np.testing.assert_array_equal(module(x_pad, lengths).detach().numpy(), out)


def test_a_batch_of_one_length_is_a_plain_tensor(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    same = torch.as_tensor(np.stack([x for x in xs if len(x) == 5]))
    torch.testing.assert_close(module(same), module.at(5)(same))


def test_outputs_that_depend_on_the_length_come_back_as_a_list(make_model, xs):
    model = make_model(readout="sequence")
    out = pt.compile(model, dtype=torch.float64)(xs)
    assert isinstance(out, list) and [o.shape[0] for o in out] == [len(x) for x in xs]
    for o, x in zip(out, xs):
        np.testing.assert_allclose(o.detach().numpy(), model.unroll(len(x))(x[None])[0],
                                   rtol=1e-12, atol=1e-12)


def test_to_sequence_model_returns_the_modules_current_parameters(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(0.5)
    trained = module.to_sequence_model()
    assert isinstance(trained, plnet.sequence.SequenceModel)
    assert trained.recipe == model.recipe
    for name, value in model.params.items():
        np.testing.assert_array_equal(trained.params[name], value * 0.5)
    np.testing.assert_allclose(trained(xs), module(xs).detach().numpy(), rtol=1e-12)


def test_moving_the_module_recompiles_the_cached_lengths(model, xs):
    module = pt.compile(model, dtype=torch.float32)
    module(xs)
    module.to(torch.float64)
    assert module.at(5).dtype == torch.float64
    # the parameters were rounded to float32 once; from there on float64 throughout
    np.testing.assert_allclose(module(xs).detach().numpy(), module.to_sequence_model()(xs),
                               rtol=1e-12)


def test_a_deep_copy_has_its_own_parameters_and_no_cached_lengths(model, xs):
    module = pt.compile(model, dtype=torch.float64)
    module(xs)
    twin = copy.deepcopy(module)
    assert twin.compiled_lengths == ()
    assert twin.model is module.model  # immutable: shared, not copied length by length
    with torch.no_grad():
        next(twin.parameters()).zero_()
    assert not torch.equal(module(xs), twin(xs))
    assert all(c.params is twin.params for c in (twin.at(t) for t in (2, 5)))


@pytest.mark.parametrize("call, error, match", [
    (lambda m, xs: m([np.zeros((3, 4))]), ShapeError, r"per-step shape \(4,\)"),
    (lambda m, xs: m(xs, lengths=[2] * len(xs)), InvalidInputError, "padded"),
    (lambda m, xs: m(np.zeros((2, 4, 3)), lengths=[4, 9]), InvalidInputError, r"\[1, 4\]"),
    (lambda m, xs: m([]), InvalidInputError, "no sequences"),
    (lambda m, xs: m.at(0), plnet.PlnetError, "length"),
])
def test_bad_batches_are_refused_with_what_was_expected(model, xs, call, error, match):
    with pytest.raises(error, match=match):
        call(pt.compile(model, dtype=torch.float64), xs)


def test_a_length_outside_the_models_range_is_refused(make_model, xs):
    module = pt.compile(make_model(min_length=3, max_length=6), dtype=torch.float64)
    with pytest.raises(ShapeError, match="length 2"):
        module(xs)


def test_lengths_with_a_network_is_refused(model):
    net = pt.compile(model.unroll(3), dtype=torch.float64)
    with pytest.raises(InvalidInputError, match="lengths is for sequence models"):
        pt.margins(net, np.zeros((1, 3, 3)), lengths=[3])
