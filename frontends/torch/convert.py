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

import copy
from typing import TYPE_CHECKING

import networkx as nx

from plnet.errors import InvalidInputError, UnsupportedOpError, require
from plnet.network import Network

if TYPE_CHECKING:  # torch loads inside the functions, so that importing plnet stays light
    import numpy.typing as npt
    import torch

    from plnet.sequence import SequenceModel


def _tracer_class():
    import torch.fx

    from plnet.frontends.torch.export import OpModule
    # importing the fx -> IR loop registers every converter, the interface ones included
    from plnet.frontends.torch.fx_to_ir import registry

    interface_converter = registry.interface_converter

    class PlnetTracer(torch.fx.Tracer):
        """Keeps ``torch.nn`` layers, modules converted by their interface (an Elman RNN)
        and plnet's own exported op modules as leaves."""

        def is_leaf_module(self, m, qualname):
            return (isinstance(m, OpModule) or super().is_leaf_module(m, qualname)
                    or interface_converter(m) is not None)

    return PlnetTracer


def trace(module: torch.nn.Module, examples: tuple | None = None) -> torch.fx.GraphModule:
    """Symbolically trace ``module`` into a ``torch.fx.GraphModule``.

    Args:
        module: the module.
        examples: for tracing at a concrete sequence length, the forward's inputs for two
            batch sizes (a tuple of input tuples): Python loops over sizes then unroll
            (:mod:`plnet.frontends.torch.concrete_trace`).

    Raises:
        UnsupportedOpError: fx cannot trace the module's forward.
    """
    import torch.fx

    from plnet.frontends.torch.concrete_trace import concrete_tracer, leaf_functions

    tracer_class = _tracer_class()
    if tracer_class().is_leaf_module(module, ""):
        # a bare layer: trace it as a call, so that its converter sees the module
        module = torch.nn.Sequential(module)
    if examples is not None:
        # the example runs use a copy: a layer in training mode (batch norm statistics)
        # must not change the user's module
        tracer_class = concrete_tracer(tracer_class, examples, copy.deepcopy(module))
    tracer = tracer_class()
    try:
        with leaf_functions(tracer):
            graph = tracer.trace(module, concrete_args=_defaults(module))
    except Exception as exc:  # fx raises many types; all mean "cannot trace this forward"
        loops = ("" if examples is not None else
                 "; a loop over the sequence length traces when converted as a sequence "
                 "model (from_torch(..., sequence_axis=1))")
        raise UnsupportedOpError(
            f"torch.fx cannot trace {type(module).__name__}.forward ({type(exc).__name__}: "
            f"{exc}); plnet needs a forward without data-dependent control flow (no "
            f"`if` on tensor values, no loops over the batch size){loops}") from exc
    return torch.fx.GraphModule(module, graph)


def _defaults(module) -> dict | None:
    """Optional forward arguments after the input, fixed at their defaults while tracing
    (so that ``if extra is None`` branches take the branch the module takes)."""
    import inspect

    params = list(inspect.signature(module.forward).parameters.values())[1:]
    fixed = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return fixed or None


def from_torch(module: torch.nn.Module, example_input: torch.Tensor | npt.ArrayLike, *,
               sequence_axis: int | None = None, check: bool = True, check_samples: int = 8,
               seed: int = 0, drop_trailing: bool = False) -> Network | SequenceModel:
    """Lower a piecewise-linear ``torch.nn.Module`` to a :class:`plnet.Network` (or, with
    ``sequence_axis``, to a :class:`plnet.sequence.SequenceModel` taking any length).

    Supported: ``nn.Sequential`` and custom ``forward`` with residual adds; Linear;
    Conv1d/2d (zero padding, 'same'/'valid'); ConvTranspose1d/2d (zero padding,
    ``output_size=`` given as constants); BatchNorm1d/2d in eval mode (folded into the
    Linear/Conv before it, else a scale/shift); ReLU, LeakyReLU, single-slope PReLU;
    AvgPool, AdaptiveAvgPool/AdaptiveMaxPool (any size), MaxPool; reductions (mean, sum,
    amax, max along a dim), maximum/minimum, interpolate, every padding mode, chunk/split/
    stack, expand/repeat (the full table is in the frontend's README); Flatten and
    the linear views (view, reshape, permute, transpose, squeeze, unsqueeze, indexing,
    cat); Dropout/Identity in eval mode; arithmetic with constants (input normalization);
    Elman RNNs (``nn.RNN`` with ReLU, any module with its attributes and a ReLU/LeakyReLU
    nonlinearity: several layers, bidirectional, an initial state), unrolled with tied
    weights; Python loops over sizes (``for t in range(x.shape[1])``), which are traced at
    the example's sizes.

    Args:
        module: the model. It is not modified.
        example_input: a batch ``[B, *input_shape]``; the network's per-sample input shape
            is ``example_input.shape[1:]`` (an RNN is unrolled over its sequence length).
            With ``sequence_axis``, a ``PackedSequence`` is accepted too (see
            :func:`plnet.frontends.torch.sequence.sequence_from_torch`).
        sequence_axis: None for a fixed-length network; else the time axis of the
            module's input (1: ``[B, T, ...]``, 0: ``[T, B, ...]``), and the result is a
            sequence model unrolled at any length.
        check: run the module (a float64 copy, eval mode) and the network on random inputs
            around the example, and raise :class:`plnet.ConversionMismatch` if they differ
            (a sequence model: at two or more lengths).
        check_samples: how many random inputs the check uses.
        seed: seed of the check's random inputs.
        drop_trailing: drop a final Softmax/LogSoftmax/Sigmoid (monotone, so it does not
            change the predicted class); recorded in ``net.graph.graph["dropped"]``.

    Returns:
        The network (float64 parameters, named after the module's state dict; parameters
        shared between layers, and an RNN's steps, are tied), or the sequence model.

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

    if not isinstance(module, torch.nn.Module):
        raise InvalidInputError(f"from_torch needs a torch.nn.Module, got "
                                f"{type(module).__name__}")
    if sequence_axis is not None:
        # late: sequence.py imports this module's tracing (a cycle at module level)
        from plnet.frontends.torch.sequence import sequence_from_torch

        return sequence_from_torch(module, example_input, sequence_axis=sequence_axis,
                                   check=check, check_samples=check_samples, seed=seed,
                                   drop_trailing=drop_trailing)
    example = torch.as_tensor(example_input)
    if example.ndim < 2 or example.shape[0] < 1:
        raise InvalidInputError(f"example_input has shape {tuple(example.shape)}; expected a "
                                f"batch [B, *input_shape] with B >= 1 and the batch first")
    gm = trace(module, examples=two_batches(example, module))
    net, output_fx = lower_traced(module, gm, tuple(example.shape[1:]), drop_trailing)
    if check:
        from plnet.frontends.torch.check import check_conversion

        check_conversion(module, gm, output_fx, net, example, check_samples, seed)
    return net


def two_batches(example: torch.Tensor, module: torch.nn.Module) -> tuple:
    """The inputs of a concrete trace: the example's samples as batches of 2 and 3, in the
    module's floating dtype."""
    dtype = parameter_dtype(module)
    if example.is_floating_point() and dtype is not None:
        example = example.to(dtype)
    rows = [example[[i % example.shape[0] for i in range(n)]] for n in (2, 3)]
    return ((rows[0],), (rows[1],))


def parameter_dtype(module: torch.nn.Module):
    """The dtype of the module's first floating parameter (None without one)."""
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def lower_traced(module, gm, input_shape, drop_trailing, input_value=None, extra_inputs=(),
                 output_batch_first=True):
    """Lower a traced module to a network; returns it and the fx node of its output.

    Args:
        input_value: what the first input stands for (default: the network input, batch
            first); ``extra_inputs`` for the forward's further required arguments.
        output_batch_first: require the output's batch axis first (else it is recorded as
            ``net.graph.graph["output_batch_axis"]``).
    """
    from plnet.frontends.torch.fx_to_ir import FxToIR

    output_fx, dropped = _output_node(gm, drop_trailing)
    lower = FxToIR(gm, gm.graph, input_shape,
                   input_name=getattr(module, "plnet_input_name", "input"))
    if input_value is not None:
        lower.input_value = input_value(lower.builder.input)
    lower.extra_inputs = list(extra_inputs)
    if output_fx is not _graph_output(gm).args[0]:
        lower.aliases[_graph_output(gm).args[0]] = output_fx
    lower.run()
    lower.node = output_fx
    tv = lower.tensor(lower.env[output_fx], what="output", batch_first=output_batch_first)
    for item in dropped:
        rank = len(lower.full_shape(tv))
        if item["dim"] is not None and int(item["dim"]) % rank == tv.batch_axis:
            raise UnsupportedOpError(f"the trailing {item['op']} acts along the batch axis "
                                     f"(dim={item['dim']}), so it mixes samples; it cannot "
                                     f"be dropped")
    net = _build(lower, tv.node)
    if dropped:
        net.graph.graph["dropped"] = dropped
    if not output_batch_first:
        net.graph.graph["output_batch_axis"] = tv.batch_axis
    return net, output_fx


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
