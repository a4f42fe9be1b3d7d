"""``to_onnx``: a :class:`plnet.Network` as an ONNX model with a dynamic batch axis."""

from __future__ import annotations

import numpy as np

from plnet.errors import InvalidInputError, UnsupportedOpError, require
from plnet.ops import (Add, AvgPool, Concat, Conv, Dense, Flatten, LeakyReLU, MaxPool, Pad, ReLU,
                       Reshape, ScaleShift, Slice, Take, Transpose)

#: Opset written when none is asked for (AveragePool's dilations need 19; from 18 on, Pad
#: carries an ``axes`` input, which keeps onnxruntime from fusing it wrongly into a MaxPool).
DEFAULT_OPSET = 18
MIN_EXPORT_OPSET = 13
BATCH = "N"


def to_onnx(net, opset: int | None = None, dtype: str = "float32"):
    """Export a network as an ``onnx.ModelProto``.

    The model's input and output have a dynamic batch axis ``N`` in front of the network's
    per-sample shapes. Every IR op is exported: Dense -> MatMul (+ Add), Conv/MaxPool/
    AveragePool with explicit pads, ScaleShift -> Mul/Add, Take -> Gather, n-ary Add -> Sum.
    Tied parameters share one initializer.

    Args:
        net: the network.
        opset: default-domain opset (13 or newer; default 18, or 19 when an average pool
            has a dilation).
        dtype: "float32" (default) or "float64" for the weights and the input.

    Returns:
        A model that passes ``onnx.checker.check_model`` and runs in onnxruntime.
    """
    onnx = require("onnx", "onnx", "Exporting to ONNX")
    from onnx import TensorProto, helper

    if dtype not in ("float32", "float64"):
        raise InvalidInputError(f"to_onnx dtype must be 'float32' or 'float64', got {dtype!r}")
    needs_19 = any(isinstance(net.op(n), AvgPool) and any(d != 1 for d in net.op(n).dilation)
                   for n in net.order)
    if opset is None:
        opset = 19 if needs_19 else DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if not MIN_EXPORT_OPSET <= opset <= newest:
        raise UnsupportedOpError(f"to_onnx: opset {opset} is outside {MIN_EXPORT_OPSET}.."
                                 f"{newest}")
    if needs_19 and opset < 19:
        raise UnsupportedOpError(f"to_onnx: an average pool with dilation needs opset >= 19, "
                                 f"asked for {opset}")
    writer = _Writer(net, np.dtype(dtype), opset)
    for name in net.order:
        writer.node(name)
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    graph = helper.make_graph(
        writer.nodes, "plnet",
        [helper.make_tensor_value_info(writer.names[net.input_name], elem,
                                       [BATCH, *net.input_shape])],
        [helper.make_tensor_value_info(writer.names[net.output], elem,
                                       [BATCH, *net.output_shape])],
        initializer=writer.initializers)
    model = helper.make_model(graph, producer_name="plnet",
                              opset_imports=[helper.make_opsetid("", opset)])
    # the oldest IR version that knows the opset: newer ones may be unknown to onnxruntime
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


class _Writer:
    """Emits ONNX nodes for IR nodes, one method per op family."""

    def __init__(self, net, dtype, opset):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.net, self.dtype, self.opset = net, dtype, opset
        self.nodes, self.initializers = [], []
        self.names: dict[str, str] = {}
        self._consts: dict[str, str] = {}

    def const(self, key: str, value, dtype=None) -> str:
        if key not in self._consts:
            name = f"c{len(self._consts)}:{key}"
            arr = np.asarray(value, dtype=dtype or self.dtype)
            self.initializers.append(self.numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return self._consts[key]

    def emit(self, op_type, inputs, out, **attrs):
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def node(self, name):
        net = self.net
        op = net.op(name)
        out = f"{name}"
        ins = [self.names[u] for u in net.inputs_of(name)]
        self.names[name] = out
        if name == net.input_name:
            return
        p = net.params
        if isinstance(op, Dense):
            y = self.emit("MatMul", [ins[0], self.const(f"{op.weight}.T", p[op.weight].T)],
                          out if op.bias is None else f"{out}.matmul")
            if op.bias is not None:
                self.emit("Add", [y, self.const(op.bias, p[op.bias])], out)
        elif isinstance(op, Conv):
            inputs = [ins[0], self.const(op.weight, p[op.weight])]
            if op.bias is not None:
                inputs.append(self.const(op.bias, p[op.bias]))
            self.emit("Conv", inputs, out, strides=list(op.stride), dilations=list(op.dilation),
                      pads=_pads(op.padding), group=op.groups,
                      kernel_shape=list(p[op.weight].shape[2:]))
        elif isinstance(op, (MaxPool, AvgPool)):
            self.pool(name, op, ins[0], out)
        elif isinstance(op, ScaleShift):
            y = ins[0]
            if op.scale is not None:
                y = self.emit("Mul", [y, self.const(op.scale, p[op.scale])],
                              out if op.shift is None else f"{out}.mul")
            if op.shift is not None:
                y = self.emit("Add", [y, self.const(op.shift, p[op.shift])], out)
            if y != out:
                self.emit("Identity", [y], out)
        elif isinstance(op, Flatten):
            self.emit("Flatten", ins, out, axis=1)
        elif isinstance(op, Reshape):
            self.emit("Reshape", [ins[0], self.const(f"shape{(-1, *op.shape)}",
                                                     [-1, *op.shape], np.int64)], out)
        elif isinstance(op, Transpose):
            self.emit("Transpose", ins, out, perm=[0] + [a + 1 for a in op.perm])
        elif isinstance(op, Slice):
            axis = op.axis % len(net.shapes[net.inputs_of(name)[0]]) + 1
            args = [op.start, op.stop, axis, op.step]
            self.emit("Slice", [ins[0]] + [self.const(f"i64[{v}]", [v], np.int64)
                                           for v in args], out)
        elif isinstance(op, Take):
            axis = op.axis % len(net.shapes[net.inputs_of(name)[0]]) + 1
            idx = list(op.indices) if op.keepdim else op.indices[0]
            self.emit("Gather", [ins[0], self.const(f"idx{idx}", idx, np.int64)], out, axis=axis)
        elif isinstance(op, Concat):
            axis = op.axis % len(net.shapes[name]) + 1
            self.emit("Concat", ins, out, axis=axis)
        elif isinstance(op, Pad):
            pads = [0] + [b for b, _ in op.pads] + [0] + [e for _, e in op.pads]
            self.pad(ins[0], pads, out)
        elif isinstance(op, Add):
            self.emit("Sum" if len(ins) > 2 else ("Add" if len(ins) == 2 else "Identity"),
                      ins, out)
        elif isinstance(op, LeakyReLU):
            self.emit("LeakyRelu", ins, out, alpha=float(op.alpha))
        elif isinstance(op, ReLU):
            self.emit("Relu", ins, out)
        else:
            raise UnsupportedOpError(f"to_onnx: node {name!r} has op {op.type_name}, which has "
                                     f"no ONNX export")


    def pad(self, x, pads, out, mode="constant"):
        """An ONNX Pad; from opset 18 with its ``axes`` input.

        onnxruntime's Pad_Fusion folds a zero Pad into a following MaxPool as if the padding
        were -inf, which changes the result; it leaves a Pad with ``axes`` alone.
        """
        inputs = [x, self.const(f"pads{pads}", pads, np.int64)]
        if self.opset >= 18:
            axes = list(range(len(pads) // 2))
            inputs += ["", self.const(f"axes{axes}", axes, np.int64)]
        return self.emit("Pad", inputs, out, mode=mode)

    def pool(self, name, op, x, out):
        """A pool in the form onnxruntime accepts and infers shapes for.

        ONNX's ceil_mode output size disagrees with torch's when the last window would start
        past the left padding, and onnxruntime wants pads smaller than the kernel. So the
        windows are written with ceil_mode=0 and end padding that yields exactly the IR's
        windows, padding beyond kernel - 1 goes into an explicit Pad, and an average pool
        divides by the full kernel and is rescaled to the IR's divisor.
        """
        from plnet.ops.windows import output_length

        in_shape = self.net.shapes[self.net.inputs_of(name)[0]]
        is_max = isinstance(op, MaxPool)
        begins, ends, explicit = [], [], []
        for length, k, s, (pb, pe), d in zip(in_shape[1:], op.kernel, op.stride, op.padding,
                                             op.dilation):
            n_out = output_length(length, k, s, pb, pe, d, op.ceil_mode)
            end = max(0, (n_out - 1) * s + d * (k - 1) + 1 - length - pb)
            begin_onnx, end_onnx = min(pb, k - 1), min(end, k - 1)
            if is_max and d != 1 and (pb > begin_onnx or end > end_onnx):
                raise UnsupportedOpError(f"to_onnx: max pool {name!r} has padding >= its kernel "
                                         f"and a dilation; onnxruntime has no such pool")
            begins.append(begin_onnx)
            ends.append(end_onnx)
            explicit.append((pb - begin_onnx, end - end_onnx))
        if any(b or e for b, e in explicit):
            pads = [0, 0] + [b for b, _ in explicit] + [0, 0] + [e for _, e in explicit]
            # a max never picks a repeated edge value it would not pick anyway (dilation 1)
            x = self.pad(x, pads, f"{out}.pad", mode="edge" if is_max else "constant")
        attrs = dict(kernel_shape=list(op.kernel), strides=list(op.stride),
                     pads=begins + ends, ceil_mode=0)
        if any(d != 1 for d in op.dilation):
            attrs["dilations"] = list(op.dilation)
        if is_max:
            self.emit("MaxPool", [x], out, **attrs)
            return
        _, divisor = op.table(in_shape)
        scale = float(np.prod(op.kernel)) / divisor
        pooled = f"{out}.sum" if not np.allclose(scale, 1.0, rtol=0, atol=0) else out
        self.emit("AveragePool", [x], pooled, count_include_pad=1, **attrs)
        if pooled != out:
            shape = (1,) + tuple(self.net.shapes[name][1:])
            self.emit("Mul", [pooled, self.const(f"{name}.divisor", scale.reshape(shape))], out)


def _pads(padding):
    return [b for b, _ in padding] + [e for _, e in padding]
