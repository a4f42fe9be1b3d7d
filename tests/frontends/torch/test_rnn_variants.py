"""Elman RNN variants: bidirectional, an initial state, modules with nn.RNN's interface."""

from __future__ import annotations

import itertools

import pytest

import plnet
from plnet.errors import NotPiecewiseLinearError, UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn


class Stack(nn.Module):
    """An nn.RNN (optionally with a constant initial state) and a Linear on the last step."""

    def __init__(self, batch_first=True, layers=2, bias=True, bidirectional=True,
                 h0=None, read="last"):
        super().__init__()
        dirs = 2 if bidirectional else 1
        self.rnn = nn.RNN(3, 4, layers, nonlinearity="relu", batch_first=batch_first,
                          bias=bias, bidirectional=bidirectional)
        self.fc = nn.Linear(4 * dirs, 2)
        self.batch_first, self.read, self.h0_mode = batch_first, read, h0
        self.register_buffer("h0", torch.randn(layers * dirs, 1, 4) if h0 else None)

    def forward(self, x):
        if not self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[0 if self.batch_first else 1]
        if self.h0_mode == "expand":
            out, h_n = self.rnn(x, self.h0.expand(-1, batch, -1).contiguous())
        elif self.h0_mode == "repeat":
            out, h_n = self.rnn(x, self.h0.repeat(1, batch, 1))
        else:
            out, h_n = self.rnn(x)
        if self.read == "h_n":
            return self.fc(torch.cat([h_n[-2], h_n[-1]], 1))
        return self.fc(out[:, -1] if self.batch_first else out[-1])


@pytest.mark.parametrize("batch_first,layers,bias",
                         list(itertools.product([True, False], [1, 2], [True, False])))
def test_bidirectional_rnn_matches_torch(convert_and_compare, batch_first, layers, bias):
    net = convert_and_compare(Stack(batch_first, layers, bias), (5, 3))
    assert net.num_units == 2 * layers * 5 * 4  # both directions, every step


def test_bidirectional_final_states_read_as_h_n_match_torch(convert_and_compare):
    convert_and_compare(Stack(read="h_n"), (4, 3))


@pytest.mark.parametrize("mode", ["expand", "repeat"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_constant_initial_state_matches_torch(convert_and_compare, mode, bidirectional):
    net = convert_and_compare(Stack(h0=mode, bidirectional=bidirectional), (4, 3))
    assert "rnn.h0_l1" in net.params  # a parameter of its own, trainable


class LeakyElman(nn.Module):
    """Not an nn.RNN, but with its attribute interface (a LeakyReLU Elman RNN)."""

    def __init__(self, features=3, hidden=4, num_layers=1, negative_slope=0.2):
        super().__init__()
        self.hidden_size, self.num_layers = hidden, num_layers
        self.bidirectional, self.batch_first = False, True
        self.nonlinearity, self.negative_slope = "leaky_relu", negative_slope
        for k in range(num_layers):
            fan_in = features if k == 0 else hidden
            setattr(self, f"weight_ih_l{k}", nn.Parameter(torch.randn(hidden, fan_in) / 2))
            setattr(self, f"weight_hh_l{k}", nn.Parameter(torch.randn(hidden, hidden) / 2))
            setattr(self, f"bias_ih_l{k}", nn.Parameter(torch.randn(hidden) / 2))
            setattr(self, f"bias_hh_l{k}", nn.Parameter(torch.randn(hidden) / 2))

    def forward(self, x, hx=None):
        finals = []
        for k in range(self.num_layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            b = getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}")
            h, outs = x.new_zeros(x.shape[0], self.hidden_size), []
            for t in range(x.shape[1]):
                h = nn.functional.leaky_relu(x[:, t] @ w_ih.T + h @ w_hh.T + b,
                                             self.negative_slope)
                outs.append(h)
            x = torch.stack(outs, 1)
            finals.append(h)
        return x, torch.stack(finals)


class OnLeaky(nn.Module):
    def __init__(self, orthogonal=False):
        super().__init__()
        self.rnn = LeakyElman(num_layers=2)
        if orthogonal:
            nn.utils.parametrizations.orthogonal(self.rnn, "weight_hh_l0")
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        out, h_n = self.rnn(x)
        return self.fc(out[:, -1])


@pytest.mark.parametrize("orthogonal", [False, True])
def test_module_with_the_rnn_interface_converts_as_an_elman_rnn(convert_and_compare,
                                                                 orthogonal):
    net = convert_and_compare(OnLeaky(orthogonal), (5, 3))
    kinds = {net.op(n).type_name for n in net.order}
    assert "leaky_relu" in kinds
    assert {"rnn.weight_hh_l0", "rnn.weight_hh_l1"} <= set(net.params)


@pytest.mark.parametrize("layer", [nn.RNN(3, 4, batch_first=True), nn.GRU(3, 4, batch_first=True),
                                   nn.LSTM(3, 4, batch_first=True)])
@pytest.mark.parametrize("sequence_axis", [None, 1])
def test_tanh_rnn_gru_and_lstm_are_not_piecewise_linear(layer, sequence_axis):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = layer

        def forward(self, x):
            return self.rnn(x)[0][:, -1]

    with pytest.raises(NotPiecewiseLinearError):
        plnet.from_torch(Model(), torch.randn(2, 4, 3), sequence_axis=sequence_axis)


def test_initial_state_that_differs_per_sample_is_refused():
    class PerSample(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(3, 4, nonlinearity="relu", batch_first=True)

        def forward(self, x):
            return self.rnn(x, torch.arange(8.0).reshape(1, 2, 4))[1][0]

    with pytest.raises(UnsupportedOpError, match="same for every sample"):
        plnet.from_torch(PerSample(), torch.randn(2, 5, 3))
