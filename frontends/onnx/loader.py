"""``from_onnx``: an ONNX model to a :class:`plnet.Network`, checked against onnxruntime."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from plnet.builder import NetworkBuilder
from plnet.errors import (GraphError, InvalidInputError, NotPiecewiseLinearError, PlnetError,
                          ShapeError, UnsupportedOpError)
from plnet.frontends.onnx import folding, fusion, model_file
from plnet.frontends.onnx.context import ConversionContext, NodeContext
from plnet.frontends.onnx.registry import NONDETERMINISTIC, lookup
from plnet.frontends.onnx.sequence import (WHOLE_LENGTHS, dynamic_time_axis, length_inputs,
                                           sequence_from_onnx)
from plnet.frontends.onnx.tensor import Tensor
from plnet.network import Network
from plnet.ops import Reshape, Slice

if TYPE_CHECKING:  # onnx loads lazily, inside the functions that need it
    import onnx

    from plnet.sequence import SequenceModel

#: Output ops that ``drop_trailing=True`` removes: monotone, so the argmax is unchanged.
TRAILING_OPS = ("Softmax", "LogSoftmax", "Sigmoid")


def from_onnx(model: str | os.PathLike | bytes | onnx.ModelProto, *, batch_dim: int | None = 0, output: str | None = None,
              input_names: str | Sequence[str] | None = None, drop_trailing: bool = False, check: bool = True,
              check_samples: int = 8, seed: int = 0) -> Network | SequenceModel:
    """Convert an ONNX model into a :class:`plnet.Network`, or a
    :class:`plnet.sequence.SequenceModel` when the file's time axis is dynamic.

    A sequence model: the one symbolic input axis besides the batch is the time axis, the
    first axis of a sample (``[N, T, F]``; ``[T, N, F]`` with ``batch_dim=1``); the file is
    converted with it fixed at each length on demand (parameters tied by name), and
    checked against onnxruntime at two lengths (:mod:`plnet.frontends.onnx.sequence`).

    The network's input is the model's own input with its batch axis removed: its layout
    (NHWC stays NHWC) and per-sample shape are the file's. Any batch size works, even when
    the file fixes the batch at 1.

    Several inputs are joined into one flat input vector: each input, flattened in C order
    without its batch axis, in the order of ``input_names`` (default: the graph's inputs
    that the output depends on, in file order). ``net.graph.graph["onnx_inputs"]`` lists
    ``(name, offset, per-sample shape)`` for each.

    Args:
        model: a path, the file's bytes, or an ``onnx.ModelProto``.
        batch_dim: the ONNX axis of the batch in every input (0 by default), or None when
            the file's whole input shape is one sample (models without a batch axis).
        output: the graph output (or any intermediate value) to convert; required when
            the graph has several outputs.
        input_names: the inputs forming the network input, in order (see above).
        drop_trailing: remove a trailing Softmax/LogSoftmax/Sigmoid from the output, with
            the pass-through nodes after it (Identity, inference Dropout, Cast to float);
            the removed nodes are listed in ``net.graph.graph["dropped"]``, output first.
        check: run onnxruntime and the network on random inputs and compare.
        check_samples: how many random inputs the check uses.
        seed: seed of the check's random inputs.

    Returns:
        The network. ``net.graph.graph`` holds ``source``, ``onnx_output``, ``onnx_inputs``,
        ``dropped`` and ``output_batch_axis`` (the ONNX axis of the batch in the output,
        None when the output has none).

    Raises:
        InvalidInputError: ``batch_dim`` is neither an int nor None.
        SerializationError: unreadable bytes or initializers.
        UnsupportedOpError: an op, attribute or opset plnet cannot represent exactly
            (NotPiecewiseLinearError for sigmoid, tanh, softmax, ...).
        GraphError: several outputs and no ``output``, an undefined value, a constant output.
        ShapeError: inconsistent shapes.
        ConversionMismatch: the check found the network and onnxruntime disagree.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import onnx
        >>> onnx.save(plnet.to_onnx(net), "model.onnx")   # or from torch.onnx.export, tf2onnx...
        >>> plnet.from_onnx("model.onnx")(x)
        array([[0.5]])
    """
    proto, source = model_file.read_model(model)
    opset = model_file.default_opset(proto, source)
    if batch_dim is not None and not isinstance(batch_dim, (int, np.integer)):
        raise InvalidInputError(f"batch_dim must be an int or None, got {batch_dim!r}")
    consts = model_file.constants(proto, source)
    time = dynamic_time_axis(proto, consts, batch_dim, source)
    if time is not None:  # a dynamic time axis: a sequence model, converted per length
        options = dict(batch_dim=batch_dim, output=output, input_names=input_names,
                       drop_trailing=drop_trailing, check_samples=check_samples, seed=seed)
        # no scale/shift folding: at one length it can fold a shared bias into a layer's
        # own (an RNN of one step), which would untie it from the other lengths
        return sequence_from_onnx(
            proto, source, time,
            lambda fixed, checked, steps: convert_model(
                fixed, source, opset, consts, check=checked, fold=False,
                lengths={n: (t, steps) for n, t in length_inputs(proto).items()}, **options),
            check)
    return convert_model(proto, source, opset, consts, batch_dim=batch_dim, output=output,
                         input_names=input_names, drop_trailing=drop_trailing, check=check,
                         check_samples=check_samples, seed=seed)


def convert_model(proto, source, opset, consts, *, batch_dim, output, input_names,
                  drop_trailing, check, check_samples, seed, fold=True,
                  lengths=None) -> Network:
    """``from_onnx`` of a model without a dynamic time axis (``fold``: fold per-output
    scale/shifts into the layer before them; ``lengths``: RNN ``sequence_lens`` inputs
    -> (dtype, the length every sample has), fed to onnxruntime as such)."""
    lengths = lengths or {}
    consts = {**consts, **{name: WHOLE_LENGTHS for name in lengths}}
    graph_inputs = [v for v in proto.graph.input if v.name not in consts]
    out_name, dropped = _choose_output(proto, output, drop_trailing, source, opset, consts)

    known = set(consts) | {v.name for v in graph_inputs}
    nodes = model_file.needed_nodes(proto, out_name, known, source)
    specs = _input_specs(proto, graph_inputs, nodes, out_name, input_names, batch_dim, source)
    batch_one = all(s.batch_size == 1 for s in specs)

    builder, values = _network_inputs(specs, batch_one)
    double = any(np.dtype(s.dtype) == np.float64 for s in specs)
    ctx = ConversionContext(builder, opset, source, np.float64 if double else np.float32,
                            batch_size=specs[0].batch_size)
    ctx.values.update(consts)
    ctx.values.update(values)
    for node in nodes:
        try:
            _convert_node(node, ctx, opset)
        except NotPiecewiseLinearError as exc:
            hint = _intermediate_output_hint(proto, node, ctx, drop_trailing, opset, consts)
            raise NotPiecewiseLinearError(f"{exc} {hint}".rstrip()) from exc

    result = ctx.values[out_name]
    if not isinstance(result, Tensor):
        raise GraphError(f"{source}: the output {out_name!r} is a constant: it does not depend "
                         f"on the input, so it has no linear regions to certify")
    if batch_dim is None and result.batch_axis is not None:
        # the file's output has no batch axis either: give the network the file's shape
        result = ctx.unbatch(result, "the output", source)
    net = _finish(builder, result.node, fold)
    offsets = np.cumsum([0] + [math.prod(s.sample_shape) for s in specs])
    net.graph.graph.update(
        source=source, onnx_output=out_name, dropped=dropped,
        output_batch_axis=result.batch_axis, batch_dim=batch_dim,
        onnx_inputs=[(s.name, int(o), s.sample_shape) for s, o in zip(specs, offsets)])
    if check:
        from plnet.frontends.onnx.check import check_against_onnxruntime

        feeds = {name: (lambda size, dtype=dtype, steps=steps: np.full(size, steps, dtype))
                 for name, (dtype, steps) in lengths.items()}
        check_against_onnxruntime(proto, net, specs, out_name, result.batch_axis, source,
                                  samples=check_samples, seed=seed, extra_feeds=feeds)
    return net


def _choose_output(proto, output, drop_trailing, source, opset, consts):
    outputs = [o.name for o in proto.graph.output]
    if output is None:
        if len(outputs) != 1:
            raise GraphError(f"{source}: the graph has {len(outputs)} outputs {outputs}; choose "
                             f"one with output=<name>")
        output = outputs[0]
    producers = {name: node for node in proto.graph.node for name in node.output if name}
    if output not in producers and output not in {i.name for i in proto.graph.input}:
        raise GraphError(f"{source}: no value named {output!r}; graph outputs are {outputs}")
    if not drop_trailing:
        return output, []
    dropped = _trailing(producers, output, opset, consts)
    return (dropped[-1].input[0] if dropped else output), [
        {"op": node.op_type, "node": node.name or node.output[0]} for node in dropped]


def _trailing(producers, output, opset, consts) -> list:
    """The nodes ``drop_trailing`` removes from ``output`` back: each Softmax/LogSoftmax/
    Sigmoid with the pass-through nodes (Identity, inference Dropout, Cast to float) after
    it. Pass-throughs not followed by such an op stay."""
    from plnet.frontends.onnx.converters.passthrough import passes_through

    from onnx import numpy_helper

    known = dict(consts)
    for node in producers.values():
        tensors = [a.t for a in node.attribute if a.name == "value"]
        if node.op_type == "Constant" and tensors:
            known[node.output[0]] = numpy_helper.to_array(tensors[0])
    dropped, value = [], output
    while True:
        chain = []
        node = producers.get(value)
        while node is not None and passes_through(node, opset, known):
            chain.append(node)
            node = producers.get(node.input[0])
        if node is None or node.op_type not in TRAILING_OPS:
            return dropped
        dropped += chain + [node]
        value = node.input[0]


def _intermediate_output_hint(proto, node, ctx, drop_trailing, opset, consts) -> str:
    """What to do about a non-piecewise-linear node: drop it if it is trailing, else convert
    the network up to its input (the candidate intermediate output, named)."""
    graph_inputs = {v.name for v in proto.graph.input}
    producers = {name: n for n in proto.graph.node for name in n.output if name}
    if not drop_trailing:
        trailing = _trailing(producers, proto.graph.output[0].name, opset, consts) \
            if len(proto.graph.output) == 1 else []
        if any(n is node for n in trailing):
            return "It is the last op: load with drop_trailing=True."
    candidates = [name for name in node.input
                  if isinstance(ctx.values.get(name), Tensor) and name not in graph_inputs]
    text = ("It is not the last op, so drop_trailing=True cannot remove it."
            if node.op_type in TRAILING_OPS else "")
    if candidates:
        text += (f" To certify the network up to it, choose its input as an intermediate "
                 f"output: load with output={candidates[0]!r}.")
    return text.strip()


def _input_specs(proto, graph_inputs, nodes, out_name, input_names, batch_dim, source):
    used = {name for node in nodes for name in node.input} | {out_name}
    by_name = {v.name: v for v in graph_inputs}
    if input_names is None:
        names = [v.name for v in graph_inputs if v.name in used]
    else:
        names = [input_names] if isinstance(input_names, str) else list(input_names)
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise GraphError(f"{source}: input_names {unknown} are not graph inputs (inputs: "
                             f"{list(by_name)})")
        missing = [v.name for v in graph_inputs if v.name in used and v.name not in names]
        if missing:
            raise GraphError(f"{source}: the output needs inputs {missing}, which input_names "
                             f"leaves out")
    if not names:
        raise GraphError(f"{source}: the output {out_name!r} depends on no graph input")
    specs = [model_file.input_spec(by_name[n], batch_dim, source) for n in names]
    sizes = {s.batch_size for s in specs}
    if len(sizes) > 1:
        raise GraphError(f"{source}: the inputs declare different batch sizes "
                         f"{[(s.name, s.batch_size) for s in specs]} on axis {batch_dim}; "
                         f"pass batch_dim=None if the inputs have no batch axis")
    return specs


def _network_inputs(specs, batch_one):
    if len(specs) == 1:
        spec = specs[0]
        builder = NetworkBuilder(spec.sample_shape, input_name=_clean(spec.name))
        return builder, {spec.name: Tensor(builder.input, spec.batch_axis, batch_one)}
    total = sum(math.prod(s.sample_shape) for s in specs)
    builder = NetworkBuilder((total,), input_name="input")
    values, offset = {}, 0
    for spec in specs:
        size = math.prod(spec.sample_shape)
        part = builder.add_node(Slice(axis=0, start=offset, stop=offset + size), [builder.input],
                                name=f"{_clean(spec.name)}.slice")
        part = builder.add_node(Reshape(shape=spec.sample_shape), [part], name=_clean(spec.name))
        values[spec.name] = Tensor(part, spec.batch_axis, batch_one)
        offset += size
    return builder, values


def _clean(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_.:/-" else "_" for c in name) or "input"


def _convert_node(proto, ctx: ConversionContext, opset: int) -> None:
    node = NodeContext(proto, ctx, opset)
    if proto.domain not in model_file.DEFAULT_DOMAINS:
        raise UnsupportedOpError(f"{node.where}: op domain {proto.domain!r} is not supported "
                                 f"(only the default ONNX domain)")
    if proto.op_type in NONDETERMINISTIC:
        raise UnsupportedOpError(f"{node.where}: {proto.op_type} is random; a network must be "
                                 f"deterministic")
    for name in proto.input:
        if name and name not in ctx.values:
            raise GraphError(f"{node.where}: input {name!r} is not defined (missing "
                             f"initializer?)")
    _check_attributes(node)
    inputs = [ctx.values[n] for n in proto.input if n]
    try:
        if any(isinstance(v, Tensor) for v in inputs) or proto.op_type == "Dropout":
            results = lookup(proto.op_type, opset, node.where)(node)
        else:
            results = folding.fold(node, inputs)
    except (ShapeError, GraphError, InvalidInputError) as exc:
        if node.where in str(exc):
            raise
        raise type(exc)(f"{node.where}: {exc}") from exc
    except PlnetError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError,
            StopIteration, nx.NetworkXException) as exc:
        raise UnsupportedOpError(f"{node.where}: cannot be converted ({type(exc).__name__}: "
                                 f"{exc})") from exc
    if not isinstance(results, (list, tuple)):
        results = [results]
    for name, value in zip(proto.output, results):
        if name and value is not None:
            ctx.values[name] = value


def _check_attributes(node: NodeContext) -> None:
    """Refuse attributes the op's schema does not know: none may be silently ignored."""
    import onnx

    try:
        schema = onnx.defs.get_schema(node.op_type, node.opset, "")
    except onnx.defs.SchemaError:
        return  # an unknown op: the registry lookup reports it
    unknown = sorted(set(node.attrs) - set(schema.attributes))
    if unknown:
        raise UnsupportedOpError(f"{node.where}: attributes {unknown} are not part of "
                                 f"{node.op_type} at opset {node.opset} (known: "
                                 f"{sorted(schema.attributes)})")


def _finish(builder: NetworkBuilder, output: str, fold: bool = True) -> Network:
    """The network of the output's ancestors (converters may leave unused helper nodes), with
    per-output scale/shifts folded into the dense or conv layer before them."""
    keep = nx.ancestors(builder.graph, output) | {output}
    graph = builder.graph.subgraph(keep).copy()
    if builder.input not in graph:
        raise GraphError(f"the output {output!r} does not depend on the input")
    params = dict(builder.params)
    if fold:
        output = fusion.fold_scale_shifts(graph, params, builder.shapes, output)
    used = {p for n in graph for p in graph.nodes[n]["op"].param_names()}
    return Network(graph, {k: v for k, v in params.items() if k in used}, output)
