"""Resize (opsets 10 to 19+) and Upsample (7 to 9): per axis, a constant selection or a
constant interpolation matrix.

Every mode is linear in the input and separable: along each resized axis, nearest picks
one input position per output position (a Take), linear and cubic take a fixed weighted
sum of neighbours (a Dense with the axis moved last). The positions and weights follow
the ONNX formulas: ``coordinate_transformation_mode`` maps an output index to an input
coordinate, ``nearest_mode`` rounds it, linear interpolates between the two neighbours of
the coordinate clamped to the axis, cubic between four (indices clamped to the edge).
Refused: ``tf_crop_and_resize`` (its extrapolated constant depends on the region of
interest), ``antialias=1`` with linear or cubic, and resizing a symbolic batch axis.
"""

from __future__ import annotations

import math

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.converters.gathering import map_along, take_along
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.tensor import BATCH_SENTINEL

_ROUNDING = {
    "round_prefer_floor": lambda c: np.ceil(c - 0.5),
    "round_prefer_ceil": lambda c: np.floor(c + 0.5),
    "floor": np.floor,
    "ceil": np.ceil,
}


def _coordinates(node, mode: str, out_len: int, in_len: int, scale: float) -> np.ndarray:
    """The input coordinate of every output index along one axis.

    Computed in the file's precision and in onnxruntime's order of operations: a nearest
    index rounds the coordinate, and a float32 coordinate can land on a tie (2 / 0.8 is
    2.5 in float32) where the float64 one does not.
    """
    t = node.ctx.float_dtype
    x, s, half = np.arange(out_len, dtype=t), t(scale), t(0.5)
    if mode in ("half_pixel", "pytorch_half_pixel"):
        if mode == "pytorch_half_pixel" and out_len == 1:
            return np.zeros(1, dtype=t)
        return (x + half) / s - half
    if mode == "half_pixel_symmetric":
        adjustment = t(out_len) / (s * t(in_len))
        offset = t(in_len) / t(2) * (t(1) - adjustment)
        return offset + (x + half) / s - half
    if mode == "align_corners":
        return x * t(in_len - 1) / t(out_len - 1) if out_len > 1 else np.zeros(1, dtype=t)
    if mode == "asymmetric":
        return x / s
    if mode == "tf_half_pixel_for_nn":
        return (x + half) / s
    if mode == "tf_crop_and_resize":
        raise node.error("coordinate_transformation_mode='tf_crop_and_resize' is not "
                         "supported (its extrapolated values depend on the region of "
                         "interest); export with half_pixel, asymmetric, align_corners or "
                         "pytorch_half_pixel")
    raise node.error(f"coordinate_transformation_mode={mode!r} is not an ONNX mode")


def _nearest(node, coords: np.ndarray, in_len: int, rounding: str, scale: float):
    if rounding == "simple":  # Upsample and Resize-10: ceil when shrinking, else floor
        picked = np.ceil(coords) if scale < 1 else np.floor(coords)
    elif rounding in _ROUNDING:
        picked = _ROUNDING[rounding](coords)
    else:
        raise node.error(f"nearest_mode={rounding!r} is not an ONNX mode (round_prefer_floor, "
                         f"round_prefer_ceil, floor, ceil)")
    return np.clip(picked, 0, in_len - 1).astype(np.int64)


def _linear(coords: np.ndarray, in_len: int) -> np.ndarray:
    coords = np.clip(coords, 0, in_len - 1).astype(np.float64)
    low = np.minimum(np.floor(coords).astype(np.int64), in_len - 1)
    high = np.minimum(low + 1, in_len - 1)
    matrix = np.zeros((len(coords), in_len))
    rows = np.arange(len(coords))
    np.add.at(matrix, (rows, low), np.where(low == high, 0.5, high - coords))
    np.add.at(matrix, (rows, high), np.where(low == high, 0.5, coords - low))
    return matrix


def _cubic(coords: np.ndarray, in_len: int, a: float, exclude_outside: bool) -> np.ndarray:
    coords = coords.astype(np.float64)
    base = np.floor(coords)
    t = coords - base
    distances = np.stack([1 + t, t, 1 - t, 2 - t], axis=1)  # to neighbours -1, 0, 1, 2
    near = ((a + 2) * distances - (a + 3)) * distances ** 2 + 1
    far = ((a * distances - 5 * a) * distances + 8 * a) * distances - 4 * a
    weights = np.where(distances <= 1, near, far)
    neighbours = base[:, None].astype(np.int64) + np.arange(-1, 3)[None, :]
    if exclude_outside:
        weights = np.where((neighbours < 0) | (neighbours >= in_len), 0.0, weights)
        weights = weights / weights.sum(axis=1, keepdims=True)
    matrix = np.zeros((len(coords), in_len))
    rows = np.repeat(np.arange(len(coords)), 4)
    np.add.at(matrix, (rows, np.clip(neighbours, 0, in_len - 1).ravel()), weights.ravel())
    return matrix


def _targets(node, in_shape, scales, sizes, axes, policy):
    """``(output lengths, scales)`` over every ONNX axis."""
    rank = len(in_shape)
    axes = list(range(rank)) if axes is None else [node.axis(node.tensor(0), a) for a in axes]
    given = sizes if sizes is not None else scales
    if given is None:
        raise node.error("Resize needs scales or sizes", ShapeError)
    if len(given) != len(axes):
        raise node.error(f"{'sizes' if sizes is not None else 'scales'} {list(given)} must "
                         f"have one entry per resized axis ({len(axes)})", ShapeError)
    out, factor = list(in_shape), [1.0] * rank
    if sizes is None:
        for a, s in zip(axes, scales):
            s = float(np.float32(s))
            if s <= 0:
                raise node.error(f"scales {list(scales)} must be positive", ShapeError)
            out[a], factor[a] = int(math.floor(np.float32(s) * np.float32(in_shape[a]))), s
    elif policy == "stretch":
        for a, size in zip(axes, sizes):
            out[a] = int(size)
            factor[a] = float(np.float32(out[a]) / np.float32(in_shape[a]))
    elif policy in ("not_larger", "not_smaller"):
        pick = min if policy == "not_larger" else max
        s = pick(float(np.float32(size) / np.float32(in_shape[a])) for a, size in zip(axes, sizes))
        for a in axes:
            out[a] = int(math.floor(s * in_shape[a] + 0.5))
            factor[a] = s
    else:
        raise node.error(f"keep_aspect_ratio_policy={policy!r} is not an ONNX policy")
    if min(out) < 1:
        raise node.error(f"the output shape {out} is empty; plnet does not represent empty "
                         f"tensors", ShapeError)
    return out, factor


def _resize(node, scales, sizes, mode, coordinate_mode, rounding, axes=None,
            policy="stretch"):
    ctx = node.ctx
    x = node.tensor(0)
    scales = None if scales is None or np.asarray(scales).size == 0 else \
        np.asarray(scales, np.float64).ravel()
    sizes = None if sizes is None or np.asarray(sizes).size == 0 else \
        np.asarray(sizes).astype(np.int64).ravel()
    mode = {"bilinear": "linear", "trilinear": "linear"}.get(mode, mode)
    if mode not in ("nearest", "linear", "cubic"):
        raise node.error(f"mode={mode!r} is not supported (nearest, linear, cubic)")
    if mode != "nearest" and int(node.attr("antialias", 0)):
        raise node.error(f"antialias=1 with mode={mode!r} is not supported; export without "
                         f"antialiasing or with mode='nearest'")
    in_shape = [1 if d is None else d for d in ctx.onnx_shape(x)]
    resized = list(range(len(in_shape))) if axes is None else [node.axis(x, a) for a in axes]
    if sizes is not None and x.batch_axis in resized and not x.batch_one:
        # shape arithmetic on a symbolic batch folds its size to the stand-in: keep it
        at = resized.index(x.batch_axis)
        if sizes[at] != BATCH_SENTINEL:
            x = ctx.unbatch(x, "a Resize to a fixed batch size", node.where)
        sizes = sizes.copy()
        sizes[at] = 1
    out, factor = _targets(node, in_shape, scales, sizes, axes, policy)
    if x.batch_axis is not None and (out[x.batch_axis], factor[x.batch_axis]) != (1, 1.0):
        x = ctx.unbatch(x, "a Resize of the batch axis", node.where)
    for axis, (in_len, out_len, scale) in enumerate(zip(in_shape, out, factor)):
        # an axis kept at scale 1 is left alone, as onnxruntime does (tf_half_pixel_for_nn
        # would otherwise shift it by half a pixel, which ceil rounds to the next one)
        if axis == x.batch_axis or (out_len, scale) == (in_len, 1.0):
            continue
        coords = _coordinates(node, coordinate_mode, out_len, in_len, scale)
        hint = f"{node.name}.{axis}"
        if mode == "nearest":
            x = take_along(node, x, axis, _nearest(node, coords, in_len, rounding, scale), hint)
            continue
        if mode == "linear":
            matrix = _linear(coords, in_len)
        else:
            matrix = _cubic(coords, in_len, float(node.attr("cubic_coeff_a", -0.75)),
                            bool(node.attr("exclude_outside", 0)))
        if matrix.shape != (in_len, in_len) or not np.array_equal(matrix, np.eye(in_len)):
            x = map_along(node, x, axis, matrix, hint)
    return x


def _legacy(node, scales):
    """Upsample and Resize-10: asymmetric coordinates, nearest rounds down (up when
    shrinking)."""
    return _resize(node, scales, None, node.attr("mode", "nearest"), "asymmetric", "simple")


@converter("Upsample", opsets=(7, 8))
def convert_upsample_attribute(node):
    return _legacy(node, node.attr("scales"))


@converter("Upsample", opsets=(9, 9))
def convert_upsample(node):
    return _legacy(node, node.const(1, "scales"))


@converter("Resize", opsets=(10, 10))
def convert_resize_scales(node):
    return _legacy(node, node.const(1, "scales"))


@converter("Resize", opsets=(11, None))
def convert_resize(node):
    # input 1, the region of interest, only matters for tf_crop_and_resize (refused)
    axes = node.ints("axes")
    return _resize(node, node.optional_const(2, "scales"), node.optional_const(3, "sizes"),
                   node.attr("mode", "nearest"),
                   node.attr("coordinate_transformation_mode", "half_pixel"),
                   node.attr("nearest_mode", "round_prefer_floor"), axes,
                   node.attr("keep_aspect_ratio_policy", "stretch"))
