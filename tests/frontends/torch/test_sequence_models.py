"""from_torch(..., sequence_axis=...): sequence models equal to the module at every length."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.errors import InvalidInputError, UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn
rnn_utils = nn.utils.rnn

#: the sequence model and torch (float64) agree to this, relative
AGREE_RTOL = 1e-9
LENGTHS = (1, 3, 7, 12)


def _samples(seed=0, lengths=LENGTHS, features=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(t, features)) * 2 for t in lengths]


def _torch_each(module, samples, *, time_major=False, with_lengths=False):
    """The module on each sample alone (a batch of one)."""
    outs = []
    with torch.no_grad():
        for s in samples:
            x = torch.as_tensor(s)[None]
            x = x.transpose(0, 1) if time_major else x
            args = (x, torch.tensor([len(s)])) if with_lengths else (x,)
            out = module(*args)
            outs.append((out.transpose(0, 1) if time_major and out.ndim == 3 else out)[0])
    return outs


def _assert_each(model, module, samples, **kwargs):
    want = _torch_each(module, samples, **kwargs)
    got = model(samples)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w.numpy(), rtol=AGREE_RTOL, atol=AGREE_RTOL)


class Looping(nn.Module):
    """An Elman cell written by hand: a Python loop over the time axis."""

    def __init__(self):
        super().__init__()
        self.ih, self.hh, self.fc = nn.Linear(3, 5), nn.Linear(5, 5, bias=False), nn.Linear(5, 2)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], 5)
        for t in range(x.shape[1]):
            h = torch.relu(self.ih(x[:, t]) + self.hh(h))
        return self.fc(h)


def test_loop_over_the_time_axis_converts_and_matches_torch_at_every_length():
    module = Looping().double().eval()
    model = plnet.from_torch(module, torch.randn(2, 4, 3, dtype=torch.float64),
                             sequence_axis=1)
    _assert_each(model, module, _samples())
    assert model.recipe is None  # not an nn.RNN stack: re-traced at each length


def test_loop_module_parameters_are_tied_across_lengths():
    module = Looping().double().eval()
    model = plnet.from_torch(module, torch.randn(2, 4, 3, dtype=torch.float64),
                             sequence_axis=1)
    assert sorted(model.params) == ["fc.bias", "fc.weight", "hh.weight", "ih.bias", "ih.weight"]
    for length in (2, 9):
        net = model.unroll(length)
        assert all(net.params[k] is model.params[k] for k in net.params)


def test_loop_module_fixed_length_conversion_traces_too(convert_and_compare):
    net = convert_and_compare(Looping(), (6, 3))
    assert net.input_shape == (6, 3)


class Head(nn.Module):
    def __init__(self, read, batch_first=True, bidirectional=False, layers=2, bias=True,
                 h0=False):
        super().__init__()
        dirs = 2 if bidirectional else 1
        self.rnn = nn.RNN(3, 4, layers, nonlinearity="relu", batch_first=batch_first,
                          bidirectional=bidirectional, bias=bias)
        self.fc = nn.Linear(4 * dirs if read != "h_n" else 4, 6)
        self.out = nn.Linear(6, 2)
        self.read, self.batch_first = read, batch_first
        self.register_buffer("h0", torch.randn(layers * dirs, 1, 4) if h0 else None)

    def forward(self, x):
        hx = None
        if self.h0 is not None:
            hx = self.h0.expand(-1, x.shape[0 if self.batch_first else 1], -1).contiguous()
        out, h_n = self.rnn(x, hx)
        if self.read == "last":
            y = out[:, -1] if self.batch_first else out[-1]
        elif self.read == "h_n":
            y = h_n.transpose(0, 1)
        elif self.read == "final":
            y = torch.cat([h_n[-2], h_n[-1]], 1)
        else:
            y = out
        return self.out(torch.relu(self.fc(y)))


@pytest.mark.parametrize("read,batch_first,bidirectional,bias,h0", [
    ("last", True, False, True, False), ("last", False, True, False, True),
    ("final", True, True, True, False), ("h_n", True, False, True, True),
    ("sequence", True, True, True, False), ("sequence", False, False, True, False),
])
def test_rnn_stack_gets_the_elman_recipe_and_matches_torch(read, batch_first, bidirectional,
                                                           bias, h0):
    module = Head(read, batch_first, bidirectional, bias=bias, h0=h0).double().eval()
    example = torch.randn(2, 5, 3, dtype=torch.float64)
    axis = 1 if batch_first else 0
    model = plnet.from_torch(module, example if batch_first else example.transpose(0, 1),
                             sequence_axis=axis)
    assert model.recipe is not None and model.recipe["kind"] == "elman"
    assert model.recipe["readout"] == read
    _assert_each(model, module, _samples(1), time_major=not batch_first)


def test_rnn_stack_recipe_survives_save_and_load(tmp_path):
    module = Head("last", bidirectional=True, h0=True).double().eval()
    model = plnet.from_torch(module, torch.randn(2, 5, 3, dtype=torch.float64),
                             sequence_axis=1)
    model.save(tmp_path / "m.npz")
    loaded = plnet.load(tmp_path / "m.npz")
    samples = _samples(2)
    np.testing.assert_array_equal(loaded(samples), model(samples))


def test_length_dependent_module_gets_no_recipe():
    class Branching(Head):
        def forward(self, x):
            y = super().forward(x)
            return y * 2 if x.shape[1] > 5 else y

    module = Branching("last").double().eval()
    model = plnet.from_torch(module, torch.randn(2, 5, 3, dtype=torch.float64),
                             sequence_axis=1)
    assert model.recipe is None
    _assert_each(model, module, _samples(3, lengths=(2, 5, 6, 9)))


class PackInside(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4, 2, nonlinearity="relu", batch_first=True, bidirectional=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x, lengths):
        packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=True,
                                                enforce_sorted=False)
        _, h_n = self.rnn(packed)
        return self.fc(torch.cat([h_n[-2], h_n[-1]], 1))


def test_pack_padded_sequence_inside_the_module_gives_each_sample_alone():
    module = PackInside().double().eval()
    samples = _samples(4)
    padded = rnn_utils.pad_sequence([torch.as_tensor(s) for s in samples], batch_first=True)
    lengths = torch.tensor([len(s) for s in samples])
    model = plnet.from_torch(module, (padded, lengths), sequence_axis=1)
    with torch.no_grad():
        whole_batch = module(padded, lengths).numpy()  # torch on the padded batch
    np.testing.assert_allclose(model(samples), whole_batch, rtol=AGREE_RTOL, atol=AGREE_RTOL)
    _assert_each(model, module, samples, with_lengths=True)


class PackedInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4, nonlinearity="relu")
        self.fc = nn.Linear(4, 2)

    def forward(self, packed):
        out, h_n = self.rnn(packed)
        out, _ = rnn_utils.pad_packed_sequence(out, batch_first=True)
        return self.fc(out)


def test_packed_sequence_input_gives_each_sample_alone():
    module = PackedInput().double().eval()
    samples = _samples(5)
    packed = rnn_utils.pack_sequence([torch.as_tensor(s) for s in samples],
                                     enforce_sorted=False)
    model = plnet.from_torch(module, packed, sequence_axis=1)
    with torch.no_grad():
        padded = module(packed).numpy()
    for s, got, want in zip(samples, model(samples), padded):
        np.testing.assert_allclose(got, want[:len(s)], rtol=AGREE_RTOL, atol=AGREE_RTOL)


def test_loop_over_the_batch_size_is_refused_with_the_reason():
    class OverBatch(nn.Module):
        def forward(self, x):
            return sum(x[i] for i in range(x.shape[0]))

    with pytest.raises(UnsupportedOpError, match="batch size"):
        plnet.from_torch(OverBatch(), torch.randn(2, 4, 3), sequence_axis=1)


def test_time_axis_away_from_the_batch_is_refused():
    with pytest.raises(InvalidInputError, match="sequence_axis"):
        plnet.from_torch(Looping(), torch.randn(2, 3, 4), sequence_axis=2)


def test_conversion_check_runs_at_two_lengths_at_least():
    from plnet.frontends.torch.sequence import check_lengths

    assert check_lengths(_samples(lengths=(4, 4))) == [4, 5]
    assert check_lengths(_samples(lengths=(2, 6, 9))) == [2, 6, 9]


def test_condition_on_the_batch_size_is_refused_even_when_both_examples_agree():
    class BatchBranch(nn.Module):
        def forward(self, x):
            return x[:, 0] * 2 if x.shape[0] > 5 else x[:, 0]

    with pytest.raises(UnsupportedOpError, match="batch size"):
        plnet.from_torch(BatchBranch(), torch.randn(2, 4, 3), sequence_axis=1)


def test_loop_over_a_computed_tensors_length_converts_from_an_example_of_another_dtype(
        convert_and_compare):
    class LoopAfterLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.ih, self.hh = nn.Linear(3, 5), nn.Linear(5, 5)

        def forward(self, x):
            pre = self.ih(x)  # its shape is known only by running the layer
            h = pre.new_zeros(pre.shape[0], 5)
            for t in range(pre.shape[1]):
                h = torch.relu(pre[:, t] + self.hh(h))
            return h

    module = LoopAfterLayer().double().eval()
    net = plnet.from_torch(module, torch.randn(2, 5, 3))  # a float32 example
    assert net.input_shape == (5, 3)


def test_tracing_at_concrete_sizes_leaves_the_module_unchanged():
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).train()  # refused: training
    before = module[1].running_mean.clone()
    with pytest.raises(UnsupportedOpError):
        plnet.from_torch(module, torch.randn(4, 3) * 5)
    assert torch.equal(module[1].running_mean, before)
