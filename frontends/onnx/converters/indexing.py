"""Concat, Slice, Gather (constant indices) and Pad: linear views of a tensor."""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.tensor import Tensor
from plnet.frontends.onnx.registry import converter
from plnet.ops import Concat, Flatten, Pad, Reshape, ScaleShift, Slice, Take


def constant_tensor(node, value: np.ndarray, like: Tensor) -> Tensor:
    """An IR node holding the constant ``value`` (per sample), built from ``like``.

    The IR has no constant op: a constant is ``0 * x + value``, which has zero gradient and
    adds no unit, so every analysis treats it exactly.
    """
    ctx = node.ctx
    flat = like if len(ctx.shape(like)) == 1 else ctx.emit(Flatten(), [like],
                                                           f"{node.name}.const", like)
    picked = ctx.emit(Take(axis=0, indices=(0,) * max(1, value.size), keepdim=True), [flat],
                      f"{node.name}.const", like)
    shaped = ctx.emit(Reshape(shape=tuple(value.shape)), [picked], f"{node.name}.const", like)
    op = ScaleShift(scale=ctx.param(f"{node.name}.zero", np.zeros(())),
                    shift=ctx.param(f"{node.name}.const", value))
    return ctx.emit(op, [shaped], f"{node.name}.const", like)


@converter("Concat")
def convert_concat(node):
    ctx = node.ctx
    values = [node.input(i) for i in range(len(node.proto.input))]
    tensors = [v for v in values if isinstance(v, Tensor)]
    axis = int(node.attr("axis"))
    broadcast = _batch_broadcast_constants(node, values, tensors, axis)
    if broadcast is not None:
        values = broadcast
    elif len(tensors) < len(values):
        tensors = [ctx.unbatch(t, "a Concat with constants", node.where) for t in tensors]
        values = [ctx.unbatch(v, "a Concat with constants", node.where) if isinstance(v, Tensor)
                  else constant_tensor(node, np.asarray(v, np.float64), tensors[0])
                  for v in values]
    else:
        values = ctx.align(values, node.where, "a Concat of tensors with different batch axes")
    first, sample_axis = node.sample_axis(values[0], axis, "a Concat along the batch axis")
    if first is not values[0]:
        values = [ctx.unbatch(v, "a Concat along the batch axis", node.where) for v in values]
    if len(values) == 1:
        return values[0]
    return ctx.emit(Concat(axis=sample_axis), values, node.name, values[0])


def _batch_broadcast_constants(node, values, tensors, axis):
    """The Concat's inputs with each constant as a per-sample tensor, when the constants
    have size 1 on the tensors' batch axis and the Concat is along another axis (else None).

    A valid Concat needs equal sizes off its axis, so such a constant had the batch's size
    in the file: a constant built from the batch size (``zeros(batch, hidden)``, an
    RNN's zero state), which folding gives size 1 since it is the same for every sample.
    """
    ctx = node.ctx
    if not tensors or len(tensors) == len(values):
        return None
    batch = {t.batch_axis for t in tensors}
    rank = len(ctx.onnx_shape(tensors[0]))
    if len(batch) != 1 or None in batch or tensors[0].batch_one or axis % rank in batch:
        return None
    (b,) = batch
    consts = [np.asarray(v, np.float64) for v in values if not isinstance(v, Tensor)]
    if any(c.ndim != rank or c.shape[b] != 1 for c in consts):
        return None
    return [v if isinstance(v, Tensor) else
            constant_tensor(node, np.take(np.asarray(v, np.float64), 0, axis=b), tensors[0])
            for v in values]


def _slice_axis(node, x: Tensor, axis: int, start: int, end: int, step: int) -> Tensor:
    ctx = node.ctx
    axis = node.axis(x, axis)
    if step == 0:
        raise node.error("Slice step 0", ShapeError)
    if x.batch_axis == axis:
        if step == 1 and start == 0 and end >= 2**31 - 1:
            return x  # the whole batch: nothing to do
        x = ctx.unbatch(x, "a Slice of the batch axis", node.where)
    sample_axis = x.sample_axis(axis)
    length = ctx.shape(x)[sample_axis]
    picked = range(*slice(start, end, step).indices(length))
    if len(picked) == 0:
        raise node.error(f"Slice [{start}:{end}:{step}] of axis {axis} (length {length}) is "
                         f"empty; plnet does not represent empty tensors", ShapeError)
    if len(picked) == length and step == 1:
        return x
    if step > 0:
        op = Slice(axis=sample_axis, start=picked.start, stop=picked.stop, step=step)
    else:
        op = Take(axis=sample_axis, indices=tuple(picked), keepdim=True)
    return ctx.emit(op, [x], node.name, x)


def _slice(node, starts, ends, axes, steps):
    x = node.tensor(0)
    axes = list(range(len(starts))) if axes is None else list(axes)
    steps = [1] * len(starts) if steps is None else list(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise node.error(f"starts {starts}, ends {ends}, axes {axes}, steps {steps} differ in "
                         f"length", ShapeError)
    for a, s, e, st in zip(axes, starts, ends, steps):
        x = _slice_axis(node, x, int(a), int(s), int(e), int(st))
    return x


@converter("Slice", opsets=(1, 9))
def convert_slice_attributes(node):
    return _slice(node, node.ints("starts"), node.ints("ends"), node.ints("axes"), None)


@converter("Slice", opsets=(10, None))
def convert_slice(node):
    def ints(i, what):
        value = node.optional_const(i, what)
        return None if value is None else [int(v) for v in np.asarray(value).ravel()]

    return _slice(node, ints(1, "starts"), ints(2, "ends"), ints(3, "axes"), ints(4, "steps"))


@converter("Gather")
def convert_gather(node):
    ctx = node.ctx
    x = node.tensor(0)
    indices = np.asarray(node.const(1, "indices"))
    if indices.dtype.kind not in "iu":
        raise node.error(f"Gather indices have dtype {indices.dtype}; expected integers")
    axis = node.axis(x, int(node.attr("axis", 0)))
    x, sample_axis = node.sample_axis(x, axis, "a Gather along the batch axis")
    length = ctx.shape(x)[sample_axis]
    if ((indices < -length) | (indices >= length)).any() or indices.size == 0:
        raise node.error(f"Gather indices {indices.tolist()} out of range for an axis of "
                         f"length {length}", ShapeError)
    flat = tuple(int(i) % length for i in indices.ravel())
    shift = indices.ndim - 1  # how far axes after the gathered one move
    batch = x.batch_axis if x.batch_axis is None or x.batch_axis < axis else \
        x.batch_axis + shift
    if indices.ndim == 0:
        return ctx.emit(Take(axis=sample_axis, indices=flat, keepdim=False), [x], node.name, x,
                        batch_axis=batch)
    y = ctx.emit(Take(axis=sample_axis, indices=flat, keepdim=True), [x], node.name, x)
    if indices.ndim == 1:
        return y
    sample = list(ctx.shape(y))
    sample[sample_axis:sample_axis + 1] = list(indices.shape)
    return ctx.emit(Reshape(shape=tuple(sample)), [y], node.name, y, batch_axis=batch)


def _pad_indices(mode: str, length: int, before: int, after: int):
    j = np.arange(-before, length + after)
    if mode == "edge":
        return np.clip(j, 0, length - 1)
    if mode == "wrap":
        return j % length
    if length == 1:  # reflect of a single element repeats it
        return np.zeros_like(j)
    period = 2 * (length - 1)
    j = np.abs(j) % period
    return np.where(j < length, j, period - j)


def _pad(node, pads, mode: str, value: float, axes=None):
    ctx = node.ctx
    x = node.tensor(0)
    rank = len(ctx.onnx_shape(x))
    axes = list(range(rank)) if axes is None else [node.axis(x, int(a)) for a in axes]
    if len(pads) != 2 * len(axes):
        raise node.error(f"pads {pads} must have 2 x {len(axes)} entries", ShapeError)
    per_axis = {a: (int(pads[i]), int(pads[i + len(axes)])) for i, a in enumerate(axes)}
    per_axis = {a: p for a, p in per_axis.items() if p != (0, 0)}
    if not per_axis:
        return x
    if x.batch_axis in per_axis:
        x = ctx.unbatch(x, "a Pad of the batch axis", node.where)
    if mode != "constant" or any(min(p) < 0 for p in per_axis.values()):
        if mode == "constant" and (value != 0 and any(max(p) > 0 for p in per_axis.values())):
            raise node.error("Pad with both negative pads and a non-zero constant value is "
                             "not supported")
        if mode not in ("constant", "edge", "reflect", "wrap"):
            raise node.error(f"Pad mode {mode!r} is not supported")
        for a, (b, e) in per_axis.items():
            s = x.sample_axis(a)
            length = ctx.shape(x)[s]
            if mode == "constant":
                x = ctx.emit(Slice(axis=s, start=max(0, -b), stop=length - max(0, -e)), [x],
                             node.name, x)
                if max(b, e) > 0:
                    pairs = [(0, 0)] * len(ctx.shape(x))
                    pairs[s] = (max(b, 0), max(e, 0))
                    x = ctx.emit(Pad(pads=tuple(pairs)), [x], node.name, x)
            else:
                idx = _pad_indices(mode, length, b, e)
                x = ctx.emit(Take(axis=s, indices=tuple(int(i) for i in idx)), [x], node.name, x)
        return x
    pairs = [(0, 0)] * len(ctx.shape(x))
    for a, p in per_axis.items():
        pairs[x.sample_axis(a)] = p
    inner = tuple(ctx.shape(x))
    y = ctx.emit(Pad(pads=tuple(pairs)), [x], node.name, x)
    if value != 0:
        mask = np.pad(np.zeros(inner), pairs, constant_values=1.0)
        y = ctx.emit(ScaleShift(shift=ctx.param(f"{node.name}.fill", value * mask)), [y],
                     f"{node.name}.fill", y)
    return y


@converter("Pad", opsets=(2, 10))
def convert_pad_attributes(node):
    return _pad(node, node.ints("pads"), node.attr("mode", "constant"),
                float(node.attr("value", 0.0)))


@converter("Pad", opsets=(11, None))
def convert_pad(node):
    pads = [int(p) for p in np.asarray(node.const(1, "pads")).ravel()]
    value = node.optional_const(2, "constant_value")
    axes = node.optional_const(3, "axes")
    return _pad(node, pads, node.attr("mode", "constant"),
                0.0 if value is None or np.asarray(value).size == 0 else
                float(np.asarray(value).ravel()[0]),
                None if axes is None else np.asarray(axes).ravel().tolist())
