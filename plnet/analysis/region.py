"""The linear region S(x) as an explicit polyhedron (paper, Lemma 2 and Appendix E)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses

import numpy as np
import numpy.typing as npt

from plnet.analysis.linearize import linearize
from plnet.analysis.sequences import over_lengths, the_only
from plnet.errors import ShapeError
from plnet.tolerances import CONTAINS_RTOL

if TYPE_CHECKING:  # annotations only: the network module imports the analyses
    from plnet.network import Network


@dataclasses.dataclass
class Polyhedron:
    """``S = {y : A y >= b}`` over flattened inputs.

    Attributes:
        A: ``[N, D]``, one row per unit (rows of zero gradient are kept: they are always
            satisfied and add no constraint).
        b: ``[N]``.
        point: the point x (flattened) whose region this is.
        unit_slices: node -> slice of rows contributed by that node.
        input_shape: per-sample input shape, to accept unflattened points.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> S = plnet.region(net, x[0])
        >>> S.A.shape, S.contains(np.array([[1.0, -1.0], [-1.0, -1.0]]))
        ((2, 2), array([ True, False]))
    """

    A: np.ndarray
    b: np.ndarray
    point: np.ndarray
    unit_slices: dict[str, slice]
    input_shape: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.A.shape[0])

    def _flat(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        d = self.A.shape[1]
        if y.shape == self.input_shape or y.shape == (d,):
            return y.reshape(1, d)
        if y.shape[1:] in (self.input_shape, (d,)):
            return y.reshape(y.shape[0], d)
        raise ShapeError(f"points of shape {y.shape} do not fit a region over inputs "
                         f"{self.input_shape}")

    def slack(self, y) -> np.ndarray:
        """``A y - b`` for each point, ``[M, N]`` (>= 0 inside)."""
        return self._flat(y) @ self.A.T - self.b

    def contains(self, y, rtol: float = CONTAINS_RTOL) -> np.ndarray:
        """``[M]`` bool: points satisfying every row up to float64 round-off."""
        yf = self._flat(y)
        scale = 1.0 + np.abs(self.b) + np.abs(self.A).sum(axis=1) * np.abs(yf).max(axis=1, keepdims=True)
        return ((yf @ self.A.T - self.b) >= -rtol * scale).all(axis=1)

    def nonzero_rows(self) -> np.ndarray:
        """Boolean mask of rows that actually constrain (non-zero normal)."""
        return np.abs(self.A).sum(axis=1) > 0


@over_lengths(the_only, single=True)
def region(net: Network, x: npt.ArrayLike) -> Polyhedron:
    """The linear region S(x) of one point as halfspaces ``A y >= b``.

    Args:
        net: a :class:`plnet.Network`.
        x: one point, of shape ``net.input_shape`` (or ``[1, *input_shape]``).

    Returns:
        A :class:`Polyhedron` with one row per unit (N rows).

    Raises:
        ShapeError: x is not one point of the network's input shape.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> S = plnet.region(net, x[0])       # y0 >= 0 and -y1 >= 0
        >>> S.A, S.b
        (array([[ 1.,  0.],
               [-0., -1.]]), array([0., 0.]))
    """
    x = np.asarray(x)
    if x.shape == net.input_shape:
        x = x[None]
    if x.shape[0] != 1:
        raise ShapeError(f"region takes one point of shape {net.input_shape}, got {x.shape}; "
                         f"call it once per point")
    lin = linearize(net, x)
    a = lin.signs[0][:, None] * lin.grad[0]
    b = a @ lin.x[0] - lin.slack[0]
    return Polyhedron(a, b, lin.x[0].copy(), lin.unit_slices, net.input_shape)
