"""Recognising an Elman stack in a traced module, to give its sequence model a recipe.

A module whose traced graph is one Elman RNN (``nn.RNN`` or a module with its interface),
a readout of its outputs, and ``nn.Linear`` layers with ReLU/LeakyReLU between them, the
same graph at every checked length, is described by :func:`plnet.sequence.elman` (a
recipe that can be saved and exported to ONNX). The readout and the head's activations are
read off the graph as candidates, and a candidate is only kept when its networks equal the
traced networks at every checked length on random inputs, so a misread module keeps its
re-traced model instead of getting a wrong recipe.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import rnn as rnn_utils

from plnet.frontends.torch.registry import interface_converter
from plnet.tolerances import TORCH_CONVERSION_RTOL

#: fx call targets an Elman stack's graph may hold besides the RNN and the Linear layers
PASSIVE_FUNCTIONS = {operator.getitem, torch.cat, torch.squeeze, torch.relu, F.relu,
                     F.leaky_relu, torch.flatten, rnn_utils.pack_padded_sequence,
                     rnn_utils.pad_packed_sequence, getattr}
PASSIVE_METHODS = {"contiguous", "squeeze", "relu", "transpose", "permute", "flatten",
                   "__getitem__", "expand", "repeat", "size"}
PASSIVE_MODULES = (nn.ReLU, nn.LeakyReLU, nn.Identity, nn.Dropout, nn.Flatten)


def _signature(gm) -> list:
    return [(n.op, str(n.target), str(n.args), str(n.kwargs)) for n in gm.graph.nodes]


def _parts(gm):
    """``(rnn target, rnn module, [linear fx nodes])`` when the graph has only the ops of an
    Elman stack, else None."""
    rnn, linears = None, []
    for n in gm.graph.nodes:
        if n.op in ("placeholder", "output"):
            continue
        if n.op == "call_module":
            module = gm.get_submodule(n.target)
            if isinstance(module, nn.RNN) or interface_converter(module) is not None:
                if rnn is not None:
                    return None
                rnn = (n.target, module)
            elif isinstance(module, nn.Linear):
                linears.append(n)
            elif not isinstance(module, PASSIVE_MODULES):
                return None
        # get_attr (a constant initial state) is fine: the numeric check judges its use
        elif n.op == "call_function" and n.target not in PASSIVE_FUNCTIONS:
            return None
        elif n.op == "call_method" and n.target not in PASSIVE_METHODS:
            return None
    return None if rnn is None else (*rnn, linears)


def _activation_after(gm, node):
    """``(activation, alpha)`` applied to a Linear's output before anything else."""
    users = list(node.users)
    if len(users) != 1:
        return None, 0.01
    user = users[0]
    if user.op == "call_module":
        module = gm.get_submodule(user.target)
        if isinstance(module, nn.ReLU):
            return "relu", 0.01
        if isinstance(module, nn.LeakyReLU):
            return "leaky_relu", float(module.negative_slope)
    if user.target in (torch.relu, F.relu, "relu"):
        return "relu", 0.01
    if user.target is F.leaky_relu:
        slope = user.kwargs.get("negative_slope", user.args[1] if len(user.args) > 1 else 0.01)
        return "leaky_relu", float(slope)
    return None, 0.01


def elman_recipe(module, unroll, lengths):
    """A recipe model equal to the traced module at every length in ``lengths``, or None.

    Args:
        module: the torch module.
        unroll: the :class:`plnet.frontends.torch.sequence.TracedUnroll` of the module.
        lengths: the checked lengths (two at least).
    """
    from plnet.errors import PlnetError
    from plnet.frontends.torch.convert_rnn import activation
    from plnet.sequence import elman, torch_rnn_layers

    traced = [unroll.trace(t) for t in lengths]
    if len({str(_signature(gm)) for _, gm, _ in traced}) != 1:
        return None  # the graph depends on the length: keep re-tracing
    net0, gm, _ = traced[0]
    parts = _parts(gm)
    if parts is None:
        return None
    target, rnn, linears = parts
    params = {k: v for net, _, _ in traced for k, v in net.params.items()}
    kind, slope = activation(rnn)
    layers = torch_rnn_layers(
        int(rnn.num_layers), bidirectional=bool(rnn.bidirectional),
        bias=getattr(rnn, "bias_ih_l0", None) is not None, nonlinearity=kind,
        alpha=slope or 0.01, prefix=f"{target}.",
        initial_state=f"{target}.h0_l0" in params)
    head = []
    for node in linears:
        act, alpha = _activation_after(gm, node)
        bias = f"{node.target}.bias" if f"{node.target}.bias" in params else None
        head.append({"weight": f"{node.target}.weight", "bias": bias, "activation": act,
                     "alpha": alpha})
    rng = np.random.default_rng(0)
    for readout in ("last", "sequence", "h_n", "final"):
        try:
            model = elman(params, layers, readout, head)
            if all(_agree(model, net, t, rng) for t, (net, _, _) in zip(lengths, traced)):
                return model
        except PlnetError:
            continue
    return None


def _agree(model, net, steps, rng) -> bool:
    x = rng.standard_normal((4, steps) + model.feature_shape)
    got, want = model.unroll(steps)(x), net(x)
    if got.shape != want.shape:
        return False
    return float(np.abs(got - want).max()) <= TORCH_CONVERSION_RTOL * (1 + np.abs(want).max())
