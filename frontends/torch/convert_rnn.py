"""Elman RNNs (``nn.RNN`` with ReLU, and any module with its attribute interface) unrolled
over the traced sequence length with tied weights.

The module returns ``(output, h_n)``: ``output`` is every step of the last layer (batch
axis first when ``batch_first``, else second; ``[.., 2H]`` when bidirectional, forward
half first) and ``h_n`` the last step of each layer and direction, ``[L*D, B, H]`` (batch
second; the backward direction's last step is at time 0). Both are available; what the
model does not use is pruned from the network.

Besides ``torch.nn.RNN``, a module converts as an RNN when it has nn.RNN's attribute
interface (:func:`has_elman_interface`): ``weight_ih_l{k}``, ``weight_hh_l{k}``, optional
``bias_ih_l{k}``/``bias_hh_l{k}`` (``_reverse`` for the backward direction),
``num_layers``, ``bidirectional``, ``batch_first``, ``nonlinearity`` ('relu' or
'leaky_relu' with ``negative_slope``) and ``hidden_size``; such a module is a leaf while
tracing, so its own forward (a Python loop) is never traced.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from plnet.frontends.torch.registry import converts_interface, converts_module
from plnet.frontends.torch.values import (BatchConstant, PackedValue, TensorValue,
                                          is_tensor_like, to_numpy)

#: what a module needs to convert as an Elman RNN
ELMAN_ATTRIBUTES = ("num_layers", "bidirectional", "batch_first", "nonlinearity",
                    "hidden_size", "weight_ih_l0", "weight_hh_l0")
#: what a converted RNN's direction is called in parameter names
DIRECTIONS = ("", "_reverse")


def has_elman_interface(module: object) -> bool:
    """True when ``module`` exposes ``nn.RNN``'s attribute interface (see the module doc)."""
    return isinstance(module, nn.Module) and all(hasattr(module, a) for a in ELMAN_ATTRIBUTES)


def activation(module) -> tuple[str, float]:
    """``("relu", 0.0)`` or ``("leaky_relu", slope)``; tanh and others are refused by the
    caller through :func:`check_supported`."""
    kind = str(module.nonlinearity)
    slope = float(getattr(module, "negative_slope", 0.01)) if kind == "leaky_relu" else 0.0
    return kind, slope


def check_supported(lower, module) -> None:
    """Refuse RNN variants plnet does not represent exactly."""
    kind = str(module.nonlinearity)
    name = type(module).__name__
    if kind not in ("relu", "leaky_relu"):
        raise lower.not_pl(f"{name}(nonlinearity={kind!r}) is not piecewise linear; use "
                           f"nonlinearity='relu' (or a LeakyReLU Elman RNN such as "
                           f"plnet.nn.ElmanRNN)")
    if module.training and getattr(module, "dropout", 0) > 0 and module.num_layers > 1:
        raise lower.unsupported(f"{name}(dropout={module.dropout}) in training mode is "
                                f"random; call module.eval() before converting")
    if getattr(module, "proj_size", 0):
        raise lower.unsupported(f"{name}(proj_size={module.proj_size}) is not supported")


def initial_state(lower, hx, count: int, hidden: int) -> np.ndarray | None:
    """The initial state as a constant ``[count, H]`` (None: zeros)."""
    if hx is None:
        return None
    if isinstance(hx, BatchConstant):
        if hx.batch_axis != 1:
            raise lower.unsupported(f"the initial hidden state is broadcast along axis "
                                    f"{hx.batch_axis}; nn.RNN's is [L*D, B, H] (batch second)")
        value = hx.value
    elif is_tensor_like(hx):
        raise lower.unsupported("an initial hidden state computed from the input is not "
                                "supported; give a constant state (a buffer or parameter "
                                "[L*D, 1, H] expanded along the batch)")
    else:
        value = to_numpy(hx)
        if value.ndim == 3:
            if not (value == value[:, :1]).all():
                raise lower.unsupported("a constant initial hidden state must be the same for "
                                        "every sample (broadcast one [L*D, 1, H] state with "
                                        "expand)")
            value = value[:, 0]
    if value.shape != (count, hidden):
        raise lower.unsupported(f"the initial hidden state has shape {value.shape} per "
                                f"sample; expected ({count}, {hidden})")
    return value


def unroll_elman(lower, module, x_node: str, hx=None) -> tuple[str, str]:
    """Unroll ``module`` over per-sample input ``[T, F]``; returns ``(output, h_n)`` nodes
    (``[T, D*H]`` and ``[L*D, H]``). A constant initial state becomes parameters
    ``<module>.h0_l{k}[_reverse]`` (one row of it each)."""
    b = lower.builder
    base = lower.node_name()
    target = lower.node.target
    steps, hidden = b.shape(x_node)[0], int(module.hidden_size)
    dirs = 2 if module.bidirectional else 1
    h0 = initial_state(lower, hx, module.num_layers * dirs, hidden)
    kind, slope = activation(module)
    layer_in, last = x_node, []
    for k in range(module.num_layers):
        outs = []
        for d in range(dirs):
            suffix = DIRECTIONS[d]

            def weight(kind, k=k, suffix=suffix):
                return lower.param(getattr(module, f"{kind}_l{k}{suffix}", None),
                                   f"{target}.{kind}_l{k}{suffix}")

            state = None if h0 is None else lower.param(
                h0[k * dirs + d], f"{target}.h0_l{k}{suffix}", key=(module, hx))
            name = lower.fresh(f"{base}.l{k}{suffix}")
            outs.append(b.rnn(layer_in, weight("weight_ih"), weight("weight_hh"),
                              weight("bias_ih"), weight("bias_hh"), kind, slope, name=name,
                              reverse=bool(d), h0=state))
            last.append(f"{name}.h{0 if d else steps - 1}")
        layer_in = outs[0] if dirs == 1 else b.concat(*outs, axis=1,
                                                      name=lower.fresh(f"{base}.l{k}.out"))
    rows = [b.reshape(h, (1, hidden), name=lower.fresh(f"{base}.h_n{k}"))
            for k, h in enumerate(last)]
    h_n = b.concat(*rows, axis=0, name=lower.fresh(f"{base}.h_n"))
    return layer_in, h_n


@converts_module(nn.RNN)
@converts_interface(has_elman_interface)
def convert_rnn(lower, node, module, x, hx=None, h0=None):
    check_supported(lower, module)
    hx = h0 if hx is None else hx  # nn.RNN calls it hx; other Elman modules h0
    packed = isinstance(x, PackedValue)
    tv = lower.tensor(x.data if packed else x, batch_first=False)
    expected = 0 if module.batch_first else 1
    shape = lower.shape(tv)
    if len(shape) != 2:
        raise lower.unsupported(f"{type(module).__name__} needs a batched input of rank 3, "
                                f"got per-sample shape {shape} (unbatched sequences are not "
                                f"supported)")
    if packed:
        expected = tv.batch_axis  # a packed sequence has no layout of its own
    if tv.batch_axis != expected:
        layout = "[B, T, F]" if module.batch_first else "[T, B, F]"
        raise lower.unsupported(f"{type(module).__name__}(batch_first={module.batch_first}) "
                                f"expects {layout}, but the batch axis of its input is at "
                                f"position {tv.batch_axis}; transpose the input (the network "
                                f"input itself must have the batch axis first)")
    out, h_n = unroll_elman(lower, module, tv.node, hx)
    result = TensorValue(out, expected)
    return (PackedValue(result) if packed else result), TensorValue(h_n, 1)
