"""The receptive-field patch engine of the torch backend: which steps run on patches
(:class:`PatchPlan`), the pass over them (:func:`propagate_patches`), what the sinks take
from them (norms over the boxes, or the gradients written as zeros plus the box entries),
and the conversion of the nodes later steps read into ordinary tangents (:func:`densify`).
The patches and the ops' rules are in :mod:`plnet.backends.torch.patches`.
"""

from __future__ import annotations

import math

import torch

from plnet.analysis.patches import PatchPlan as NodePlan
from plnet.backends.torch.patches import (Patches, UnitPatches, elementwise_units,
                                          identity_patches)
from plnet.backends.torch.reductions import axis_reductions


def unit_norms(units: UnitPatches, kinds, num_units) -> dict:
    """``{kind: [R, n]}``: the reductions of :class:`plnet.backends.torch.sinks.NormSink`
    over each unit's box (the rest of its gradient is zero)."""
    u = units.u
    # [R M, box, C]: each unit's box entries along the middle axis
    boxes = u.reshape(u.shape[0] * u.shape[1], -1, u.shape[-1])
    values = {}
    for kind, v in axis_reductions(boxes, kinds).items():
        v = v.reshape(u.shape[0], -1)
        out = v.new_empty((v.shape[0], num_units))
        out[:, units.unit_of.reshape(-1)] = v
        values[kind] = out
    return values


def write_gradients(units: UnitPatches, out: torch.Tensor, input_shape,
                    zeroed: bool = False) -> torch.Tensor:
    """Write the units' full gradients into ``out [B, n, D]``: zeros (unless ``zeroed``:
    ``out`` holds zeros already), then each box's entries inside the image.

    Returns:
        ``[R]``: the sum of the entries written per point (a finiteness check of the rows).
    """
    target, entry = _scatter_index(units, input_shape)
    if not zeroed:
        out.zero_()
    values = units.u.reshape(units.u.shape[0], -1)
    boxes = _box_view(units, out, input_shape) if entry is None else None
    if boxes is not None:  # one strided copy: an index per entry costs 2-3x the writes
        source = units.u.reshape((units.u.shape[0],) + boxes.shape[2:4] + units.u.shape[2:])
        boxes.copy_(source.permute(0, 6, 1, 2, 3, 4, 5).expand(boxes.shape))
        return values.sum(dim=1)
    if entry is not None:  # some boxes reach past the image
        values = values[:, entry]
    # [B, n, D] rows are contiguous per point: one flat index per entry is the fast path
    flat = out.view(out.shape[0], -1)  # a view (raises rather than write to a copy)
    flat.index_copy_(1, target, values.expand(out.shape[0], -1))
    return values.sum(dim=1)


def _box_view(units: UnitPatches, out, input_shape):
    """``out [B, n, D]`` seen as ``[B, C, H, W, Cin, Pa, Pb]``, the box entries of the
    units of an elementwise op (unit ``c H W + y W + x`` at position ``(y, x)``), or None
    for another layout. Needs every box inside the image."""
    key = ("grid", units.u.device)
    if key not in units.cache:
        units.cache[key] = _grid_of(units)
    grid = units.cache[key]
    if grid is None:
        return None
    (h, w), g = grid, units.geometry
    c_in, h0, w0 = input_shape
    sb, su, sd = out.stride()
    m = h * w
    size = (out.shape[0], units.u.shape[-1], h, w, c_in) + tuple(g.size)
    stride = (sb, m * su, w * su + g.stride[0] * w0 * sd, su + g.stride[1] * sd,
              h0 * w0 * sd, w0 * sd, sd)
    offset = out.storage_offset() + (g.origin[0] * w0 + g.origin[1]) * sd
    return out.as_strided(size, stride, offset)


def _grid_of(units: UnitPatches):
    """``(H, W)`` when the units are an elementwise op's in (C, H, W) order, else None."""
    m, c = units.unit_of.shape
    device = units.unit_of.device
    w = int(units.cols.max()) + 1
    if m % w:
        return None
    position = torch.arange(m, device=device)
    layout = position[:, None] + torch.arange(c, device=device)[None, :] * m
    if torch.equal(units.unit_of, layout) and torch.equal(units.rows, position // w) \
            and torch.equal(units.cols, position % w):
        return m // w, w
    return None


def _scatter_index(units: UnitPatches, input_shape):
    """``(flat target unit * D + axis, entry of u or None for all)`` for every box entry
    inside the image (kept from call to call)."""
    key = ("scatter", units.u.device, tuple(input_shape))
    if key not in units.cache:
        unit, axis, entry = _build_scatter_index(units, input_shape)
        everything = len(entry) == units.u[0].numel()
        units.cache[key] = (unit * math.prod(input_shape) + axis,
                            None if everything else entry)
    return units.cache[key]


def _build_scatter_index(units: UnitPatches, input_shape):
    c_in, h, w = input_shape
    r, m, _, pa, pb, c = units.u.shape
    g, device = units.geometry, units.u.device
    iy = units.rows[:, None] * g.stride[0] + g.origin[0] + torch.arange(pa, device=device)
    ix = units.cols[:, None] * g.stride[1] + g.origin[1] + torch.arange(pb, device=device)
    inside = ((iy >= 0) & (iy < h))[:, :, None] & ((ix >= 0) & (ix < w))[:, None, :]
    pixel = iy.clamp(0, h - 1)[:, :, None] * w + ix.clamp(0, w - 1)[:, None, :]  # [M, Pa, Pb]
    channel = torch.arange(c_in, device=device)[None, :, None, None]
    axis = (channel * (h * w) + pixel[:, None]).reshape(m, -1, 1).expand(m, -1, c)
    keep = inside[:, None].expand(m, c_in, pa, pb).reshape(m, -1, 1).expand(m, -1, c)
    unit = units.unit_of[:, None, :].expand(m, axis.shape[1], c)
    entry = torch.arange(axis.numel(), device=device).reshape(axis.shape)
    keep = keep.reshape(-1)
    return unit.reshape(-1)[keep], axis.reshape(-1)[keep], entry.reshape(-1)[keep]


def densify(p: Patches, columns: torch.Tensor, input_shape, out=None,
            padded=None) -> torch.Tensor:
    """Ordinary tangents ``[R, k, C, H, W]`` (channels-last images) of the axes ``columns``
    (written to ``out(shape)`` if given; the patches with a zero row appended, built once
    per node, to ``padded(shape)`` if given)."""
    c_in, h0, w0 = input_shape
    r, h, w, _, pa, pb, c = p.t.shape
    g, device = p.geometry, p.t.device
    channel, pixel = columns // (h0 * w0), columns % (h0 * w0)
    iy, ix = pixel // w0, pixel % w0
    ra = iy[:, None] - (torch.arange(h, device=device) * g.stride[0] + g.origin[0])[None, :]
    rb = ix[:, None] - (torch.arange(w, device=device) * g.stride[1] + g.origin[1])[None, :]
    ok = ((ra >= 0) & (ra < pa))[:, :, None] & ((rb >= 0) & (rb < pb))[:, None, :]
    position = (torch.arange(h, device=device)[:, None] * w
                + torch.arange(w, device=device)[None, :])  # [H, W]
    index = (((position[None] * c_in + channel[:, None, None]) * pa
              + ra.clamp(0, pa - 1)[:, :, None]) * pb + rb.clamp(0, pb - 1)[:, None, :])
    zero = h * w * c_in * pa * pb
    index = torch.where(ok, index, torch.full_like(index, zero))  # [k, H, W]
    if p.with_zero is None:  # once per node, whatever the number of chunks of axes
        parts = [p.t.reshape(r, zero, c), p.t.new_zeros((r, 1, c))]
        p.with_zero = torch.cat(parts, dim=1) if padded is None else \
            torch.cat(parts, dim=1, out=padded((r, zero + 1, c)))
    source, index = p.with_zero, index.reshape(-1)
    if out is None:
        dense = source.index_select(1, index)
    else:  # reused memory: a fresh tensor of this size costs a page fault per 4 KiB
        dense = torch.index_select(source, 1, index, out=out((r, len(index), c)))
    return dense.reshape(r, len(columns), h, w, c).permute(0, 1, 4, 2, 3)


# --- the plan and the engine --------------------------------------------------------------

class PatchPlan:
    """Which steps of a module run on patches, and which patch nodes later steps read: the
    numpy reference's plan (:class:`plnet.analysis.patches.PatchPlan`, from the ops'
    ``patch_geometry`` rules) over the steps whose lowerings have a patch rule.

    Attributes:
        geometry: step index -> its :class:`Geometry` (patch steps only).
        handover: patch steps that a dense step reads (converted by :func:`densify`).
        pattern_steps: the pattern steps whose units come from patches (none: the plan
            saves nothing).
    """

    def __init__(self, module):
        index = {step.name: i for i, step in enumerate(module.steps)}
        lowerings = {step.name: step.lowering for step in module.steps}
        nodes = NodePlan(module.net, usable=lambda name: any(
            hasattr(lowerings[name], rule) for rule in ("patch_tangent", "patch_pattern")))
        self.geometry = {index[name]: g for name, g in nodes.geometry.items()}
        self.handover = {index[name] for name in nodes.handover}
        self.pattern_steps = tuple(i for i in sorted(self.geometry)
                                   if module.steps[i].unit_slice is not None)
        #: step -> index tables of its units (see :class:`UnitPatches`)
        self.cache = {}
        channels = module.input_shape[0] if len(module.input_shape) == 3 else 0
        #: step -> elements of its node times input channels (per unit of box area)
        self.sizes = {i: channels * math.prod(module.net.shapes[step.name])
                      for i, step in enumerate(module.steps)}

    def bytes_per_point(self, dtype) -> int:
        """A bound on the patch memory one point takes (every node alive, and room for
        the temporaries of the widest step)."""
        itemsize = torch.empty((), dtype=dtype).element_size()
        total = widest = 0
        for i, g in self.geometry.items():
            size = self.sizes[i] * g.size[0] * g.size[1]
            total, widest = total + size, max(widest, size)
        return itemsize * (total + 8 * widest)


def patch_plan(module) -> PatchPlan:
    """The module's :class:`PatchPlan` (cached on it)."""
    plan = module.__dict__.get("_patch_plan")
    if plan is None:
        plan = module.__dict__["_patch_plan"] = PatchPlan(module)
    return plan


def propagate_patches(module, plan: PatchPlan, pattern, workspace,
                      put_units) -> dict[int, Patches]:
    """Run the patch steps; each pattern step's :class:`UnitPatches` go to
    ``put_units(step, units)``. With a ``workspace`` the patches live in memory reused from
    call to call (the kept ones until the next call).

    Returns:
        step index -> :class:`Patches` for the steps in ``plan.handover``.
    """
    params = module.param_tensors()
    env, kept = {}, {}
    last_use = {}
    for i in plan.geometry:
        for j in module.steps[i].inputs:
            last_use[j] = i
    for i in sorted(plan.geometry):
        step = module.steps[i]
        if not step.inputs:
            env[i] = identity_patches(module.input_shape, module.dtype, module.device)
        else:
            low = step.lowering
            ins = [env[j] for j in step.inputs]
            frozen = pattern.indicators.get(step.name)
            alloc = _allocator(workspace, i, ins[0].t)
            if hasattr(low, "patch_pattern"):  # units that are not the input's elements
                units, env[i] = low.patch_pattern(ins[0], frozen, plan.geometry[i], alloc)
            else:
                if step.unit_slice is not None:
                    units = elementwise_units(ins[0])
                env[i] = low.patch_tangent(ins, params, frozen, plan.geometry[i], alloc)
            if step.unit_slice is not None:
                units.cache = plan.cache.setdefault(i, {})
                put_units(step, units)
            for j in step.inputs:
                if last_use.get(j) == i and j not in plan.handover:
                    env.pop(j, None)
        if i in plan.handover:
            kept[i] = env[i]
    return kept


def _allocator(workspace, step, like):
    """``alloc(shape, part="out", zero=True)``: memory for a step's patches."""
    def alloc(shape, part="out", zero=True):
        if workspace is None:
            return like.new_zeros(shape) if zero else like.new_empty(shape)
        buf = workspace.get(("patch", step, part), tuple(shape), like)
        return buf.zero_() if zero else buf
    return alloc
