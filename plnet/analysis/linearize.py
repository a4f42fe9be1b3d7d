"""Local linearization: every unit's value and exact input-gradient, and the output's
affine map, on the linear region of each point.

The engine is the paper's perturbation argument (Appendix C) in tangent form: with the
activation pattern frozen, the network is affine, so the Jacobian of every tensor with
respect to the input is propagated by applying each op's *linear part* to the Jacobian's D
columns at once. Jacobians are kept tangent-major, ``[B, D, *shape]``, so an affine op sees
them as a batch of ``B * D`` ordinary inputs and needs no Jacobian code of its own. Until the
first pattern-carrying op, the Jacobian is the same for every sample and is kept with a
batch axis of 1.

Two memory-traffic savings keep the reference close to its floor (the chain of matrix
products it must perform; see benchmarks/bench_linearize.py): an elementwise local map
(ReLU, LeakyReLU) is not applied but deferred and folded into the next dense layer's
weights, and a dense layer feeding a pattern op writes its Jacobian straight into the
``[B, D, N]`` buffer of unit gradients.

Convolutional networks get a third, receptive-field patches (:mod:`plnet.analysis.patches`):
a unit at spatial position ``(y, x)`` depends only on the input pixels of its receptive
field, so the leading convolutional part of a ``[C, H, W]`` network carries per position
only the box of input axes around it (while it holds at most half of the D axes), not all D
tangents, zeros elsewhere. Its pattern nodes write their units' gradients from the boxes
(zeros outside them); the nodes that later steps read are converted back to ``[B, D,
*shape]`` tangents. The results equal the dense path's up to float64 rounding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses

import numpy as np
import numpy.typing as npt

from plnet.analysis.budget import bytes_per_point, format_bytes
from plnet.analysis.interpreter import Interpreter
from plnet.analysis.norms import check_finite
from plnet.analysis.patches import Handover, PatchPlan, identity_patches, patch_node
from plnet.analysis.pattern import pattern_keys
from plnet.analysis.sequences import one_per_sample, over_lengths
from plnet.errors import MemoryBudgetError
from plnet.ops import Dense

if TYPE_CHECKING:  # annotations only: the network module imports the analyses
    from plnet.network import Network


@dataclasses.dataclass
class Linearization:
    """The local affine description of a network around each point of a batch.

    Attributes:
        x: the points, flattened, ``[B, D]``.
        z: every unit's value, ``[B, N]`` (ReLU/LeakyReLU: the pre-activation; max pool:
            ``z_selected - z_j`` for each other position j of the window).
        grad: every unit's input-gradient, ``[B, N, D]`` (a non-contiguous view).
        signs: ``[B, N]``, +1 or -1: the unit's row of S(x) is
            ``signs * (z + grad . (y - x)) >= 0``.
        unit_slices: node -> slice of the unit axis holding that node's units.
        output: the network's output, ``[B, *output_shape]``.
        jacobian: the output's Jacobian, ``[B, L, D]`` (L = flattened output size).
        offset: ``[B, L]`` with ``output = jacobian @ y + offset`` on the region.
        indicators: node -> activation indicators (as in :class:`ActivationPattern`).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> lin = plnet.linearize(net, x)
        >>> lin.z, lin.signs, lin.jacobian
        (array([[ 0.5 , -0.25]]), array([[ 1., -1.]]), array([[[1., 0.]]]))
    """

    x: np.ndarray
    z: np.ndarray
    grad: np.ndarray
    signs: np.ndarray
    unit_slices: dict[str, slice]
    output: np.ndarray
    jacobian: np.ndarray
    offset: np.ndarray
    indicators: dict[str, np.ndarray]

    @property
    def slack(self) -> np.ndarray:
        """``signs * z`` (``abs(z)``): each unit's value on its feasible side, ``[B, N]``."""
        return self.signs * self.z

    @property
    def tie_units(self) -> np.ndarray:
        """``[B, N]``: units exactly on a boundary that they actually draw.

        A unit with ``z == 0`` and a zero gradient is constant (zero) on the whole region,
        e.g. a max-pool comparison between two dead ReLUs: every choice of its indicator
        gives the same region and the same affine map, so it is not a boundary.
        """
        return (self.z == 0) & (np.abs(self.grad).max(axis=2, initial=0.0) > 0)

    @property
    def ties(self) -> np.ndarray:
        """``[B]``: True where the point lies on a boundary of its region (margin 0)."""
        return self.tie_units.any(axis=1)

    def pattern_keys(self) -> list[bytes]:
        """One hashable key per point; equal keys mean equal activation patterns."""
        return pattern_keys(self.indicators, self.x.shape[0])

    def take(self, i: int) -> "Linearization":
        """The linearization of point ``i`` alone (a batch of one; arrays are views)."""
        k = slice(i, i + 1)
        return Linearization(self.x[k], self.z[k], self.grad[k], self.signs[k],
                             dict(self.unit_slices), self.output[k], self.jacobian[k],
                             self.offset[k], {n: v[k] for n, v in self.indicators.items()})

    def affine_map(self, i: int = 0):
        """``(W, c)`` with ``f(y) = W @ y.ravel() + c`` on the region of point ``i``."""
        return self.jacobian[i], self.offset[i]


@dataclasses.dataclass
class _Deferred:
    """A Jacobian whose elementwise local map (``* slope``) has not been applied yet."""

    jac: np.ndarray  # [B, D, *shape]
    slope: np.ndarray  # [B, *shape]

    def materialize(self) -> np.ndarray:
        return self.jac * self.slope[:, None]


class _LinearizeInterpreter(Interpreter):
    """Carries ``(value [B, *s], jacobian [B or 1, D, *s])`` pairs through the graph."""

    def __init__(self, net, batch_size, check_jacobians=False):
        super().__init__(net)
        # Jacobians are checked once at the end; per node only to find where one overflowed
        self.check_jacobians = check_jacobians
        d = net.input_size
        self.indicators, self.values, self.signs = {}, {}, {}
        self.slices = _unit_slices(net)
        self.tangents = np.empty((batch_size, d, net.num_units))  # every unit's gradient, [B, D, N]
        # dense nodes whose Jacobian *is* the unit gradients of the pattern op they feed
        self.direct = {}
        self.patches = PatchPlan(net)  # the nodes that run on receptive-field patches
        self.handover = Handover(net.input_shape, self._last_use)
        for name in self.slices:
            (src,) = net.inputs_of(name)
            if (isinstance(net.op(src), Dense) and len(net.shapes[src]) == 1
                    and list(net.graph.successors(src)) == [name] and name != net.output):
                self.direct[src] = self.slices[name]

    def check_output(self, name, op, value):
        out, jac = value
        super().check_output(name, op, out)
        if self.check_jacobians:
            array = jac.jac if isinstance(jac, _Deferred) else getattr(jac, "t", jac)
            check_finite(array, name, type(op).__name__, "input-gradient")
            if name in self.slices:
                check_finite(self.tangents[:, :, self.slices[name]], name, type(op).__name__,
                             "units' input-gradients")

    def input_value(self, x):
        d = self.net.input_size
        if self.patches.geometry:
            return x, identity_patches(self.net.input_shape)
        return x, np.eye(d).reshape((1, d) + self.net.input_shape)

    def run_node(self, name, op, inputs):
        params = self.net.params
        values = [v for v, _ in inputs]
        value = op.forward(values, params)
        if name in self.patches.geometry:
            target = self.tangents[:, :, self.slices[name]] if name in self.slices else None
            out, indicator, z, signs = patch_node(op, values[0], [j for _, j in inputs], params,
                                                  self.patches.geometry[name], target,
                                                  self.net.input_shape)
            if op.carries_pattern:
                self.indicators[name], self.values[name], self.signs[name] = indicator, z, signs
            return value, out
        inputs = [(v, self.handover.tangents(u, j, name))
                  for u, (v, j) in zip(self.net.inputs_of(name), inputs)]
        if op.carries_pattern:
            return value, self._pattern_node(name, op, values[0], inputs[0][1])
        if isinstance(op, Dense) and len(values[0].shape) == 2:
            return value, self._dense(name, op, inputs[0][1])
        jacs = [j.materialize() if isinstance(j, _Deferred) else j for _, j in inputs]
        rows = max(j.shape[0] for j in jacs)
        if rows > 1:
            jacs = [np.broadcast_to(j, (rows,) + j.shape[1:]) for j in jacs]
        d = jacs[0].shape[1]
        out = op.linear([j.reshape((rows * d,) + j.shape[2:]) for j in jacs], params)
        return value, out.reshape((rows, d) + out.shape[1:])

    def _dense(self, name, op, jac):
        w_t = self.net.params[op.weight].T  # [in, out]
        target = self.tangents[:, :, self.direct[name]] if name in self.direct else None
        if isinstance(jac, _Deferred):  # fold the pending slopes into per-sample weights
            out = np.matmul(jac.jac, jac.slope[:, :, None] * w_t, out=target)
        elif jac.shape[0] == 1 and target is not None:
            target[...] = jac[0] @ w_t
            out = target
        else:
            out = np.matmul(jac, w_t, out=target)
        return out

    def _pattern_node(self, name, op, z, jac):
        if isinstance(jac, _Deferred):
            jac = jac.materialize()
        jac = np.broadcast_to(jac, (z.shape[0],) + jac.shape[1:])
        indicator, _ = op.pattern(z)
        self.indicators[name] = indicator
        values, tangents, signs = op.units(z, jac, indicator)
        self.values[name], self.signs[name] = values, signs
        target = self.tangents[:, :, self.slices[name]]
        if not np.shares_memory(tangents, target):
            target[...] = tangents
        slope = op.diagonal_slope(indicator, self.net.params)
        if slope is None:
            return op.apply_pattern(jac, indicator, self.net.params)
        return _Deferred(jac, slope)


@over_lengths(one_per_sample)
def linearize(net: Network, x: npt.ArrayLike) -> Linearization:
    """Every unit's value and exact input-gradient, and the output's local affine map.

    Args:
        net: a :class:`plnet.Network`.
        x: ``[B, *net.input_shape]``.

    Returns:
        A :class:`Linearization` (gradients ``[B, N, D]``).

    Raises:
        MemoryBudgetError: one point needs more memory than the budget allows.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> lin = plnet.linearize(net, x)
        >>> lin.z.shape, lin.grad.shape        # [B, N], [B, N, D]
        ((1, 2), (1, 2, 2))
    """
    x = net.check_input(x)
    try:
        return _linearize(net, x)
    except MemoryError as exc:
        if isinstance(exc, MemoryBudgetError):
            raise
        need = x.shape[0] * bytes_per_point(net)
        raise MemoryBudgetError(
            f"linearize ran out of memory: {x.shape[0]} points of this network (N="
            f"{net.num_units} units x D={net.input_size} inputs, float64) need about "
            f"{format_bytes(need)}; pass smaller batches, or use plnet.margin / "
            f"plnet.count_linear_regions (which split the batch to fit a memory budget) or "
            f"the torch backend (plnet.backends.torch)", need, 0) from exc


def _linearize(net, x) -> Linearization:
    b, d = x.shape[0], net.input_size
    interp = _LinearizeInterpreter(net, b)
    output, jac = interp.run(x)
    jac = interp.handover.tangents(net.output, jac)
    if isinstance(jac, _Deferred):
        jac = jac.materialize()

    names = list(interp.slices)
    z = (np.concatenate([interp.values[n] for n in names], axis=1) if names
         else np.zeros((b, 0)))
    signs = (np.concatenate([interp.signs[n] for n in names], axis=1) if names
             else np.zeros((b, 0)))
    n_out = int(np.prod(net.output_shape))
    jacobian = np.broadcast_to(jac, (b,) + jac.shape[1:]).reshape(b, d, n_out).transpose(0, 2, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        offset = output.reshape(b, n_out) - np.einsum("bld,bd->bl", jacobian, x.reshape(b, d))
    _check_linearization(net, x, z, interp.tangents, jacobian, offset)
    return Linearization(x.reshape(b, d), z, interp.tangents.transpose(0, 2, 1), signs,
                         dict(interp.slices), output, jacobian, offset, interp.indicators)


def _check_linearization(net, x, z, tangents, jacobian, offset) -> None:
    """Raise NonFiniteError, naming the first node at fault, if any result is not finite."""
    bad = ~(np.isfinite(z).all(axis=1) & np.isfinite(tangents).all(axis=(1, 2))
            & np.isfinite(jacobian).all(axis=(1, 2)) & np.isfinite(offset).all(axis=1))
    if not bad.any():
        return
    rows = x[bad]
    _LinearizeInterpreter(net, rows.shape[0], check_jacobians=True).run(rows)
    # every node's value and Jacobian is finite: a derived quantity overflowed
    node = net.output if np.isfinite(z[bad]).all() else next(
        name for name, sl in _unit_slices(net).items() if not np.isfinite(z[bad][:, sl]).all())
    check_finite(np.array(np.nan), node, type(net.op(node)).__name__,
                 "unit values or affine offset")


def _unit_slices(net) -> dict[str, slice]:
    slices, start = {}, 0
    for name, n in net.unit_counts().items():
        slices[name] = slice(start, start + n)
        start += n
    return slices
