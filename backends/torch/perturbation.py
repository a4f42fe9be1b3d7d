"""The perturbation algorithm (paper, Section 4.1 and Appendix C), in tangent form.

First one forward pass fixes the activation pattern of every point (:func:`freeze_pattern`).
With the pattern frozen the network is linear in its input, so pushing the one-hot
input perturbations e_k through the frozen network gives every unit's partial derivative
along axis k, for all units at once. The tangents are kept tangent-major,
``[R, k, *shape]``, so that an affine op sees them as one batch of ``R * k`` ordinary inputs
(one big GEMM or convolution per layer) and needs no Jacobian code. Until the first
pattern op the tangents do not depend on the point, and R stays 1.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import networkx
import torch

from plnet.backends.torch.patch_engine import densify


@dataclasses.dataclass
class FrozenPattern:
    """The activation pattern of a batch, with the forward pass that produced it.

    Attributes:
        output: the logits ``[B, *output_shape]``.
        z: every unit's value ``[B, N]``.
        indicators: pattern node -> its lowering's indicator.
    """

    output: torch.Tensor
    z: torch.Tensor
    indicators: dict

    @property
    def batch_size(self) -> int:
        return int(self.z.shape[0])

    def rows(self, rows: slice) -> "FrozenPattern":
        """The pattern of the points ``rows`` (views, no copies)."""
        def cut(v):
            return tuple(cut(u) for u in v) if isinstance(v, tuple) else v[rows]
        return FrozenPattern(self.output[rows], self.z[rows],
                             {k: cut(v) for k, v in self.indicators.items()})


def freeze_pattern(module, x) -> FrozenPattern:
    """Run ``module`` on ``x`` (already prepared) and record its activation pattern."""
    indicators, parts = {}, []

    def visit(step, z):
        ind = step.lowering.indicator(z)
        indicators[step.name] = ind
        parts.append(step.lowering.units(z, ind))

    output = module.run(x, visit)
    z = torch.cat(parts, dim=1) if parts else x.new_zeros((x.shape[0], 0))
    return FrozenPattern(output, z, indicators)


def one_hot_columns(columns, size, dtype, device):
    """``[size, k]`` with a 1 at ``(columns[i], i)``: the Jacobian of the input."""
    eye = torch.zeros((size, len(columns)), dtype=dtype, device=device)
    eye[columns, torch.arange(len(columns), device=device)] = 1
    return eye


def one_hot_tangents(columns, input_shape, dtype, device):
    """``[1, k, *input_shape]``: the one-hot tangent of each flat input axis in ``columns``.

    Images (``[C, H, W]``) are laid out channels-last, as the first convolution runs them
    (converting the ``k`` images costs more than that convolution).
    """
    k, shape = len(columns), tuple(input_shape)
    if len(shape) != 3:
        eye = one_hot_columns(columns, math.prod(shape), dtype, device)
        return eye.t().reshape((1, k) + shape)
    c, h, w = shape
    eye = torch.zeros((k, h, w, c), dtype=dtype, device=device)
    channel, pixel = columns // (h * w), columns % (h * w)
    eye.view(k, h * w, c)[torch.arange(k, device=device), pixel, channel] = 1
    return eye.permute(0, 3, 1, 2).unsqueeze(0)


def propagate_tangents(module, pattern: FrozenPattern, columns, sink, workspace=None,
                       want_output=True, patched=None):
    """Push one-hot tangents of the input axes ``columns`` through the frozen network.

    Every pattern node's unit gradients go to ``sink`` as ``[B, n, k]``. With a
    ``workspace`` (only when no autograd graph is needed), the pattern ops write their
    tangents into memory reused from call to call. Without ``want_output``, the steps that
    feed no pattern node (e.g. the logits layer) are skipped. ``patched`` (a
    :class:`plnet.backends.torch.patch_engine.PatchPlan` and the patches it kept) marks steps
    already run on receptive-field patches: they are skipped, and those later steps read
    are converted to tangents of ``columns``.

    Returns:
        The output's tangents ``[R, k, *output_shape]`` (R = 1 if no pattern op is
        upstream), or None without ``want_output``.
    """
    params = module.param_tensors()
    env = [None] * len(module.steps)
    fusions, done = masked_tangent_fusions(module), set()
    flattened = flatten_dense_fusions(module)
    skipped = set() if want_output else steps_feeding_no_unit(module)
    unread, unit_major = _read_plan(module, want_output)
    if workspace is None or getattr(sink, "put_tangents", None) is not None:
        unit_major = ()  # only a dense sink in place takes the units' rows as they come
    plan, kept = patched if patched is not None else (None, {})
    for i, step in enumerate(module.steps):
        low = step.lowering
        if plan is not None and i in plan.geometry:
            if i in kept:
                slot = padded = None
                if i != module.output_index and workspace is not None:
                    slot, padded = (functools.partial(workspace.get, (part, i), like=kept[i].t)
                                    for part in ("densified", "zero-padded patches"))
                env[i] = densify(kept[i], columns, module.input_shape, slot, padded)
            continue
        if i in done or i in skipped:  # computed together with its pattern op, or unused
            for j in step.free:
                env[j] = None
            continue
        if not step.inputs:
            env[i] = one_hot_tangents(columns, module.input_shape, module.dtype,
                                      module.device)
            continue
        if i in flattened:  # the dense consumer reads the images as they lie
            env[i] = env[step.inputs[0]]
        elif i in unit_major:  # laid out as the result's rows of the units it feeds
            env[i] = low.unit_major_tangent(env[step.inputs[0]], params,
                                            images=step.inputs[0] in flattened,
                                            out=_reusable(module, workspace, i,
                                                          env[step.inputs[0]]))
        elif step.inputs[0] in flattened:
            env[i] = low.image_tangent(env[step.inputs[0]], params,
                                       out=_reusable(module, workspace, i, env[step.inputs[0]]))
        if i in flattened or i in unit_major or step.inputs[0] in flattened:
            for j in step.free:
                env[j] = None
            continue
        tangents = [env[j] for j in step.inputs]
        frozen = pattern.indicators.get(step.name)
        if step.unit_slice is not None:
            _put_units(sink, step, tangents[0], frozen)
        consumer = fusions.get(i)
        if i in unread:  # its units are all that is asked of it
            pass
        elif consumer is not None and tangents[0].shape[0] == 1:
            env[consumer] = module.steps[consumer].lowering.masked_tangent(
                tangents[0], low.slopes(frozen, params, module.dtype),
                out=_reusable(module, workspace, consumer, tangents[0]))
            done.add(consumer)
        else:
            env[i] = low.tangent(tangents, params, frozen,
                                 out=_reusable(module, workspace, i, tangents[0]))
        for j in step.free:
            env[j] = None
    return env[module.output_index] if want_output else None


def steps_feeding_no_unit(module) -> frozenset[int]:
    """Steps that are neither a pattern node nor upstream of one: only the output's
    tangents need them."""
    cached = module.__dict__.get("_steps_feeding_no_unit")
    if cached is not None:
        return cached
    graph, needed = module.net.graph, set()
    for step in module.steps:
        if step.unit_slice is not None:
            needed.add(step.name)
            needed.update(networkx.ancestors(graph, step.name))
    skipped = frozenset(i for i, step in enumerate(module.steps) if step.name not in needed)
    module.__dict__["_steps_feeding_no_unit"] = skipped
    return skipped


def _read_plan(module, want_output) -> tuple[frozenset[int], frozenset[int]]:
    """``(unread, unit_major)``, cached on the module per ``want_output``.

    ``unread``: steps other than the output whose tangents no step that runs reads (a last
    pattern op before the skipped logits layer: only its units are asked of it).
    ``unit_major``: dense steps whose only consumer is an elementwise pattern op in
    ``unread``; their tangents are wanted as the result's rows of those units.
    """
    cache = module.__dict__.setdefault("_read_plans", {})
    if want_output in cache:
        return cache[want_output]
    skipped = set() if want_output else steps_feeding_no_unit(module)
    graph, index = module.net.graph, {step.name: i for i, step in enumerate(module.steps)}
    consumers = [[index[c] for c in graph.successors(step.name)] for step in module.steps]
    unread = frozenset(i for i in range(len(module.steps)) if i != module.output_index
                       and all(c in skipped for c in consumers[i]))
    unit_major = frozenset(
        i for i, step in enumerate(module.steps)
        if hasattr(step.lowering, "unit_major_tangent") and len(consumers[i]) == 1
        and consumers[i][0] in unread and module.steps[consumers[i][0]].unit_slice is not None
        and module.steps[consumers[i][0]].lowering.elementwise)
    cache[want_output] = unread, unit_major
    return cache[want_output]


def _put_units(sink, step, tangents, frozen):
    """Hand a pattern node's unit tangents to ``sink``: as they are (axis-major) when the
    sink reduces them and the units are the input's elements, else ``[B, n, k]``."""
    low = step.lowering
    put_tangents = getattr(sink, "put_tangents", None)
    if put_tangents is None:
        sink.put(step.unit_slice, low.unit_tangents(tangents, frozen).transpose(1, 2))
    elif low.elementwise:
        put_tangents(step.unit_slice, tangents)
    else:
        put_tangents(step.unit_slice, low.unit_tangents(tangents, frozen))


def _reusable(module, workspace, slot, like):
    """``out(shape)`` giving workspace memory for step ``slot``'s tangents, or None.

    The output's tangents are returned to the caller and never live in the workspace.
    """
    if workspace is None or slot == module.output_index:
        return None
    return functools.partial(workspace.like, ("tangent", slot), like=like)


def masked_tangent_fusions(module) -> dict[int, int]:
    """Elementwise pattern steps whose only consumer accepts a masked tangent: step -> it.

    Right after the first pattern op the tangents are still shared by all points; masking
    them per point and then, say, pooling them would write and read a ``[B, k, *shape]``
    tensor, while the consumer's ``masked_tangent`` writes only its own result.
    """
    cached = module.__dict__.get("_masked_tangent_fusions")
    if cached is not None:
        return cached
    index = {step.name: i for i, step in enumerate(module.steps)}
    fusions = {}
    for i, step in enumerate(module.steps):
        consumers = list(module.net.graph.successors(step.name))
        if step.unit_slice is None or not step.lowering.elementwise or len(consumers) != 1 \
                or step.name == module.net.output:
            continue
        if module.steps[index[consumers[0]]].lowering.accepts_masked_tangent:
            fusions[i] = index[consumers[0]]
    module.__dict__["_masked_tangent_fusions"] = fusions
    return fusions


def flatten_dense_fusions(module) -> frozenset[int]:
    """Flatten steps of an image whose only consumer is a dense layer (which then takes
    the image tangents directly, see ``DenseLowering.image_tangent``)."""
    cached = module.__dict__.get("_flatten_dense_fusions")
    if cached is not None:
        return cached
    index = {step.name: i for i, step in enumerate(module.steps)}
    fused = set()
    for i, step in enumerate(module.steps):
        low = step.lowering
        consumers = list(module.net.graph.successors(step.name))
        if not step.inputs or len(low.in_shapes[0]) != 3 or len(low.out_shape) != 1 \
                or not getattr(low, "flattens", False) or len(consumers) != 1 \
                or step.name == module.net.output:
            continue
        if hasattr(module.steps[index[consumers[0]]].lowering, "image_tangent"):
            fused.add(i)
    module.__dict__["_flatten_dense_fusions"] = frozenset(fused)
    return module.__dict__["_flatten_dense_fusions"]


class Workspace:
    """Reusable flat buffers keyed by slot.

    Large fresh temporaries cost a page fault per 4 KiB page on every call; buffers kept
    here are reused by later calls of the same shapes (hold it on the module).
    """

    def __init__(self):
        self.buffers = {}

    def get(self, slot, shape, like):
        size = math.prod(shape)
        buf = self.buffers.get(slot)
        if buf is None or buf.numel() < size or buf.dtype != like.dtype or \
                buf.device != like.device:
            buf = self.buffers[slot] = torch.empty(size, dtype=like.dtype, device=like.device)
        return buf[:size].view(tuple(shape))

    def like(self, slot, shape, like):
        """A buffer of ``shape`` laid out in memory like ``like`` (e.g. channels-last),
        so that elementwise ops keep the layout the next convolution wants."""
        inner = sorted(range(1, len(shape)), key=lambda d: -like.stride(d))
        perm = [0] + inner
        flat = self.get(slot, tuple(shape[d] for d in perm), like)
        return flat.permute([perm.index(d) for d in range(len(shape))])

    def clear(self):
        self.buffers.clear()
