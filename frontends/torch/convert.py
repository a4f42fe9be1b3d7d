"""``from_torch``: a ``torch.nn.Module`` into a :class:`plnet.Network`.

Tracing uses ``torch.fx`` symbolic tracing rather than ``torch.export``: fx keeps
``torch.nn`` layers as leaf calls, so a converter sees the module itself (a batch norm's
``training`` flag and running statistics, a convolution's ``padding_mode``, an RNN's
``nonlinearity``) and can refuse what it cannot represent exactly, whereas ``torch.export``
decomposes layers into aten ops after functionalizing away exactly that information.
fx cannot trace data-dependent control flow; piecewise-linear classifiers rarely have it,
and the error says so when it happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from plnet.errors import InvalidInputError, UnsupportedOpError, require
from plnet.network import Network

if TYPE_CHECKING:  # torch loads inside the functions, so that importing plnet stays light
    import numpy.typing as npt
    import torch


def _tracer_class():
    import torch.fx

    from plnet.frontends.torch.export import OpModule

    class PlnetTracer(torch.fx.Tracer):
        """Keeps ``torch.nn`` layers and plnet's own exported op modules as leaves."""

        def is_leaf_module(self, m, qualname):
            return isinstance(m, OpModule) or super().is_leaf_module(m, qualname)

    return PlnetTracer


def trace(module: torch.nn.Module) -> torch.fx.GraphModule:
    """Symbolically trace ``module`` into a ``torch.fx.GraphModule``.

    Raises:
        UnsupportedOpError: fx cannot trace the module's forward.
    """
    import torch.fx

    tracer = _tracer_class()()
    if tracer.is_leaf_module(module, ""):
        # a bare layer: trace it as a call, so that its converter sees the module
        module = torch.nn.Sequential(module)
    try:
        graph = tracer.trace(module, concrete_args=_defaults(module))
    except Exception as exc:  # fx raises many types; all mean "cannot trace this forward"
        raise UnsupportedOpError(
            f"torch.fx cannot trace {type(module).__name__}.forward ({type(exc).__name__}: "
            f"{exc}); plnet needs a forward without data-dependent control flow (no "
            f"`if` on tensor values, no loops over tensor sizes that change)") from exc
    return torch.fx.GraphModule(module, graph)


def _defaults(module) -> dict | None:
    """Optional forward arguments after the input, fixed at their defaults while tracing
    (so that ``if extra is None`` branches take the branch the module takes)."""
    import inspect

    params = list(inspect.signature(module.forward).parameters.values())[1:]
    fixed = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return fixed or None


def from_torch(module: torch.nn.Module, example_input: torch.Tensor | npt.ArrayLike, *,
               check: bool = True, check_samples: int = 8, seed: int = 0,
               drop_trailing: bool = False) -> Network:
    """Lower a piecewise-linear ``torch.nn.Module`` to a :class:`plnet.Network`.

    Supported: ``nn.Sequential`` and custom ``forward`` with residual adds; Linear;
    Conv1d/2d (zero padding, 'same'/'valid'); ConvTranspose1d/2d (zero padding,
    ``output_size=`` given as constants); BatchNorm1d/2d in eval mode (folded into the
    Linear/Conv before it, else a scale/shift); ReLU, LeakyReLU, single-slope PReLU;
    AvgPool, AdaptiveAvgPool/AdaptiveMaxPool (any size), MaxPool; reductions (mean, sum,
    amax, max along a dim), maximum/minimum, interpolate, every padding mode, chunk/split/
    stack, expand/repeat (the full table is in the frontend's README); Flatten and
    the linear views (view, reshape, permute, transpose, squeeze, unsqueeze, indexing,
    cat); Dropout/Identity in eval mode; arithmetic with constants (input normalization);
    ``nn.RNN`` with ReLU, unrolled over the example's sequence length with tied weights.

    Args:
        module: the model. It is not modified.
        example_input: a batch ``[B, *input_shape]``; the network's per-sample input shape
            is ``example_input.shape[1:]`` (an RNN is unrolled over its sequence length).
        check: run the module (a float64 copy, eval mode) and the network on random inputs
            around the example, and raise :class:`plnet.ConversionMismatch` if they differ.
        check_samples: how many random inputs the check uses.
        seed: seed of the check's random inputs.
        drop_trailing: drop a final Softmax/LogSoftmax/Sigmoid (monotone, so it does not
            change the predicted class); recorded in ``net.graph.graph["dropped"]``.

    Returns:
        The network (float64 parameters, named after the module's state dict; parameters
        shared between layers, and an RNN's steps, are tied).

    Raises:
        InvalidInputError: ``module`` is not an ``nn.Module``, or ``example_input`` has no batch
        axis.
        NotPiecewiseLinearError: a layer or function is not piecewise linear.
        UnsupportedOpError: a layer, function or attribute plnet does not represent.
        ConversionMismatch: ``check`` found a difference.

    Example:
        >>> import torch
        >>> nn = torch.nn
        >>> module = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
        >>> net = plnet.from_torch(module, torch.zeros(1, 2))
        >>> net.input_shape, net.num_units
        ((2,), 2)
    """
    torch = require("torch", "torch", "plnet.from_torch")
    from plnet.frontends.torch.fx_to_ir import FxToIR

    if not isinstance(module, torch.nn.Module):
        raise InvalidInputError(f"from_torch needs a torch.nn.Module, got "
                                f"{type(module).__name__}")
    example = torch.as_tensor(example_input)
    if example.ndim < 2 or example.shape[0] < 1:
        raise InvalidInputError(f"example_input has shape {tuple(example.shape)}; expected a "
                                f"batch [B, *input_shape] with B >= 1 and the batch first")
    gm = trace(module)
    output_fx, dropped = _output_node(gm, drop_trailing)
    lower = FxToIR(gm, gm.graph, tuple(example.shape[1:]),
                     input_name=getattr(module, "plnet_input_name", "input"))
    if output_fx is not _graph_output(gm).args[0]:
        lower.aliases[_graph_output(gm).args[0]] = output_fx
    lower.run()
    lower.node = output_fx
    tv = lower.tensor(lower.env[output_fx], what="output")
    for item in dropped:
        rank = len(lower.full_shape(tv))
        if item["dim"] is not None and int(item["dim"]) % rank == 0:
            raise UnsupportedOpError(f"the trailing {item['op']} acts along the batch axis "
                                     f"(dim={item['dim']}), so it mixes samples; it cannot "
                                     f"be dropped")
    net = _build(lower, tv.node)
    if dropped:
        net.graph.graph["dropped"] = dropped
    if check:
        from plnet.frontends.torch.check import check_conversion

        check_conversion(module, gm, output_fx, net, example, check_samples, seed)
    return net


def _graph_output(gm):
    return next(n for n in gm.graph.nodes if n.op == "output")


def _output_node(gm, drop_trailing):
    """The fx node whose value is the network's output, and a record of what was dropped.

    With ``drop_trailing``, a final softmax/log-softmax/sigmoid is dropped, also when
    pass-through layers follow it (``nn.Identity``, dropout in eval mode or with p=0):
    those are removed from ``gm``'s graph (they are the identity, so the module computes
    the same) and recorded in the list before the op they follow.
    """
    import torch.nn.functional as F
    from torch import nn

    from plnet.frontends.torch.convert_activations import trailing_dim
    from plnet.frontends.torch.fx_to_ir import describe_target

    def passes_through(node) -> bool:
        if node.op == "call_module":
            module = gm.get_submodule(node.target)
            if isinstance(module, nn.Identity):
                return True
            dropout = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout,
                       nn.FeatureAlphaDropout)
            return isinstance(module, dropout) and (not module.training or module.p == 0)
        if node.op == "call_function" and node.target in (F.dropout, F.dropout1d,
                                                          F.dropout2d, F.alpha_dropout):
            p = node.kwargs.get("p", node.args[1] if len(node.args) > 1 else 0.5)
            training = node.kwargs.get("training", node.args[2] if len(node.args) > 2 else True)
            return training is False or p == 0
        return False

    result = _graph_output(gm).args[0]
    if isinstance(result, (tuple, list, dict)):
        raise UnsupportedOpError(f"the module returns a {type(result).__name__}; plnet "
                                 f"networks have one output tensor (return one)")
    if not hasattr(result, "op"):
        raise UnsupportedOpError("the module returns a constant, not a function of its input")
    if not drop_trailing:
        return result, []
    chain, node = [], result
    while passes_through(node) and hasattr(node.args[0], "op"):
        chain.append(node)
        node = node.args[0]
    found, dim = trailing_dim(gm, node)
    if not found:
        return result, []
    passed = [{"node": n.name, "op": describe_target(n, gm), "dim": None} for n in chain]
    for n in chain:  # identities: their users may read their input instead
        n.replace_all_uses_with(n.args[0])
        gm.graph.erase_node(n)
    gm.recompile()
    return node.args[0], passed + [{"node": node.name, "op": describe_target(node, gm),
                                    "dim": dim}]


def _build(lower, output: str) -> Network:
    """Keep only what the output depends on (unused RNN outputs, dead code)."""
    b = lower.builder
    keep = nx.ancestors(b.graph, output) | {output, b.input}
    graph = b.graph.subgraph(keep).copy()
    used = {p for n in graph for p in graph.nodes[n]["op"].param_names()}
    params = {k: v for k, v in b.params.items() if k in used}
    return Network(graph, params, output)
