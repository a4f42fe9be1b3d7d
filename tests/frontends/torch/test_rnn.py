"""``nn.RNN`` (ReLU) unrolled with tied weights, compared with torch (float64)."""

from __future__ import annotations

import itertools

import pytest

import plnet
from plnet.errors import NotPiecewiseLinearError, UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn


class SeqModel(nn.Module):
    """``out, h_n = rnn(x)`` followed by one of several ways of reading it."""

    def __init__(self, read, batch_first=True, num_layers=1, bias=True, features=3, hidden=4):
        super().__init__()
        self.read, self.batch_first = read, batch_first
        self.rnn = nn.RNN(features, hidden, num_layers=num_layers, nonlinearity="relu",
                          batch_first=batch_first, bias=bias)
        self.fc = nn.Linear(hidden, 2)

    def forward(self, x):
        if not self.batch_first:
            x = x.transpose(0, 1)  # the network input is [B, T, F]
        out, h_n = self.rnn(x)
        if self.read == "last_step":
            last = out[:, -1] if self.batch_first else out[-1]
            return self.fc(last)
        if self.read == "h_n":
            return self.fc(h_n[-1])
        if self.read == "h_n_squeezed":
            return self.fc(h_n.squeeze(0))
        if self.read == "sequence":
            seq = out if self.batch_first else out.permute(1, 0, 2)
            return self.fc(seq)
        raise AssertionError(self.read)


CASES = list(itertools.product(["last_step", "h_n", "sequence"], [True, False], [1, 2],
                               [True, False])) + [("h_n_squeezed", True, 1, True),
                                                  ("h_n_squeezed", False, 1, False)]


@pytest.mark.parametrize("read,batch_first,layers,bias", CASES)
def test_rnn_matches_torch(convert_and_compare, read, batch_first, layers, bias):
    model = SeqModel(read, batch_first, layers, bias)
    net = convert_and_compare(model, (5, 3))
    per_layer = 4 if bias else 2
    rnn_params = [p for p in net.params if p.startswith("rnn.")]
    assert len(rnn_params) == layers * per_layer  # tied: one set per layer, not per step
    assert net.num_units == layers * 5 * 4  # one ReLU per hidden unit per step per layer
    expected_out = (5, 2) if read == "sequence" else (2,)
    assert net.output_shape == expected_out


def test_rnn_unrolls_at_the_example_length(convert_and_compare):
    short = convert_and_compare(SeqModel("h_n"), (2, 3))
    long = convert_and_compare(SeqModel("h_n"), (7, 3))
    assert short.num_units == 2 * 4 and long.num_units == 7 * 4
    assert len(short.params) == len(long.params)


def test_every_step_uses_the_same_parameter_names():
    net = plnet.from_torch(SeqModel("last_step"), torch.randn(2, 4, 3))
    used = {}
    for node in net.order:
        op = net.op(node)
        if op.type_name == "dense" and node.startswith("rnn"):
            used.setdefault(op.weight, []).append(node)
    assert set(used) == {"rnn.weight_ih_l0", "rnn.weight_hh_l0"}
    assert len(used["rnn.weight_ih_l0"]) == 4 and len(used["rnn.weight_hh_l0"]) == 3


def test_sequential_rnn_output_is_unsupported_as_a_tuple():
    with pytest.raises(UnsupportedOpError):
        plnet.from_torch(nn.Sequential(nn.RNN(3, 4, nonlinearity="relu", batch_first=True)),
                         torch.randn(2, 5, 3))


def test_tanh_rnn_is_not_piecewise_linear():
    model = SeqModel("h_n")
    model.rnn = nn.RNN(3, 4, batch_first=True)
    with pytest.raises(NotPiecewiseLinearError, match="tanh"):
        plnet.from_torch(model, torch.randn(2, 5, 3))


@pytest.mark.parametrize("change,match", [
    (dict(dropout=0.5, num_layers=2), "training mode"),
])
def test_unsupported_rnn_variants_are_refused(change, match):
    model = SeqModel("h_n")
    model.rnn = nn.RNN(3, 4, nonlinearity="relu", batch_first=True, **change)
    with pytest.raises(UnsupportedOpError, match=match):
        plnet.from_torch(model.train(), torch.randn(2, 5, 3))


def test_sequence_first_rnn_on_a_batch_first_tensor_is_refused():
    class Wrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(3, 4, nonlinearity="relu")

        def forward(self, x):
            return self.rnn(x)[0][:, -1]

    with pytest.raises(UnsupportedOpError, match="batch_first=False"):
        plnet.from_torch(Wrong(), torch.randn(2, 5, 3))


def test_initial_hidden_state_computed_from_the_input_is_refused():
    class FromInput(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(3, 4, nonlinearity="relu", batch_first=True)
            self.enc = nn.Linear(3, 4)

        def forward(self, x):
            return self.rnn(x, self.enc(x[:, 0]).unsqueeze(0))[1][0]

    with pytest.raises(UnsupportedOpError, match="batch axis"):
        plnet.from_torch(FromInput(), torch.randn(2, 5, 3))
