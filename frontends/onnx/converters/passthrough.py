"""Identity, Dropout (inference), Cast (to float), Shape, Expand, Constant."""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.converters.broadcasting import expand_tensor
from plnet.frontends.onnx.tensor import BATCH_SENTINEL, Tensor
from plnet.frontends.onnx.registry import converter

#: ONNX TensorProto.DataType codes a tensor may be cast to without changing its values.
FLOAT_TYPES = {1: "FLOAT", 11: "DOUBLE"}


@converter("Identity")
def convert_identity(node):
    return node.input(0)


def dropout_trains(opset: int, attrs: dict, training_mode) -> bool:
    """Whether a Dropout node is in training mode (random), from its ``is_test`` attribute
    (opsets < 7) or its constant ``training_mode`` input (opsets >= 12; None if absent)."""
    if opset < 7:
        return attrs.get("is_test", 1) == 0
    return opset >= 12 and training_mode is not None and \
        bool(np.asarray(training_mode).ravel()[0])


def passes_through(proto, opset: int, constants: dict) -> bool:
    """Whether the ONNX node ``proto`` returns its input 0 unchanged (Identity, inference
    Dropout without its mask, Cast to float), judged from the file alone.

    ``constants`` maps value names to numpy arrays (initializers and Constant outputs); a
    Dropout whose ``training_mode`` depends on the input does not pass through.
    """
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}
    if proto.op_type == "Identity":
        return True
    if proto.op_type == "Cast":
        return attrs.get("to") in FLOAT_TYPES
    if proto.op_type != "Dropout" or any(proto.output[1:]):
        return False
    mode = proto.input[2] if len(proto.input) > 2 and proto.input[2] else None
    if mode is not None and mode not in constants:
        return False
    return not dropout_trains(opset, attrs, None if mode is None else constants[mode])


@converter("Dropout")
def convert_dropout(node):
    """Inference-mode Dropout is the identity; training mode is random and refused."""
    mode = node.const(2, "training_mode") if node.opset >= 12 and node.has_input(2) else None
    if dropout_trains(node.opset, node.attrs, mode):
        raise node.error("Dropout in training mode (training_mode=True) zeroes random "
                         "entries: the network is not deterministic, let alone piecewise "
                         "linear. Export the model in eval mode.")
    if len(node.proto.output) > 1 and any(node.proto.output[1:]):
        raise node.error("the mask output of Dropout is not supported (it is a constant "
                         "all-true mask in inference; remove it)")
    return node.input(0)


@converter("Cast")
def convert_cast(node):
    value = node.input(0)
    to = int(node.attr("to"))
    if isinstance(value, Tensor):
        if to not in FLOAT_TYPES:
            raise node.error(f"Cast of an input-dependent tensor to type {to} (not float or "
                             f"double) would round or truncate it, which is not piecewise "
                             f"linear; only casts to float/double are supported")
        return value
    from onnx import helper

    return np.asarray(value).astype(helper.tensor_dtype_to_np_dtype(to))


@converter("Shape")
def convert_shape(node):
    """The shape of a tensor; a symbolic batch becomes a stand-in value (see tensor.py)."""
    x = node.tensor(0)
    dims = [(1 if x.batch_one else BATCH_SENTINEL) if d is None else d
            for d in node.ctx.onnx_shape(x)]
    start = int(node.attr("start", 0))
    end = node.attr("end")
    return np.asarray(dims[slice(start, None if end is None else int(end))], dtype=np.int64)


@converter("Expand", opsets=(8, None))
def convert_expand(node):
    ctx = node.ctx
    x = node.tensor(0)
    target = [1 if d == BATCH_SENTINEL else int(d) for d in np.asarray(node.const(1)).ravel()]
    shape = [1 if d is None else d for d in ctx.onnx_shape(x)]
    try:
        out = list(np.broadcast_shapes(tuple(shape), tuple(target)))
    except ValueError:
        raise node.error(f"cannot expand {shape} to {target}", ShapeError) from None
    if x.batch_axis is not None and out[x.batch_axis + len(out) - len(shape)] != 1:
        x = ctx.unbatch(x, "an Expand of the batch axis", node.where)
    return expand_tensor(node, x, out)
