"""The Jacobian recursion (paper, Appendix D): multiply Jacobians layer by layer.

Jacobians are unit-major, ``[R, n, k]`` (n flattened units of a node, k input axes,
R = B or 1 when no pattern op is upstream), so a dense layer is ``W @ J`` and the unit
gradients land in the ``[B, N, k]`` result without a transpose. A ReLU's 0/1 (or
LeakyReLU's 1/alpha) diagonal Jacobian is kept as a lazy row scale and folded into the
next dense layer's weight columns, ``(W diag(s)) J``, which costs ``out x in`` per point
instead of a pass over ``n x k``. Convolutions are not handled here: as a matrix they are
large and sparse (Appendix D), the perturbation engine handles them.
"""

from __future__ import annotations

import numpy as np
import torch

from plnet.backends.torch.lowering import ReshapeLowering, ScaleShiftLowering
from plnet.backends.torch.lowering_pattern import MaxPoolLowering, ReluLowering
from plnet.backends.torch.perturbation import FrozenPattern, Workspace, one_hot_columns
from plnet.errors import UnsupportedOpError
from plnet.ops import Add, Concat, Dense, Input, Pad, Slice, Take, Transpose

_GATHER_VIEWS = (Transpose, Slice, Take, Concat, Pad)


class _Jac:
    """``diag(scale) @ mat`` (scale ``[Rs, n]`` or None); ``mat`` None is the identity."""

    __slots__ = ("mat", "scale", "stored")

    def __init__(self, mat, scale=None, stored=None):
        self.mat, self.scale, self.stored = mat, scale, stored


def unsupported_nodes(module) -> list[str]:
    """Nodes the recursion cannot handle (convolutions, pooling), with their op."""
    bad = []
    for step in module.steps:
        op = module.net.op(step.name)
        if not isinstance(op, (Input, Dense, Add) + _GATHER_VIEWS) and not isinstance(
                step.lowering, (ReshapeLowering, ScaleShiftLowering, ReluLowering,
                                MaxPoolLowering)):
            bad.append(f"{step.name} ({op.type_name})")
    return bad


class RecursionPlan:
    """Static facts the recursion needs per node: consumers and view index maps."""

    def __init__(self, module):
        bad = unsupported_nodes(module)
        if bad:
            raise UnsupportedOpError(
                f"method='recursion' multiplies dense Jacobians and does not handle nodes "
                f"{bad}; use method='perturbation' (or 'auto') for this network")
        net = module.net
        self.consumers = {name: list(net.graph.successors(name)) for name in net.order}
        self.gather = {}
        for step in module.steps:
            op = net.op(step.name)
            if isinstance(op, _GATHER_VIEWS):
                self.gather[step.name] = self._index_map(net, step.name, op)

    @staticmethod
    def _index_map(net, name, op):
        # run the view on numbered positions: position p of input i is 1 + offset_i + p,
        # and 0 is a padded zero
        arrays, offset = [], 1
        for u in net.inputs_of(name):
            size = int(np.prod(net.shapes[u]))
            arrays.append(np.arange(offset, offset + size, dtype=np.float64)
                          .reshape((1,) + net.shapes[u]))
            offset += size
        index = op.forward(arrays, net.params).reshape(-1).astype(np.int64)
        return torch.as_tensor(index)


def _materialize(jac, rows_to, eye, out=None):
    mat = eye if jac.mat is None else jac.mat
    if jac.scale is None:
        if out is not None:
            out.copy_(mat.expand(out.shape))
            return out
        return mat if rows_to is None else mat.expand((rows_to,) + mat.shape[1:])
    if out is not None:
        return torch.mul(mat.expand(out.shape), jac.scale.unsqueeze(2).expand(out.shape), out=out)
    mat = mat * jac.scale.unsqueeze(2)
    return mat if rows_to is None else mat.expand((rows_to,) + mat.shape[1:])


def propagate_jacobians(module, plan: RecursionPlan, pattern: FrozenPattern, columns, sink,
                        workspace=None):
    """Unit-major Jacobian recursion; same contract as ``propagate_tangents``.

    Returns:
        The output's Jacobian ``[R, L, k]``.
    """
    params = module.param_tensors()
    net, b = module.net, pattern.batch_size
    eye = one_hot_columns(columns, module.input_size, module.dtype, module.device).unsqueeze(0)
    full = len(columns) == module.input_size and bool(
        (columns == torch.arange(len(columns), device=columns.device)).all())
    env = [None] * len(module.steps)
    workspace = Workspace() if workspace is None else workspace
    for i, step in enumerate(module.steps):
        op, low = net.op(step.name), step.lowering
        ins = [env[j] for j in step.inputs]
        if not step.inputs:
            env[i] = _Jac(None)
        elif isinstance(op, Dense):
            env[i] = _dense(op, params, ins[0], net.shapes[net.inputs_of(step.name)[0]], eye,
                            full, columns, _direct_target(module, plan, step, sink), workspace)
        elif isinstance(low, ScaleShiftLowering):
            env[i] = _scale(op, params, ins[0], net.shapes[net.inputs_of(step.name)[0]])
        elif isinstance(low, ReshapeLowering):
            env[i] = _Jac(ins[0].mat, ins[0].scale)
        elif isinstance(op, _GATHER_VIEWS):
            mats = [_materialize(j, None, eye) for j in ins]
            rows = max(m.shape[0] for m in mats)
            mats = [m.expand((rows,) + m.shape[1:]) for m in mats]
            zero = mats[0].new_zeros((rows, 1, mats[0].shape[2]))
            stacked = torch.cat([zero] + mats, dim=1)
            env[i] = _Jac(stacked.index_select(1, plan.gather[step.name].to(stacked.device)))
        elif isinstance(op, Add):
            mats = [_materialize(j, None, eye) for j in ins]
            total = mats[0]
            for m in mats[1:]:
                total = total + m
            env[i] = _Jac(total)
        elif isinstance(low, ReluLowering):
            env[i] = _relu(low, step, pattern.indicators[step.name], ins[0], eye, sink, b)
        else:  # max pooling
            env[i] = _maxpool(low, step, pattern.indicators[step.name], ins[0], eye, sink, b)
        for j in step.free:
            env[j] = None
    return _materialize(env[module.output_index], None, eye)


def _direct_target(module, plan, step, sink):
    """Where a dense node may write its Jacobian: its ReLU consumer's slot in the sink."""
    consumers = plan.consumers[step.name]
    if len(consumers) != 1 or step.name == module.net.output:
        return None
    child = module.steps[module.net.order.index(consumers[0])]
    if not isinstance(child.lowering, ReluLowering):
        return None
    target = sink.target(child.unit_slice)
    return None if target is None else (child.unit_slice, target)


def _dense(op, params, jac, in_shape, eye, full, columns, target, workspace):
    weight = params[op.weight]
    n_in = in_shape[-1]
    rows_in = int(np.prod(in_shape[:-1]))
    if jac.mat is None and jac.scale is None and rows_in == 1:
        mat = weight if full else weight.index_select(1, columns)  # W @ I, no GEMM
        return _Jac(mat.unsqueeze(0))
    if rows_in > 1:
        mat = _materialize(jac, None, eye)
        r, _, k = mat.shape
        out = torch.matmul(weight, mat.reshape(r, rows_in, n_in, k))
        return _Jac(out.reshape(r, -1, k))
    mat = eye if jac.mat is None else jac.mat
    if jac.scale is None:
        if mat.shape[0] == 1:
            return _Jac(torch.matmul(weight, mat[0]).unsqueeze(0))
        left = weight.expand((mat.shape[0],) + weight.shape)
    elif target is not None:  # no autograd: W diag(s) per point into a reused buffer
        shape = (jac.scale.shape[0],) + tuple(weight.shape)
        left = torch.mul(weight.unsqueeze(0), jac.scale.unsqueeze(1),
                         out=workspace.get("left", shape, weight))
    else:
        left = weight.unsqueeze(0) * jac.scale.unsqueeze(1)  # W diag(s), per point
    if mat.shape[0] == 1:
        # a shared right operand: one (B * out, in) x (in, k) GEMM; a stride-0 batch in
        # bmm is several times slower
        result = torch.matmul(left, mat[0])
        if target is not None and tuple(target[1].shape) == tuple(result.shape):
            target[1].copy_(result)
            return _Jac(target[1], stored=target[0])
        return _Jac(result)
    left = left.expand((mat.shape[0],) + left.shape[1:])
    if target is not None and tuple(target[1].shape) == (mat.shape[0], left.shape[1],
                                                          mat.shape[2]):
        # bmm into a strided slice of the result is several times slower than into
        # contiguous memory plus one copy
        result = torch.bmm(left, mat, out=workspace.get("out", target[1].shape, mat))
        target[1].copy_(result)
        return _Jac(target[1], stored=target[0])
    return _Jac(torch.bmm(left, mat))


def _scale(op, params, jac, shape):
    if op.scale is None:
        return _Jac(jac.mat, jac.scale)
    factor = torch.broadcast_to(params[op.scale], shape).reshape(1, -1)
    return _Jac(jac.mat, factor if jac.scale is None else jac.scale * factor)


def _relu(low, step, ind, jac, eye, sink, batch):
    unit_slice = step.unit_slice
    slopes = low.local_slopes(ind, eye.dtype).reshape(batch, -1)
    if jac.stored == unit_slice:
        sink.put(unit_slice, None, written=True)
    else:
        target = sink.target(unit_slice)
        if target is not None:
            _materialize(jac, batch, eye, out=target)
            sink.put(unit_slice, None, written=True)
            # the stored copy is per point: the next dense layer runs one regular bmm on it
            return _Jac(target, slopes)
        sink.put(unit_slice, _materialize(jac, None, eye))  # a shared Jacobian stays 1 row
    return _Jac(jac.mat if jac.mat is not None else eye,
                slopes if jac.scale is None else jac.scale * slopes)


def _maxpool(low, step, ind, jac, eye, sink, batch):
    mat = _materialize(jac, batch, eye)
    k = mat.shape[2]
    _, selected, other = ind
    n_in, channels = low.n_in, low.channels
    base = (torch.arange(channels, device=mat.device) * n_in).view(1, channels, 1)
    row_out = low.row_out.to(mat.device)
    sel_rows = (selected[..., row_out] + base).reshape(batch, -1, 1).expand(-1, -1, k)
    oth_rows = (other + base).reshape(batch, -1, 1).expand(-1, -1, k)
    sink.put(step.unit_slice, mat.gather(1, sel_rows) - mat.gather(1, oth_rows))
    out_rows = (selected + base).reshape(batch, -1, 1).expand(-1, -1, k)
    return _Jac(mat.gather(1, out_rows))
