"""``nn.RNN`` with ReLU, unrolled over the example's sequence length with tied weights.

The module returns ``(output, h_n)``: ``output`` is every step of the last layer (batch
axis first when ``batch_first``, else second) and ``h_n`` the last step of each layer,
``[num_layers, B, H]`` (batch second). Both are available; what the model does not use
is pruned from the network.
"""

from __future__ import annotations

from torch import nn

from plnet.frontends.torch.registry import converts_module
from plnet.frontends.torch.values import TensorValue


def _check_supported(lower, module, hx):
    if module.nonlinearity != "relu":
        raise lower.not_pl(f"nn.RNN(nonlinearity={module.nonlinearity!r}) is not piecewise "
                           f"linear; use nonlinearity='relu'")
    if module.bidirectional:
        raise lower.unsupported("bidirectional nn.RNN is not supported (run two RNNs, one "
                                "on the reversed sequence, and concatenate)")
    if hx is not None:
        raise lower.unsupported("an initial hidden state argument is not supported: plnet "
                                "unrolls from h_0 = 0 (call self.rnn(x) without h_0)")
    if module.training and module.dropout > 0 and module.num_layers > 1:
        raise lower.unsupported(f"nn.RNN(dropout={module.dropout}) in training mode is "
                                f"random; call module.eval() before converting")


@converts_module(nn.RNN)
def convert_rnn(lower, node, module, x, hx=None):
    _check_supported(lower, module, hx)
    tv = lower.tensor(x, batch_first=False)
    expected = 0 if module.batch_first else 1
    shape = lower.shape(tv)
    if len(shape) != 2:
        raise lower.unsupported(f"nn.RNN needs a batched input of rank 3, got per-sample "
                                f"shape {shape} (unbatched sequences are not supported)")
    if tv.batch_axis != expected:
        layout = "[B, T, F]" if module.batch_first else "[T, B, F]"
        raise lower.unsupported(f"nn.RNN(batch_first={module.batch_first}) expects {layout}, "
                                f"but the batch axis of its input is at position "
                                f"{tv.batch_axis}; transpose the input (the network input "
                                f"itself must have the batch axis first)")
    b = lower.builder
    base = lower.node_name(node)
    steps, hidden = shape[0], module.hidden_size
    layer_in, last = tv.node, []
    for k in range(module.num_layers):
        def weight(kind, k=k):
            tensor = getattr(module, f"{kind}_l{k}", None)
            return lower.param(tensor, f"{node.target}.{kind}_l{k}")

        name = lower.fresh(f"{base}.l{k}")
        layer_in = b.rnn(layer_in, weight("weight_ih"), weight("weight_hh"),
                         weight("bias_ih"), weight("bias_hh"), "relu", name=name)
        last.append(f"{name}.h{steps - 1}")
    rows = [b.reshape(h, (1, hidden), name=lower.fresh(f"{base}.h_n{k}"))
            for k, h in enumerate(last)]
    h_n = b.concat(*rows, axis=0, name=lower.fresh(f"{base}.h_n"))
    return TensorValue(layer_in, expected), TensorValue(h_n, 1)
