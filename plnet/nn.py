"""Piecewise-linear torch modules for training: a ReLU/LeakyReLU Elman RNN.

torch's ``nn.RNN`` offers tanh and ReLU only; the paper's speaker-identification model
(§5.2, Appendix H) is a LeakyReLU RNN with an orthogonal transition (scoRNN).
:class:`ElmanRNN` is that network with ``nn.RNN``'s attribute interface (parameter names,
``num_layers``, ``bidirectional``, ``batch_first``, ``nonlinearity``) plus
``negative_slope``, so that the torch frontend converts it as it converts ``nn.RNN``.

Importing this module needs torch (the ``torch`` extra).
"""

from __future__ import annotations

import math

from plnet.errors import InvalidInputError, ShapeError, require

torch = require("torch", "torch", "plnet.nn")
nn = torch.nn

NONLINEARITIES = ("relu", "leaky_relu")

#: LeakyReLU's slope for negative inputs when none is given (torch's default)
DEFAULT_NEGATIVE_SLOPE = 0.01


class ElmanRNN(nn.Module):
    """A multi-layer Elman RNN with a ReLU or LeakyReLU activation.

    Each layer computes ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` as
    ``torch.nn.RNN`` does, with ``act`` ReLU or LeakyReLU(``negative_slope``). The
    parameters, their names (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}``, with ``_reverse`` for the backward direction), their initialization
    (uniform in ``[-1/sqrt(H), 1/sqrt(H)]``), the input and output layouts and ``forward``'s
    signature are ``nn.RNN``'s: with ``nonlinearity="relu"`` the module computes what
    ``nn.RNN(nonlinearity="relu")`` with the same state dict computes.

    Args:
        input_size: F, features per time step.
        hidden_size: H.
        num_layers: stacked layers >= 1.
        nonlinearity: ``"leaky_relu"`` (default) or ``"relu"``.
        negative_slope: LeakyReLU's slope for negative inputs (0 for ``"relu"``).
        bias: learn ``b_ih`` and ``b_hh``.
        batch_first: inputs and outputs are ``[B, T, F]`` instead of ``[T, B, F]``.
        dropout: dropout on the outputs of every layer but the last, in training mode.
        bidirectional: also run each layer backwards in time and concatenate both.
        orthogonal: keep every hidden-to-hidden weight orthogonal during training
            (``torch.nn.utils.parametrizations.orthogonal``; the spirit of the paper's
            scoRNN). ``weight_hh_l{k}`` then reads the orthogonal matrix, and the state dict
            holds the parametrization's tensors under ``parametrizations.weight_hh_l{k}``.
        device, dtype: of the parameters.

    Example:
        >>> import torch
        >>> from plnet.nn import ElmanRNN
        >>> rnn = ElmanRNN(2, 3, nonlinearity="leaky_relu", batch_first=True)
        >>> out, h_n = rnn(torch.zeros(4, 5, 2))               # [B, T, F] in
        >>> tuple(out.shape), tuple(h_n.shape)
        ((4, 5, 3), (1, 4, 3))
        >>> sorted(name for name, _ in rnn.named_parameters())   # nn.RNN's names
        ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "leaky_relu", negative_slope: float | None = None,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, orthogonal: bool = False, device=None,
                 dtype=None):
        super().__init__()
        for key, value in (("input_size", input_size), ("hidden_size", hidden_size),
                           ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"ElmanRNN {key} must be an integer >= 1, got "
                                        f"{value!r}")
        if nonlinearity not in NONLINEARITIES:
            raise InvalidInputError(f"ElmanRNN nonlinearity {nonlinearity!r}: use one of "
                                    f"{NONLINEARITIES} (tanh is not piecewise linear)")
        if negative_slope is None:
            negative_slope = DEFAULT_NEGATIVE_SLOPE if nonlinearity == "leaky_relu" else 0.0
        if nonlinearity == "relu" and negative_slope != 0:
            raise InvalidInputError(f"ElmanRNN(nonlinearity='relu') has no negative slope, got "
                                    f"negative_slope={negative_slope!r}; use 'leaky_relu'")
        if not (isinstance(negative_slope, (int, float)) and math.isfinite(negative_slope)):
            raise InvalidInputError(f"ElmanRNN negative_slope must be a finite number, got "
                                    f"{negative_slope!r}")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise InvalidInputError(f"ElmanRNN dropout must lie in [0, 1), got {dropout!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.negative_slope = nonlinearity, float(negative_slope)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.orthogonal = bool(orthogonal)
        self.proj_size = 0  # nn.RNN's attribute; an Elman RNN has no projection
        factory = {"device": device, "dtype": dtype}
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for suffix in self.suffixes():
                shapes = {"weight_ih": (hidden_size, layer_in),
                          "weight_hh": (hidden_size, hidden_size)}
                if self.bias:
                    shapes.update(bias_ih=(hidden_size,), bias_hh=(hidden_size,))
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()
        if self.orthogonal:
            orthogonal_parametrization = nn.utils.parametrizations.orthogonal
            for layer in range(num_layers):
                for suffix in self.suffixes():
                    orthogonal_parametrization(self, f"weight_hh_l{layer}{suffix}")

    def suffixes(self) -> tuple[str, ...]:
        """The parameter-name suffix of each direction: ``("",)`` or ``("", "_reverse")``."""
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        """``nn.RNN``'s initialization: every weight uniform in ``[-1/sqrt(H), 1/sqrt(H)]``.

        An orthogonal hidden-to-hidden weight is set to the orthogonal matrix nearest such
        a draw (its parametrization's right inverse).
        """
        bound = 1.0 / math.sqrt(self.hidden_size)
        is_parametrized = nn.utils.parametrize.is_parametrized
        with torch.no_grad():
            for name in self._flat_weights_names:
                if is_parametrized(self, name):
                    setattr(self, name, torch.empty_like(getattr(self, name))
                            .uniform_(-bound, bound))
                else:
                    getattr(self, name).uniform_(-bound, bound)

    @property
    def all_weights(self) -> list[list[torch.Tensor]]:
        """Per layer and direction, ``[weight_ih, weight_hh, bias_ih, bias_hh]`` (as nn.RNN)."""
        kinds = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return [[getattr(self, f"{kind}_l{layer}{suffix}") for kind in kinds]
                for layer in range(self.num_layers) for suffix in self.suffixes()]

    def _activation(self, pre: torch.Tensor) -> torch.Tensor:
        if self.nonlinearity == "relu":
            return torch.relu(pre)
        return nn.functional.leaky_relu(pre, self.negative_slope)

    def _run_direction(self, x, h, layer: int, suffix: str, reverse: bool):
        """One layer in one direction over ``x [T, B, F]`` from ``h [B, H]``."""
        w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
        w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")  # parametrized: computed once
        pre_in = x @ w_ih.T  # every step's input projection in one product
        if self.bias:
            pre_in = (pre_in + getattr(self, f"bias_ih_l{layer}{suffix}")
                      + getattr(self, f"bias_hh_l{layer}{suffix}"))
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            h = self._activation(pre_in[t] + h @ w_hh.T)
            outputs[t] = h
        return torch.stack(outputs), h

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        """Run the RNN, as ``nn.RNN.forward``.

        Args:
            x: ``[T, B, F]`` (``[B, T, F]`` with ``batch_first``) or unbatched ``[T, F]``.
            h0: initial hidden states ``[num_layers * directions, B, H]`` (``[L * D, H]``
                unbatched); zeros when None.

        Returns:
            ``(output, h_n)``: the last layer's hidden states at every step
            ``[T, B, D * H]`` (``[B, T, D * H]`` with ``batch_first``), and every layer's
            and direction's final hidden state ``[num_layers * D, B, H]``.
        """
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise InvalidInputError("ElmanRNN takes padded tensors, not a PackedSequence; for "
                                    "variable-length training pass the sequences as a list to "
                                    "plnet.backends.torch.fit (batches are grouped by length)")
        if x.dim() not in (2, 3):
            raise ShapeError(f"ElmanRNN input must be [T, B, F], [B, T, F] (batch_first) or "
                             f"unbatched [T, F], got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"ElmanRNN input has {x.shape[-1]} features per step; expected "
                             f"input_size={self.input_size}")
        unbatched = x.dim() == 2
        x = x.unsqueeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        directions = len(self.suffixes())
        state_shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        if h0 is None:
            h0 = x.new_zeros(state_shape)
        else:
            h0 = h0.unsqueeze(1) if unbatched else h0
            if tuple(h0.shape) != state_shape:
                raise ShapeError(f"ElmanRNN h0 has shape {tuple(h0.shape)}; expected "
                                 f"{state_shape[:1] + state_shape[2:] if unbatched else state_shape}")
        finals, layer_in = [], x
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self.suffixes()):
                out, h_last = self._run_direction(layer_in, h0[layer * directions + d], layer,
                                                  suffix, reverse=d == 1)
                outs.append(out)
                finals.append(h_last)
            layer_in = torch.cat(outs, dim=2) if directions == 2 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = nn.functional.dropout(layer_in, self.dropout, training=True)
        h_n = torch.stack(finals)
        if unbatched:
            return layer_in.squeeze(1), h_n.squeeze(1)
        return (layer_in.transpose(0, 1) if self.batch_first else layer_in), h_n

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}", f"num_layers={self.num_layers}",
                 f"nonlinearity={self.nonlinearity!r}"]
        if self.nonlinearity == "leaky_relu":
            parts.append(f"negative_slope={self.negative_slope:g}")
        parts += [f"{key}=True" for key in ("batch_first", "bidirectional", "orthogonal")
                  if getattr(self, key)]
        if not self.bias:
            parts.append("bias=False")
        return ", ".join(parts)


__all__ = ["ElmanRNN"]
