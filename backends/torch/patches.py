"""Receptive-field tangents: each unit's gradient kept only where it can be non-zero.

In a convolutional prefix a unit at spatial position ``(y, x)`` depends only on the input
pixels of its receptive field, a box of rows ``[y * S + O, y * S + O + P)`` (and the same for
columns) that moves by the node's cumulative stride ``S``. The perturbation engine pushes
all D one-hot images through every layer and writes ``[B, D, C, H, W]`` tangents, almost all
zeros (in ``resnet_2b``'s first convolution 27 of 3072 entries per unit are not). Here a
node's tangents are ``[R, H, W, Cin, Pa, Pb, C]``: for each position the ``Cin x Pa x Pb``
box of input axes around it (:class:`Patches`). A convolution then costs ``Cin Pa Pb``
instead of ``D`` per output position: one GEMM per kernel tap over the tap's strided view
of the input patches, added into the output patch at the tap's offset ``t d S`` (the input
position's box sits there inside the output position's larger box). Entries of a box
outside the image are exact zeros (padding carries no tangent), so norms over a box are
norms over all D axes.

The engine (:mod:`plnet.backends.torch.patch_engine`) runs the network's leading
convolutional part this way while the boxes stay small (``PATCH_FRACTION`` of D, in
:mod:`plnet.analysis.patches`), hands the pattern nodes' gradients to the sink from the
patches (norms, or a zero fill plus the few non-zero entries), and converts the nodes that
later, dense steps read into ordinary tangents (``densify``). This module holds the
patches and what the lowerings' rules use. Which nodes run on patches is decided by the ops' own ``patch_geometry`` rules (the numpy
reference's plan, :class:`plnet.analysis.patches.PatchPlan`); a lowering opts in with
``patch_tangent(patches, params, frozen, geometry, alloc)`` (a pattern op whose units are
not its input's elements defines ``patch_pattern(patches, frozen, geometry, alloc) ->
(units, patches)`` instead).
"""

from __future__ import annotations

import dataclasses

import torch

from plnet.ops.patches import Geometry, tap_layout  # the numpy reference's box arithmetic


@dataclasses.dataclass
class Patches:
    """Receptive-field tangents ``t [R, H, W, Cin, Pa, Pb, C]`` (R = 1 while shared by all
    points) of a node ``[C, H, W]``, with their :class:`Geometry`."""

    t: torch.Tensor
    geometry: Geometry
    #: ``t`` as ``[R, H W Cin Pa Pb + 1, C]`` with a zero row last (what ``densify`` reads)
    with_zero: torch.Tensor | None = None


@dataclasses.dataclass
class UnitPatches:
    """A pattern node's units as boxes: ``u [R, M, Cin, Pa, Pb, C]``; box ``m`` of channel
    ``c`` is unit ``unit_of[m, c]`` and sits at spatial position ``(rows[m], cols[m])`` of
    ``geometry``."""

    u: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    unit_of: torch.Tensor
    geometry: Geometry
    #: the node's index tables, kept from call to call (they depend on shapes only)
    cache: dict = dataclasses.field(default_factory=dict)


def identity_patches(input_shape, dtype, device) -> Patches:
    """The input's own tangents: pixel ``(c, y, x)`` is axis ``c`` of its 1 x 1 box."""
    c, h, w = input_shape
    t = torch.zeros((1, h, w, c, 1, 1, c), dtype=dtype, device=device)
    channel = torch.arange(c, device=device)
    t[0, :, :, channel, 0, 0, channel] = 1
    return Patches(t, Geometry((1, 1), (0, 0), (1, 1)))


# --- sliding windows (convolution, average and max pooling) ------------------------------

def window_args(op, kernel=None):
    """``(kernel, stride, begin padding, dilation)`` of a window op (a convolution's kernel
    comes from its weight)."""
    return (tuple(kernel if kernel is not None else op.kernel), tuple(op.stride),
            tuple(p[0] for p in op.padding), tuple(op.dilation))


def window_taps(p: Patches, kernel, stride, pad_begin, dilation, out_spatial):
    """Yield ``(tap index, view [R, Ho, Wo, Cin, Pa, Pb, C], (row block, column block))``
    for every kernel tap (:func:`plnet.ops.patches.tap_layout`): the input patches each
    output reads at that tap (zeros in padding and past the end), and where they go inside
    the output's box."""
    t = p.t
    r, h, w = t.shape[:3]
    (hp, wp), taps = tap_layout((h, w), p.geometry, kernel, stride, pad_begin, dilation,
                                out_spatial)
    if (hp, wp) != (h, w):
        padded = t.new_zeros((r, hp, wp) + tuple(t.shape[3:]))
        padded[:, pad_begin[0]:pad_begin[0] + h, pad_begin[1]:pad_begin[1] + w] = t
        t = padded
    for tap, (rows, cols), box in taps:
        yield tap, t[:, rows, cols], box


def patch_zeros(p: Patches, out_shape, geometry: Geometry, channels: int, alloc=None):
    """Zeros ``[R, *out spatial, Cin, *geometry.size, channels]`` for a window op's output."""
    shape = (p.t.shape[0],) + tuple(out_shape[1:]) + (p.t.shape[3],) + geometry.size \
        + (channels,)
    return alloc(shape) if alloc is not None else p.t.new_zeros(shape)


def channel_scale(p: Patches, factor: torch.Tensor, alloc=None) -> Patches:
    """Multiply by a per-unit ``factor [R', C, H, W]`` (a frozen slope, a scale)."""
    f = factor.permute(0, 2, 3, 1)[:, :, :, None, None, None, :]
    if alloc is None:
        return Patches(p.t * f, p.geometry)
    shape = (max(p.t.shape[0], f.shape[0]),) + tuple(p.t.shape[1:])
    return Patches(torch.mul(p.t, f, out=alloc(shape, zero=False)), p.geometry)


# --- units -------------------------------------------------------------------------------

def elementwise_units(p: Patches) -> UnitPatches:
    """The units of an elementwise pattern op: its input's elements, in (C, H, W) order."""
    r, h, w = p.t.shape[:3]
    c = p.t.shape[-1]
    device = p.t.device
    m = torch.arange(h * w, device=device)
    unit_of = m[:, None] + torch.arange(c, device=device)[None, :] * (h * w)
    return UnitPatches(p.t.reshape((r, h * w) + tuple(p.t.shape[3:])), m // w, m % w,
                       unit_of, p.geometry)
