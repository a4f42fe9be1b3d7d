"""Fused forward-and-tangent pass of dense ReLU chains, for Eq. 10's few sampled axes.

The general engine (:mod:`plnet.backends.torch.perturbation`) first runs the forward pass,
then pushes the ``k`` one-hot tangents through the frozen network: two passes, two GEMMs
per layer and many small ops. For an MLP with ``k`` of a few axes the per-op overhead
dominates, so this module does both in ONE pass: every hidden dense layer multiplies the
stacked ``[(1 + k) * B, n]`` rows (the forward rows and the ``k`` tangent rows of every
point) by its weight in a single GEMM, the bias goes to the forward rows only, and the
ReLU slopes computed from the forward rows multiply all rows. The first layer's tangents
are the sampled columns of its weight (no GEMM); the output layer's are not needed.

Only plain chains ``input [-> flatten] -> dense -> relu -> ... -> dense`` take this path
(:func:`dense_chain`), recognized by their lowerings' ``fused_role`` ("reshape", "dense",
"leaky"); every other network uses the general engine, which gives the same numbers.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable



def dense_chain(module):
    """``[(dense_step, relu_step or None), ...]`` when ``module`` is a plain dense chain.

    The chain is cached on the module; None (also cached) when the network is anything
    else: the caller then falls back to the general engine.
    """
    cached = module.__dict__.get("_dense_chain", False)
    if cached is not False:
        return cached
    chain = _find_chain(module)
    module.__dict__["_dense_chain"] = chain
    return chain


def _find_chain(module):
    """The chain's ``(dense, relu)`` step pairs, or None (see :func:`dense_chain`)."""
    steps = module.steps
    if module.output_index != len(steps) - 1:
        return None
    for j in range(1, len(steps)):
        if steps[j].inputs != (j - 1,):
            return None  # not a chain (residual adds, concatenations, ...)
    chain, i = [], 1
    # a leading flatten/reshape to the flat input is a view: skip it
    while i < len(steps) and steps[i].lowering.fused_role == "reshape" \
            and len(steps[i].lowering.out_shape) == 1:
        i += 1
    while i < len(steps):
        if steps[i].lowering.fused_role != "dense":
            return None
        relu = None
        if i + 1 < len(steps):
            relu = steps[i + 1]
            if relu.lowering.fused_role != "leaky" or len(relu.lowering.in_shapes[0]) != 1:
                return None
        chain.append((steps[i], relu))
        i += 2
    if len(chain) < 2 or chain[-1][1] is not None:
        return None  # no unit at all, or the output is a unit's (not the last dense's)
    return chain


def sampled_terms(module, x, columns, scale=1.0):
    """Eq. 10's terms from one fused pass, or None when neither fused pass applies.

    Dense chains take :func:`fused_sampled_terms`; other networks whose ops all run
    stacked take :func:`plnet.backends.torch.stacked.stacked_sampled_terms`; None (the
    caller uses the general engine) past the memory budget or for an unsupported op.

    Returns:
        ``(logits, z [B, N], sq [B, N])`` as :func:`fused_sampled_terms`, or None.
    """
    from plnet.backends.torch import stacked

    batch, k = x.shape[0], len(columns)
    chain = dense_chain(module)
    if chain is not None:
        return fused_sampled_terms(module, chain, x, columns, scale) \
            if fits(module, batch, k) else None
    terms = cone_terms(module, x, columns, scale)
    if terms is not None:
        return terms
    if stacked.unsupported_steps(module) or not stacked.fits(module, batch, k):
        return None
    return stacked.stacked_sampled_terms(module, x, columns, scale, with_cones=False)


def cone_terms(module, x, columns, scale=1.0):
    """Eq. 10's terms from the stacked pass on forward cones
    (:mod:`plnet.backends.torch.cones`), or None: no cones for this network or these axes,
    or they outgrew the engines' budget (then, for this batch size and number of axes,
    not tried again: the windows grow as wide each time)."""
    from plnet.backends.torch import cones, stacked
    from plnet.backends.torch.gradients import WORKSPACE_BYTES

    key = (x.shape[0], len(columns))
    overflows = module.__dict__.setdefault("_cone_overflows", set())
    if stacked.unsupported_steps(module) or not cones.usable(module, key[1]) \
            or key in overflows:
        return None
    terms = stacked.stacked_sampled_terms(module, x, columns, scale, with_cones=True,
                                          budget=WORKSPACE_BYTES)
    if terms is None:
        overflows.add(key)
    return terms


def fits(module, batch: int, num_axes: int) -> bool:
    """Whether the ``[1 + k, B, N]`` tensors of the fused pass fit the engines' budget.

    The fused pass is meant for Eq. 10's few axes; many axes go through the general
    engine, which works in chunks of axes.
    """
    from plnet.backends.torch.gradients import WORKSPACE_BYTES

    itemsize = torch.empty((), dtype=module.dtype).element_size()
    # pre-activations, rows and their gradients: about four tensors of this size
    return 4 * (1 + num_axes) * batch * module.num_units * itemsize <= WORKSPACE_BYTES


def fused_sampled_terms(module, chain, x, columns, scale=1.0):
    """Logits, every unit's value and its squared gradient summed over ``columns``.

    Args:
        module: a compiled network whose :func:`dense_chain` is ``chain``.
        chain: ``dense_chain(module)``.
        x: ``[B, *input_shape]``, already prepared.
        columns: ``[k]`` long tensor of flat input axes.
        scale: factor applied to the sums of squares (Eq. 10's ``D / k``).

    Returns:
        ``(logits [B, L], z [B, N], sq [B, N])`` with
        ``sq = scale * sum_axes (dz/dx_axis)^2``, differentiable in the parameters (and in
        ``x``).
    """
    params = module.param_tensors()
    tensors, leaks = [], []
    for dense, relu in chain:
        tensors += dense.lowering.weight_and_bias(params)
        leaks.append(relu.lowering.slope if relu is not None else None)
    return _FusedChain.apply(x.reshape(x.shape[0], -1), columns, tuple(leaks), float(scale),
                             *tensors)


class _FusedChain(torch.autograd.Function):
    """The fused pass with a hand-written backward: one autograd node for the whole chain.

    Recorded op by op, the pass is some forty small autograd nodes per step whose
    bookkeeping (zero-filled gradients of views, concatenations, broadcasts) costs about as
    much as its GEMMs; here forward and backward run the GEMMs and a few elementwise ops.
    All pre-activations live in one ``[1 + k, B, N]`` tensor (block 0: the forward rows,
    then one block per axis; layer ``l`` owns the unit columns ``s_l``), so that the units'
    values and squared tangents come out of it without concatenations. Layer ``l`` computes
    ``pre[:, :, s_l] = rows_{l-1} W_l^T (+ b_l on block 0)`` with one GEMM writing in place
    (a column slice of a row-major matrix is a valid GEMM operand), and
    ``rows_l = pre[:, :, s_l] * slopes_l``, the slopes of block 0's pattern.
    """

    @staticmethod
    def forward(ctx, x, columns, leaks, scale, *tensors):
        weights, biases = tensors[0::2], tensors[1::2]
        b, k = x.shape[0], len(columns)
        sizes = [w.shape[0] for w in weights[:-1]]
        pre = x.new_empty((1 + k, b, sum(sizes)))
        masks, rows, start = [], [x], 0
        for layer, (weight, bias, leak, n) in enumerate(zip(weights, biases, leaks, sizes)):
            block = pre[:, :, start:start + n]
            start += n
            if layer == 0:
                if bias is None:
                    torch.mm(x, weight.t(), out=block[0])
                else:
                    torch.addmm(bias, x, weight.t(), out=block[0])
                # d z / d x_axis is the weight's column, the same for every point (made
                # contiguous first: a broadcast copy from a strided source is twice slower)
                block[1:] = weight.index_select(1, columns).t().contiguous().unsqueeze(1)
            else:
                torch.mm(rows[-1].view(-1, rows[-1].shape[-1]), weight.t(),
                         out=block.view(-1, n))
                if bias is not None:  # the offset moves the forward rows only
                    block[0] += bias
            if leak == 0.0:
                mask = torch.gt(block[0], 0, out=torch.empty_like(block[0]))
            else:
                mask = torch.full_like(block[0], leak).masked_fill_(block[0] > 0, 1.0)
            masks.append(mask)
            # the output layer reads the last hidden layer's forward rows only
            rows.append(block * mask if layer < len(sizes) - 1 else (block[0] * mask)[None])
        logits = torch.nn.functional.linear(rows[-1][0], weights[-1], biases[-1])
        sq = _sum_of_block_squares(pre[1:]).mul_(scale)
        ctx.save_for_backward(x, columns, pre, *tensors, *masks, *rows[1:])
        ctx.layout = len(weights), sizes, scale
        return logits, pre[0].clone(), sq

    @staticmethod
    @once_differentiable
    def backward(ctx, g_logits, g_z, g_sq):
        n_layers, sizes, scale = ctx.layout
        saved = ctx.saved_tensors
        x, columns, pre = saved[:3]
        tensors = saved[3:3 + 2 * n_layers]
        masks = saved[3 + 2 * n_layers:3 + 2 * n_layers + len(sizes)]
        rows = (x,) + saved[3 + 2 * n_layers + len(sizes):]
        weights, biases = tensors[0::2], tensors[1::2]
        grads = [None] * (2 * n_layers)
        # gradient of pre from the units' own terms first; the layers above add theirs
        g_pre = torch.empty_like(pre) if g_sq is not None else torch.zeros_like(pre)
        if g_sq is not None:  # g_sq is often an expanded scalar: scaling it first is slow
            torch.mul(pre[1:], g_sq, out=g_pre[1:]).mul_(2 * scale)
        if g_z is not None:
            g_pre[0] = g_z
        elif g_sq is not None:
            g_pre[0] = 0
        if g_logits is not None:
            last = rows[-1][0]
            grads[-2] = g_logits.t() @ last
            if biases[-1] is not None:
                grads[-1] = g_logits.sum(dim=0)
            # only the forward rows feed the output layer
            g_pre[0, :, -sizes[-1]:].addcmul_(g_logits @ weights[-1], masks[-1])
        stop = pre.shape[2]
        for layer in range(len(sizes) - 1, -1, -1):
            n, weight = sizes[layer], weights[layer]
            block = g_pre[:, :, stop - n:stop]
            stop -= n
            if biases[layer] is not None:
                grads[2 * layer + 1] = block[0].sum(dim=0)
            if layer == 0:
                g_weight = block[0].t() @ x
                g_weight.index_add_(1, columns, block[1:].sum(dim=1).t())
                grads[0] = g_weight
                g_x = block[0] @ weight if ctx.needs_input_grad[0] else None
                return (g_x, None, None, None, *grads)
            flat, prev = block.view(-1, n), rows[layer]
            prev_flat = prev.view(-1, prev.shape[-1])
            grads[2 * layer] = flat.t() @ prev_flat
            # through this layer's GEMM and the slopes below it, into their columns
            below = g_pre[:, :, stop - sizes[layer - 1]:stop]
            below.addcmul_((flat @ weight).view(prev.shape), masks[layer - 1])
        raise AssertionError("dense chain without units")  # pragma: no cover


def _sum_of_block_squares(blocks):
    """``sum_j blocks[j] ** 2`` over the first dimension, one block at a time (no
    temporary of the squares of all blocks)."""
    total = blocks[0].square()
    for block in blocks[1:]:
        total.addcmul_(block, block)
    return total
