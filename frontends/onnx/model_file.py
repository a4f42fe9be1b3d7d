"""Reading an ONNX model and the facts the loader needs from it: opset, constants, inputs."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from plnet.errors import (GraphError, InvalidInputError, SerializationError, ShapeError,
                          UnsupportedOpError)
from plnet.frontends.onnx.registry import MIN_OPSET

DEFAULT_DOMAINS = ("", "ai.onnx")
#: ONNX element types a network input may have (real numbers).
REAL_TYPES = {1: np.float32, 10: np.float16, 11: np.float64}


def read_model(model):
    """A ModelProto from a path, bytes or a ModelProto, and a name for messages."""
    onnx = _onnx()
    if isinstance(model, onnx.ModelProto):
        return model, f"ONNX model {model.graph.name or '(unnamed)'}"
    if isinstance(model, (bytes, bytearray, memoryview)):
        data, source = bytes(model), "ONNX bytes"
    elif isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
        try:
            with open(source, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise SerializationError(f"{source}: cannot read the file ({exc})") from None
    else:
        raise InvalidInputError(f"from_onnx takes a path, bytes or an onnx.ModelProto, got "
                                f"{type(model).__name__}")
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises DecodeError and others on corrupt bytes
        raise SerializationError(f"{source}: not a readable ONNX model ({type(exc).__name__}: "
                                 f"{exc})") from None
    _check_text(proto, source)
    if not proto.graph.node and not proto.graph.output:
        raise SerializationError(f"{source}: the ONNX model has an empty graph (truncated or "
                                 f"not an ONNX file?)")
    return proto, source


def _check_text(proto, source: str) -> None:
    """Names must be text: protobuf hands out bytes for strings that are not UTF-8."""
    graph = proto.graph
    texts = [o.domain for o in proto.opset_import]
    for node in graph.node:
        texts += [node.op_type, node.domain, node.name, *node.input, *node.output,
                  *(a.name for a in node.attribute)]
    for values in (graph.input, graph.output, graph.initializer):
        texts += [v.name for v in values]
    if any(not isinstance(t, str) for t in texts):
        raise SerializationError(f"{source}: the model holds names that are not valid UTF-8 "
                                 f"text; the file is corrupt")


def default_opset(proto, source: str) -> int:
    """The model's default-domain opset, checked against what plnet and onnx support."""
    onnx = _onnx()
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions:
        raise UnsupportedOpError(f"{source}: the model imports no default ONNX opset "
                                 f"(opset_import lists {[o.domain for o in proto.opset_import]})")
    opset, newest = int(versions[0]), onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise UnsupportedOpError(f"{source}: opset {opset} is not supported: plnet reads "
                                 f"opsets {MIN_OPSET} to {newest} (the newest the installed "
                                 f"onnx knows); convert the model with "
                                 f"onnx.version_converter.convert_version")
    return opset


def constants(proto, source: str) -> dict[str, np.ndarray]:
    """Initializers as numpy arrays."""
    from onnx import numpy_helper

    out = {}
    for init in proto.graph.initializer:
        try:
            out[init.name] = np.array(numpy_helper.to_array(init))
        except Exception as exc:
            raise SerializationError(f"{source}: initializer {init.name!r} cannot be read "
                                     f"({type(exc).__name__}: {exc}); the file may be corrupt "
                                     f"or its external data missing") from None
    if proto.graph.sparse_initializer:
        raise UnsupportedOpError(f"{source}: sparse initializers are not supported")
    return out


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One ONNX graph input that feeds the network.

    Attributes:
        name: the ONNX input name.
        dtype: numpy dtype onnxruntime expects.
        sample_shape: per-sample shape (the file's shape without the batch axis).
        batch_axis: ONNX axis of the batch, or None.
        batch_size: the file's batch size (None when symbolic or absent).
    """

    name: str
    dtype: type
    sample_shape: tuple[int, ...]
    batch_axis: int | None
    batch_size: int | None


def input_spec(value_info, batch_dim: int | None, source: str) -> InputSpec:
    """Parse a graph input's type and shape."""
    where = f"{source}: input {value_info.name!r}"
    ttype = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type"):
        raise UnsupportedOpError(f"{where} is not a tensor")
    if ttype.elem_type not in REAL_TYPES:
        raise UnsupportedOpError(f"{where} has ONNX element type {ttype.elem_type}; plnet "
                                 f"networks take real (float, float16, double) inputs")
    if not ttype.HasField("shape"):
        raise ShapeError(f"{where} has no declared shape; plnet needs fixed per-sample shapes")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in ttype.shape.dim]
    if batch_dim is not None:
        if not -len(dims) <= batch_dim < len(dims):
            raise ShapeError(f"{where} has shape {dims}, which has no axis {batch_dim} for the "
                             f"batch (batch_dim={batch_dim}); pass batch_dim=None if the whole "
                             f"input is one sample")
        batch_dim %= len(dims)
    sample = [d for i, d in enumerate(dims) if i != batch_dim]
    if any(d is None or d < 1 for d in sample):
        raise ShapeError(f"{where} has shape {_show(ttype.shape.dim)}: every axis but the batch "
                         f"(batch_dim={batch_dim}) needs a fixed positive size")
    batch = None if batch_dim is None else dims[batch_dim]
    if batch is not None and batch < 1:
        raise ShapeError(f"{where} has batch size {batch}")
    return InputSpec(value_info.name, REAL_TYPES[ttype.elem_type], tuple(sample), batch_dim,
                     batch)


def _show(dims):
    return [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in dims]


def needed_nodes(proto, output: str, known: set[str], source: str):
    """The nodes the output depends on, in an order where producers come first."""
    producer = {}
    for node in proto.graph.node:
        for name in node.output:
            if name:
                producer[name] = node
    order, state = [], {}
    stack = [(output, False)]
    while stack:
        value, done = stack.pop()
        if value in known and value not in producer:
            continue
        node = producer.get(value)
        if node is None:
            raise GraphError(f"{source}: value {value!r} is used but never defined: no node "
                             f"produces it and it is neither an input nor an initializer "
                             f"(a missing initializer?)")
        key = id(node)
        if done:
            if state.get(key) != "done":
                state[key] = "done"
                order.append(node)
            continue
        if state.get(key) == "done":
            continue
        if state.get(key) == "open":
            raise GraphError(f"{source}: the graph has a cycle through {value!r}")
        state[key] = "open"
        stack.append((value, True))
        for inp in node.input:
            if inp:
                if state.get(id(producer.get(inp))) == "open" and inp in producer:
                    raise GraphError(f"{source}: the graph has a cycle through {inp!r}")
                stack.append((inp, False))
    return order


def _onnx():
    from plnet.errors import require

    return require("onnx", "onnx", "Reading ONNX models")
