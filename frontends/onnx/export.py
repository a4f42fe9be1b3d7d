"""``to_onnx``: a :class:`plnet.Network` as an ONNX model with a dynamic batch axis.

Each IR node is written by the exporter registered for its op type
(:mod:`plnet.frontends.onnx.export_registry`, families in ``exporters/``) through an
:class:`ExportContext`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import numpy as np

from plnet.errors import InvalidInputError, UnsupportedOpError, require
from plnet.frontends.onnx.export_registry import MIN_EXPORT_OPSET, lookup_exporter, min_opset

if TYPE_CHECKING:  # onnx loads lazily, inside to_onnx
    import onnx

    from plnet.network import Network
    from plnet.sequence import SequenceModel

#: Opset written when none is asked for (from 18 on, Pad carries an ``axes`` input, which
#: keeps onnxruntime from fusing it wrongly into a MaxPool); newer when an op needs it.
DEFAULT_OPSET = 18
BATCH = "N"


def to_onnx(net: Network | SequenceModel, opset: int | str | os.PathLike | None = None,
            dtype: str = "float32", *, path: str | os.PathLike | None = None) -> onnx.ModelProto:
    """Export a network (or a sequence model) as an ``onnx.ModelProto``.

    A :class:`plnet.sequence.SequenceModel` with an ``"elman"`` recipe is written with ONNX
    ``RNN`` nodes over a dynamic time axis, input ``[N, T, *F]``
    (:mod:`plnet.frontends.onnx.export_sequence`); ``opset`` does not apply to it. A path
    given (``path=``, or in place of ``opset``) receives the file too.

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

    Raises:
        UnsupportedOpError: an op without exporter, or an opset too old for an op.
        InvalidInputError: an unknown dtype.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> model = plnet.to_onnx(net)                   # an onnx.ModelProto
        >>> import onnxruntime
        >>> session = onnxruntime.InferenceSession(model.SerializeToString())
        >>> session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]
        array([[0.5]], dtype=float32)
    """
    onnx = require("onnx", "onnx", "Exporting to ONNX")
    if isinstance(opset, (str, os.PathLike)):
        opset, path = None, opset
    if dtype not in ("float32", "float64"):
        raise InvalidInputError(f"to_onnx dtype must be 'float32' or 'float64', got {dtype!r}")
    if hasattr(net, "unroll"):  # a sequence model
        from plnet.frontends.onnx.export_sequence import sequence_to_onnx

        model = sequence_to_onnx(net, dtype)
    else:
        model = _network_to_onnx(net, opset, dtype)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model


def _network_to_onnx(net, opset, dtype):
    import onnx
    from onnx import TensorProto, helper

    needs = {name: min_opset(net.op(name)) for name in net.order}
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        opset = max(DEFAULT_OPSET, *needs.values())
    if not MIN_EXPORT_OPSET <= opset <= newest:
        raise UnsupportedOpError(f"to_onnx: opset {opset} is outside {MIN_EXPORT_OPSET}.."
                                 f"{newest}")
    for name, needed in needs.items():
        if opset < needed:
            op = net.op(name)
            raise UnsupportedOpError(f"to_onnx: node {name!r} ({op.type_name}: "
                                     f"{op.describe()}) needs opset >= {needed}, asked for "
                                     f"{opset}")
    ctx = ExportContext(net, np.dtype(dtype), opset)
    for name in net.order:
        lookup_exporter(net.op(name), name)(ctx, ctx.node(name), net.op(name))
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    graph = helper.make_graph(
        ctx.nodes, "plnet",
        [helper.make_tensor_value_info(net.input_name, elem, [BATCH, *net.input_shape])],
        [helper.make_tensor_value_info(net.output, elem, [BATCH, *net.output_shape])],
        initializer=ctx.initializers)
    model = helper.make_model(graph, producer_name="plnet",
                              opset_imports=[helper.make_opsetid("", opset)])
    # the oldest IR version that knows the opset: newer ones may be unknown to onnxruntime
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


@dataclasses.dataclass(frozen=True)
class ExportNode:
    """One IR node as its exporter sees it.

    Attributes:
        name: the IR node's name.
        inputs: ONNX value names of its inputs, in slot order.
        output: the ONNX value name the exporter must produce (the node's name).
        in_shapes: per-sample shapes of its inputs.
        shape: its per-sample output shape.
    """

    name: str
    inputs: list[str]
    output: str
    in_shapes: list[tuple[int, ...]]
    shape: tuple[int, ...]


class ExportContext:
    """The ONNX graph being written: nodes, initializers, and what exporters need.

    Attributes:
        net: the network being exported.
        dtype: numpy dtype of the weights and activations.
        opset: the default-domain opset written.
        nodes: ONNX nodes so far, in order.
        initializers: ONNX initializers so far.
    """

    def __init__(self, net, dtype: np.dtype, opset: int):
        from onnx import helper, numpy_helper

        self._helper, self._numpy_helper = helper, numpy_helper
        self.net, self.dtype, self.opset = net, dtype, opset
        self.nodes: list = []
        self.initializers: list = []
        self._consts: dict[str, str] = {}

    def node(self, name: str) -> ExportNode:
        """The view of IR node ``name`` an exporter receives; values are named after nodes."""
        net = self.net
        inputs = list(net.inputs_of(name))
        return ExportNode(name, inputs, name, [net.shapes[u] for u in inputs], net.shapes[name])

    def const(self, key: str, value, dtype=None) -> str:
        """An initializer holding ``value`` (in the export dtype unless ``dtype``), shared
        by every request with the same ``key``; returns its name."""
        if key not in self._consts:
            name = f"c{len(self._consts)}:{key}"
            array = np.asarray(value, dtype=dtype or self.dtype)
            self.initializers.append(self._numpy_helper.from_array(array, name))
            self._consts[key] = name
        return self._consts[key]

    def param(self, name: str) -> str:
        """The initializer of network parameter ``name`` (one per parameter: ties stay)."""
        return self.const(name, self.net.params[name])

    def emit(self, op_type: str, inputs: list[str], out: str, **attrs) -> str:
        """Append an ONNX node ``op_type(inputs) -> out``; returns ``out``."""
        self.nodes.append(self._helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def pad(self, x: str, pads: list[int], out: str, mode: str = "constant") -> str:
        """An ONNX Pad (``pads`` over every ONNX axis); from opset 18 with its ``axes`` input.

        onnxruntime's Pad_Fusion folds a zero Pad into a following MaxPool as if the padding
        were -inf, which changes the result; it leaves a Pad with ``axes`` alone.
        """
        inputs = [x, self.const(f"pads{pads}", pads, np.int64)]
        if self.opset >= 18:
            axes = list(range(len(pads) // 2))
            inputs += ["", self.const(f"axes{axes}", axes, np.int64)]
        return self.emit("Pad", inputs, out, mode=mode)
