"""The one exception hierarchy of plnet.

Every error plnet raises on purpose derives from :class:`PlnetError`. Messages name the
node, op, opset or file at fault, what was expected, and what to do about it.
"""

from __future__ import annotations


class PlnetError(Exception):
    """Base class of every error raised by plnet.

    Catch it to handle every error plnet raises on purpose.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> try:
        ...     plnet.margin(net, np.zeros((1, 3)))       # a point of the wrong shape
        ... except plnet.PlnetError as error:
        ...     print(type(error).__name__)
        ShapeError
    """


class ShapeError(PlnetError, ValueError):
    """A tensor, parameter or input has the wrong shape.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> try:
        ...     plnet.margin(net, np.zeros((1, 3)))
        ... except plnet.ShapeError as error:
        ...     print(error)
        x has shape (1, 3); expected [B, *(2,)] with the batch first
    """


class InvalidInputError(PlnetError, ValueError):
    """An argument is malformed: NaN/inf values, wrong dtype, empty data, bad option.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> try:
        ...     plnet.margin(net, x, p=3)
        ... except plnet.InvalidInputError as error:
        ...     print(error)
        p must be 1, 2 or inf, got 3
    """


class GraphError(PlnetError, ValueError):
    """The network graph is malformed: a cycle, several inputs or outputs, a dangling edge.

    Example:
        >>> import networkx
        >>> try:
        ...     plnet.Network(networkx.DiGraph(), {}, output='y')
        ... except plnet.GraphError as error:
        ...     print(str(error)[:38])
        a network needs exactly one input node
    """


class UnsupportedOpError(PlnetError, NotImplementedError):
    """An op (or an op's attribute) that plnet cannot represent exactly.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> try:
        ...     plnet.to_onnx(net, opset=11)
        ... except plnet.UnsupportedOpError as error:
        ...     print(error)
        to_onnx: opset 11 is outside 13..28
    """


class NotPiecewiseLinearError(UnsupportedOpError):
    """An op that is not piecewise linear (sigmoid, tanh, softmax, ...).

    Example:
        >>> import torch
        >>> try:
        ...     plnet.from_torch(torch.nn.Sequential(torch.nn.Tanh()), torch.zeros(1, 2))
        ... except plnet.NotPiecewiseLinearError as error:
        ...     print(str(error)[:66])
        torch.fx node '_0' (Tanh module '0'): Tanh is not piecewise linear
    """


class ConversionMismatch(PlnetError, AssertionError):
    """A converted network does not compute what its source computes.

    Attributes:
        max_abs_error: the largest absolute difference seen.
        tolerance: the tolerance that was exceeded.

    Example:
        >>> try:
        ...     raise plnet.ConversionMismatch("outputs differ", max_abs_error=0.3, tolerance=1e-6)
        ... except plnet.ConversionMismatch as error:
        ...     print(error.max_abs_error, error.tolerance)
        0.3 1e-06
    """

    def __init__(self, message: str, max_abs_error: float = float("nan"),
                 tolerance: float = float("nan")):
        super().__init__(message)
        self.max_abs_error = max_abs_error
        self.tolerance = tolerance


class TieError(PlnetError, ValueError):
    """A point lies on a region boundary (a pre-activation exactly 0, or a max-pool tie).

    Attributes:
        points: indices (into the batch) of the points with ties.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> try:
        ...     plnet.count_linear_regions(net, np.array([[0.0, -1.0], [1.0, -1.0]]))
        ... except plnet.TieError as error:
        ...     print(error.points)
        (0,)
    """

    def __init__(self, message: str, points=()):
        super().__init__(message)
        self.points = tuple(int(i) for i in points)


class SerializationError(PlnetError, ValueError):
    """A saved network cannot be read back.

    Example:
        >>> try:
        ...     plnet.load("missing.npz")
        ... except plnet.SerializationError as error:
        ...     print(error)
        missing.npz: no such file
    """


class MissingDependencyError(PlnetError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.

    Example:
        >>> try:
        ...     plnet.errors.require("no_such_module", "exact", "this example")
        ... except plnet.MissingDependencyError as error:
        ...     print(error)
        this example needs the optional dependency 'no_such_module', which is not installed:
        run `pip install "plnet[exact]"`.
    """


class NonFiniteError(PlnetError, FloatingPointError):
    """An evaluation produced inf or NaN (overflowing weights or inputs).

    Attributes:
        node: the first node whose output is not finite ("" when unknown).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> big = b.build(b.relu(b.dense(b.input, [[1e300, 1e300]], [0.0])))
        >>> try:
        ...     big(np.array([[1e300, 1.0]]))
        ... except plnet.errors.NonFiniteError as error:
        ...     print(error.node)
        dense_1
    """

    def __init__(self, message: str, node: str = ""):
        super().__init__(message)
        self.node = node


class MemoryBudgetError(PlnetError, MemoryError):
    """Even one point does not fit in the memory budget of an analysis.

    Attributes:
        needed_bytes: what one point needs.
        budget_bytes: the budget it was measured against.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> try:
        ...     plnet.margin(net, x, budget=10)   # bytes
        ... except plnet.errors.MemoryBudgetError as error:
        ...     print(error.needed_bytes, error.budget_bytes)
        96 10
    """

    def __init__(self, message: str, needed_bytes: int = 0, budget_bytes: int = 0):
        super().__init__(message)
        self.needed_bytes = int(needed_bytes)
        self.budget_bytes = int(budget_bytes)


class PrecisionWarning(UserWarning):
    """A certificate computed in reduced precision (float32): near a region boundary its
    round-off can exceed the margin. Compute in float64 for certificates to rely on.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import warnings, torch
        >>> from plnet.backends import torch as pt
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     eps = pt.margins(pt.compile(net), torch.tensor(x))       # float32: warns
        >>> [w.category.__name__ for w in caught]
        ['PrecisionWarning']
        >>> eps = pt.margins(pt.compile(net, dtype=torch.float64), torch.tensor(x))   # silent
    """


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or raise :class:`MissingDependencyError`.

    Args:
        module: the module to import, e.g. ``"cvxpy"``.
        extra: the pip extra of plnet that provides it, e.g. ``"exact"``.
        purpose: what it is needed for, for the message.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: the module is not installed; the message names the extra.

    Example:
        >>> plnet.errors.require("numpy", "test", "this example").__name__
        'numpy'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency '{module}', which is not installed: "
            f"run `pip install \"plnet[{extra}]\"`."
        ) from exc
