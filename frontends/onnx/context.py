"""Conversion state shared by the converters: the IR under construction and the ONNX values.

Converters receive a :class:`NodeContext` for the ONNX node they lower. It reads inputs
(constants as numpy arrays, input-dependent values as :class:`Tensor`), parses attributes,
and emits IR nodes; its errors name the node, op, opset and file.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from plnet.builder import NetworkBuilder
from plnet.errors import NotPiecewiseLinearError, ShapeError, UnsupportedOpError
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import Op, Reshape, Transpose

Value = Any  # Tensor | np.ndarray


class ConversionContext:
    """The IR being built and every ONNX value seen so far.

    Attributes:
        builder: the :class:`NetworkBuilder` receiving IR nodes.
        values: ONNX value name -> Tensor or constant numpy array.
        opset: the model's default-domain opset.
        source: the file name (or a description) for messages.
        float_dtype: the precision the file computes in (float64 when an input is double,
            else float32); ops whose integer choices depend on rounding (nearest Resize)
            compute their constants in it, as onnxruntime does.
        batch_size: the batch size the file fixes on its inputs' batch axis (None when
            symbolic or absent); every batch axis of a value has this length in the file.
    """

    def __init__(self, builder: NetworkBuilder, opset: int, source: str,
                 float_dtype: type = np.float32, batch_size: int | None = None):
        self.builder = builder
        self.batch_size = batch_size
        self.values: dict[str, Value] = {}
        self.opset = opset
        self.source = source
        self.float_dtype = float_dtype

    def shape(self, x: Tensor) -> tuple[int, ...]:
        """Per-sample shape of a tensor."""
        return self.builder.shape(x.node)

    def onnx_shape(self, x: Tensor) -> list[int | None]:
        return x.onnx_shape(self.shape(x))

    def fresh_name(self, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.:/-]", "_", hint) or "node"
        name, i = base, 1
        while name in self.builder.graph:
            name, i = f"{base}_{i}", i + 1
        return name

    def emit(self, op: Op, inputs: Sequence[Tensor], hint: str, like: Tensor,
             batch_axis: int | None | str = "same") -> Tensor:
        """Add an IR node computing ``op`` and wrap it as a Tensor.

        ``like`` gives the batch flags; ``batch_axis`` overrides the axis ("same" keeps it).
        """
        node = self.builder.add_node(op, [t.node for t in inputs], self.fresh_name(hint))
        axis = like.batch_axis if batch_axis == "same" else batch_axis
        return Tensor(node, axis, like.batch_one if axis is not None else False)

    def param(self, hint: str, value: np.ndarray) -> str:
        """Store a parameter under a fresh name."""
        name = hint
        i = 1
        while name in self.builder.params:
            name, i = f"{hint}_{i}", i + 1
        return self.builder.param(name, np.asarray(value, dtype=np.float64))

    # --- batch-axis bookkeeping ------------------------------------------------------------
    def unbatch(self, x: Tensor, why: str, where: str) -> Tensor:
        """Fold a size-1 batch axis into the sample (the file fixes the batch at 1)."""
        if x.batch_axis is None:
            return x
        if not x.batch_one:
            raise UnsupportedOpError(
                f"{where}: {why} involves the batch axis (ONNX axis {x.batch_axis}), which the "
                f"file does not fix at size 1; plnet keeps samples independent. Export the "
                f"model with the batch axis left alone, pass batch_dim=<axis> if the batch is "
                f"on another input axis (an RNN's [T, N, F] input: batch_dim=1), or "
                f"batch_dim=None if the file's whole input is one sample.")
        shape = tuple(self.onnx_shape(x))  # the batch entry is 1 here
        return self.emit(Reshape(shape=shape), [x], f"{x.node}.unbatch", x, batch_axis=None)

    def as_batched(self, x: Tensor, axis: int, where: str, op: str) -> Tensor:
        """Treat ONNX axis ``axis`` of ``x`` as its batch axis (for ops that need one)."""
        if x.batch_axis == axis:
            return x
        if x.batch_axis is not None:
            x = self.unbatch(x, f"{op} (batch on ONNX axis {axis})", where)
        shape = self.shape(x)
        if axis >= len(shape) or shape[axis] != 1:
            raise ShapeError(
                f"{where}: {op} needs a batch axis at ONNX axis {axis}, but this tensor's ONNX "
                f"shape is {list(shape)} with no batch axis there (a size other than 1 would "
                f"mix several samples). Load with batch_dim=0 so that the file's batch axis "
                f"is the batch.")
        rest = shape[:axis] + shape[axis + 1:]
        out = self.emit(Reshape(shape=rest), [x], f"{x.node}.batch", x, batch_axis=axis)
        return Tensor(out.node, axis, True)  # the axis had size 1 in the file

    def align(self, xs: Sequence[Tensor], where: str, why: str) -> list[Tensor]:
        """Bring tensors to one batch layout so that elementwise ops can combine them."""
        axes = {x.batch_axis for x in xs}
        if len(axes) == 1:
            return list(xs)
        return [self.unbatch(x, why, where) for x in xs]

    def transpose(self, x: Tensor, onnx_perm: Sequence[int], where: str) -> Tensor:
        """ONNX Transpose of a tensor (the batch axis may move)."""
        perm = list(onnx_perm)
        rank = len(self.onnx_shape(x))
        if sorted(perm) != list(range(rank)):
            raise ShapeError(f"{where}: perm {perm} is not a permutation of the {rank} axes")
        if x.batch_axis is None:
            if perm == list(range(rank)):
                return x
            return self.emit(Transpose(perm=tuple(perm)), [x], f"{x.node}.T", x)
        new_axis = perm.index(x.batch_axis)
        sample_perm = [x.sample_axis(p) for p in perm if p != x.batch_axis]
        if sample_perm == list(range(rank - 1)):
            if new_axis == x.batch_axis:
                return x
            return Tensor(x.node, new_axis, x.batch_one)
        return self.emit(Transpose(perm=tuple(sample_perm)), [x], f"{x.node}.T", x,
                         batch_axis=new_axis)


class NodeContext:
    """One ONNX node being converted: its inputs, attributes, and error messages."""

    def __init__(self, proto, ctx: ConversionContext, opset: int):
        from onnx import helper

        self.proto = proto
        self.ctx = ctx
        self.opset = opset
        self.op_type = proto.op_type
        self.name = proto.name or (proto.output[0] if proto.output else "?")
        self.attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}

    @property
    def where(self) -> str:
        return (f"{self.ctx.source}: node {self.name!r} ({self.op_type}, opset "
                f"{self.opset})")

    def error(self, message: str, cls=UnsupportedOpError) -> Exception:
        return cls(f"{self.where}: {message}")

    def attr(self, name: str, default=None):
        value = self.attrs.get(name, default)
        if isinstance(value, bytes):
            return value.decode()
        return value

    def has_input(self, i: int) -> bool:
        return i < len(self.proto.input) and self.proto.input[i] != ""

    def input(self, i: int) -> Value:
        if not self.has_input(i):
            raise self.error(f"input {i} is missing", ShapeError)
        return self.ctx.values[self.proto.input[i]]

    def product_operands(self) -> tuple[Value, Value]:
        """Inputs 0 and 1 of a product (Mul, MatMul, Gemm); refuses two input-dependent ones,
        whose product is not piecewise linear."""
        a, b = self.input(0), self.input(1)
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            raise NotPiecewiseLinearError(
                f"{self.where}: the product of two input-dependent tensors is not piecewise "
                f"linear; one operand of {self.proto.op_type} must be a constant")
        return a, b

    def tensor(self, i: int) -> Tensor:
        value = self.input(i)
        if not isinstance(value, Tensor):
            raise self.error(f"input {i} ({self.proto.input[i]!r}) is a constant where an "
                             f"input-dependent tensor was expected")
        return value

    def const(self, i: int, what: str = "") -> np.ndarray:
        value = self.input(i)
        if isinstance(value, Tensor):
            raise self.error(f"input {i} ({self.proto.input[i]!r}{', ' + what if what else ''}) "
                             f"depends on the network input; plnet needs it to be a constant "
                             f"(an initializer or a Constant) to stay piecewise linear")
        return value

    def optional_const(self, i: int, what: str = ""):
        return self.const(i, what) if self.has_input(i) else None

    def ints(self, name: str, default=None) -> list[int] | None:
        value = self.attrs.get(name)
        return default if value is None else [int(v) for v in value]

    def axis(self, x: Tensor, axis: int) -> int:
        """Normalize an ONNX axis against a tensor's ONNX rank."""
        rank = len(self.ctx.onnx_shape(x))
        if not -rank <= axis < rank:
            raise self.error(f"axis {axis} is out of range for a tensor of rank {rank}",
                             ShapeError)
        return axis % rank

    def sample_axis(self, x: Tensor, axis: int, why: str) -> tuple[Tensor, int]:
        """The per-sample axis of ONNX ``axis``; folds a size-1 batch axis if it is hit."""
        axis = self.axis(x, axis)
        if x.batch_axis == axis:
            x = self.ctx.unbatch(x, why, self.where)
        return x, x.sample_axis(axis)
