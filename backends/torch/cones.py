"""Forward cones: the input axes' tangents kept only where they can be non-zero.

The tangent of input pixel ``(c, y, x)`` is non-zero in a convolutional prefix only at the
positions whose receptive field holds ``(y, x)``: its forward cone, a window of a few
positions per node (in the benchmark CNN 2 x 2 of 14 x 14, then 2 x 2 of 7 x 7 positions).
The stacked pass (:mod:`plnet.backends.torch.stacked`) pushes the k tangents (Eq. 10's
sampled axes, or all D for exact ROLL) through every layer at full size; here a node keeps ``t [R, k, C, h, w]``: per axis its values on an
``h x w`` window of the node's grid that holds the cone, at the axis's own ``(row, column)``
start (R = 1 while the tangents are shared by all points, B after the first pattern op).
All axes share the window size, so each op is one call for all of them; the forward rows
run as in a plain forward pass, and a dense layer after a flatten multiplies only the
windows' columns of its weight.

Every window lies inside the grid and every entry in it is computed exactly (an output
position reads the input rows it reads in the full op, from the input's window or from
the zeros outside it, where the tangent IS zero), so the values are the stacked pass's.

Ops opt in with ``cone_tangent(cones, params, frozen) -> (t, starts) or None`` on their
lowering (window ops through :func:`window_op`, per-unit factors through
:func:`scaled`, sums through :func:`summed`). A node whose op has no rule, or whose window
grows past :data:`MAX_FRACTION` of its grid, becomes the stacked pass's full-size rows
(:func:`to_rows`), and the pass goes on from there as before. The pass gives up when its
nodes outgrow the engines' memory budget
(:func:`plnet.backends.torch.fused.cone_terms`; the engines then take over).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F

#: the most axes a pass carries on cones (None: any number, while the windows fit the
#: engines' memory budget; 0 turns cones off)
MAX_AXES = None
#: a node whose window covers more than this fraction of its grid goes full size
MAX_FRACTION = 0.5


@dataclasses.dataclass
class Cone:
    """An image node ``[C, H, W]``: forward rows and the sampled axes' windows.

    Attributes:
        fwd: ``[B, C, H, W]`` forward rows.
        t: ``[R, k, C, h, w]`` tangents on the windows.
        starts: ``(rows [k], columns [k])`` numpy arrays: where each axis's window starts.
        limit: bytes the next op on this node may allocate (:class:`OverBudget` past it).
    """

    fwd: torch.Tensor
    t: torch.Tensor
    starts: tuple
    limit: float = math.inf

    @property
    def grid(self):
        return tuple(self.fwd.shape[2:])

    def positions(self) -> np.ndarray:
        """``[k, h w]``: the flat grid position of every window entry."""
        return _positions(self.starts, self.t.shape[-2:], self.grid[1])


class OverBudget(Exception):
    """An op on cones would allocate more than its input cone's ``limit`` (raised before
    allocating: with all D axes, a wide window or full-size rows can take many GiB)."""


def _claim(cone: Cone, numel: int):
    if numel * cone.t.element_size() > cone.limit:
        raise OverBudget


def usable(module, num_axes: int) -> bool:
    """Whether a pass may start with cones: image inputs (and at most MAX_AXES axes)."""
    return len(module.input_shape) == 3 and 0 < num_axes \
        and (MAX_AXES is None or num_axes <= MAX_AXES)


def input_cone(x, columns, input_shape) -> Cone:
    """The input's cone: axis ``(c, y, x)`` is a 1 x 1 window, one-hot over channels."""
    c, h, w = input_shape
    axes = columns.cpu().numpy()
    t = x.new_zeros((1, len(axes), c, 1, 1))
    t[0, torch.arange(len(axes)), torch.as_tensor(axes // (h * w))] = 1
    pixel = axes % (h * w)
    return Cone(x, t, (pixel // w, pixel % w))


def _positions(starts, size, width) -> np.ndarray:
    rows = starts[0][:, None, None] + np.arange(size[0])[None, :, None]
    cols = starts[1][:, None, None] + np.arange(size[1])[None, None, :]
    return (rows * width + cols).reshape(len(starts[0]), -1)


def _index(array, device):
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64)).to(device)


def reframe(t, starts, new_starts, size):
    """``t [R, k, C, h, w]`` on windows at ``starts`` read on ``size`` windows at
    ``new_starts`` (which may reach past the grid): zeros outside the old windows."""
    r, k, c, h, w = t.shape
    dy = new_starts[0] - starts[0]
    dx = new_starts[1] - starts[1]
    if tuple(size) == (h, w) and not dy.any() and not dx.any():
        return t
    rows = dy[:, None, None] + np.arange(size[0])[None, :, None]
    cols = dx[:, None, None] + np.arange(size[1])[None, None, :]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    source = t.reshape(r, k, c, h * w)
    if not inside.all():  # a zero slot for what lies outside
        source = F.pad(source, (0, 1))
    index = np.where(inside, rows * w + cols, h * w).reshape(k, -1)
    index = _index(index, t.device)[None, :, None, :].expand(r, k, c, -1)
    return source.gather(3, index).reshape((r, k, c) + tuple(size))


def _placed(first, end, n_out):
    """One window size for all axes that covers each ``[first, end)``, and each start
    (moved back where the window would pass the grid's end)."""
    size = int(min(n_out, max(1, (end - first).max())))
    return size, np.minimum(first, n_out - size)


def window_op(cone: Cone, out_shape, kernel, stride, pad_begin, dilation, run):
    """A window op (convolution, pooling sums) on every axis's window in one call.

    Args:
        out_shape: the op's ``(C_out, H_out, W_out)``.
        run: ``run(t, positions)``: the op without padding on ``t [R k, C, h', w']``, the
            input rows and columns its output windows read (``positions [k, h w]``: the
            output windows' flat grid positions).

    Returns:
        ``(t, starts)`` of the output.
    """
    h, w = cone.t.shape[-2:]
    sizes, starts, needs = [], [], []
    for axis in range(2):
        lo = cone.starts[axis]
        k_, s, p, d = kernel[axis], stride[axis], pad_begin[axis], dilation[axis]
        hi = lo + (h if axis == 0 else w)
        # outputs whose taps (y s - p + t d, t < k) can read [lo, hi)
        first = np.maximum(0, -(-(lo + p - (k_ - 1) * d) // s))
        end = np.minimum(out_shape[1 + axis], (hi - 1 + p) // s + 1)
        size, start = _placed(first, end, out_shape[1 + axis])
        sizes.append(size)
        starts.append(start)
        needs.append(((start * s - p), (size - 1) * s + (k_ - 1) * d + 1))
    r, k, c = cone.t.shape[:3]
    _claim(cone, r * k * (c * needs[0][1] * needs[1][1] + out_shape[0] * sizes[0] * sizes[1]))
    x = reframe(cone.t, cone.starts, (needs[0][0], needs[1][0]), (needs[0][1], needs[1][1]))
    y = run(x.reshape((r * k,) + x.shape[2:]),
            _positions(tuple(starts), sizes, out_shape[2]))
    return y.reshape((r, k) + tuple(y.shape[1:])), tuple(starts)


def crop(cone: Cone, factor):
    """``factor [R', C, H, W]`` read on the cone's windows: ``[R', k, C, h, w]``."""
    r, c = factor.shape[:2]
    k, _, h, w = cone.t.shape[1:]
    index = _index(cone.positions().reshape(-1), factor.device)
    picked = factor.reshape(r, c, -1).index_select(2, index)
    return picked.reshape(r, c, k, h, w).transpose(1, 2)


def scaled(cone: Cone, factor):
    """Every window times its crop of a per-unit ``factor [R', C, H, W]``."""
    _claim(cone, max(cone.t.shape[0], factor.shape[0]) * cone.t[0].numel())
    return cone.t * crop(cone, factor), cone.starts


def summed(cones):
    """The sum of same-shape cones, on windows that hold every input's."""
    grid = cones[0].grid
    sizes, starts = [], []
    for axis in range(2):
        first = np.min([c.starts[axis] for c in cones], axis=0)
        end = np.max([c.starts[axis] + c.t.shape[3 + axis] for c in cones], axis=0)
        size, start = _placed(first, end, grid[axis])
        sizes.append(size)
        starts.append(start)
    r = max(c.t.shape[0] for c in cones)
    _claim(cones[0], len(cones) * r * math.prod(cones[0].t.shape[1:3]) * sizes[0] * sizes[1])
    total = None
    for c in cones:
        t = reframe(c.t, c.starts, tuple(starts), sizes)
        total = t if total is None else total + t
    return total, tuple(starts)


def too_wide(cone: Cone) -> bool:
    """Whether full-size tangent rows would cost less than the windows."""
    h, w = cone.grid
    return cone.t.shape[-2] * cone.t.shape[-1] > MAX_FRACTION * h * w


def squares(cone: Cone, b: int, scale: float) -> torch.Tensor:
    """``[B, C H W]`` (or ``[1, C H W]`` broadcast, shared): ``scale`` times the sum over
    the axes of each element's squared tangent (an elementwise pattern op's units)."""
    r, k, c, h, w = cone.t.shape
    index = _index(cone.positions().reshape(-1), cone.t.device)
    values = cone.t.square().transpose(1, 2).reshape(r, c, k * h * w)
    total = cone.t.new_zeros((r, c, cone.grid[0] * cone.grid[1])).index_add(2, index, values)
    return (total * scale).reshape(r, -1).expand(b, -1)


def to_rows(cone: Cone, b: int):
    """The stacked pass's rows of a cone: ``([B + k, C, H, W], True)`` while the tangents
    are shared by the points, else ``([B, 1 + k, C, H, W], False)``."""
    r, k, c, h, w = cone.t.shape
    grid = cone.grid
    _claim(cone, (b + k * max(r, b)) * c * grid[0] * grid[1])
    index = _index(cone.positions(), cone.t.device)[None, :, None, :].expand(r, k, c, -1)
    full = cone.t.new_zeros((r, k, c, grid[0] * grid[1])).scatter(
        3, index, cone.t.reshape(r, k, c, h * w)).reshape((r, k, c) + grid)
    if r == 1:
        return torch.cat([cone.fwd, full[0]]), True
    return torch.cat([cone.fwd.unsqueeze(1), full], dim=1), False


def dense_rows(low, cone: Cone, params, b: int):
    """A dense layer on the flatten of a cone: the stacked pass's rows (shared or per
    point, as :func:`to_rows`), each axis multiplying its window's weight columns only."""
    r, k, c, h, w = cone.t.shape
    n_out = low.out_shape[0]
    _claim(cone, n_out * k * c * h * w + max(r, b) * (1 + k) * n_out)  # columns, rows
    fwd = low.forward([cone.fwd.reshape(b, -1)], params)
    n = cone.grid[0] * cone.grid[1]
    columns = np.arange(c)[None, :, None] * n + cone.positions()[:, None, :]  # [k, C, hw]
    y = low.columns_tangent(cone.t.reshape(r, k, -1), _index(columns.reshape(k, -1),
                                                             cone.t.device), params)
    if r == 1:
        return torch.cat([fwd, y[0]]), True
    return torch.cat([fwd.unsqueeze(1), y], dim=1), False
