"""The one exception hierarchy of plnet.

Every error plnet raises on purpose derives from :class:`PlnetError`. Messages name the
node, op, opset or file at fault, what was expected, and what to do about it.
"""

from __future__ import annotations


class PlnetError(Exception):
    """Base class of every error raised by plnet."""


class ShapeError(PlnetError, ValueError):
    """A tensor, parameter or input has the wrong shape."""


class InvalidInputError(PlnetError, ValueError):
    """An argument is malformed: NaN/inf values, wrong dtype, empty data, bad option."""


class GraphError(PlnetError, ValueError):
    """The network graph is malformed: a cycle, several inputs or outputs, a dangling edge."""


class UnsupportedOpError(PlnetError, NotImplementedError):
    """An op (or an op's attribute) that plnet cannot represent exactly."""


class NotPiecewiseLinearError(UnsupportedOpError):
    """An op that is not piecewise linear (sigmoid, tanh, softmax, ...)."""


class ConversionMismatch(PlnetError, AssertionError):
    """A converted network does not compute what its source computes.

    Attributes:
        max_abs_error: the largest absolute difference seen.
        tolerance: the tolerance that was exceeded.
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
    """

    def __init__(self, message: str, points=()):
        super().__init__(message)
        self.points = tuple(int(i) for i in points)


class SerializationError(PlnetError, ValueError):
    """A saved network cannot be read back."""


class MissingDependencyError(PlnetError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class NonFiniteError(PlnetError, FloatingPointError):
    """An evaluation produced inf or NaN (overflowing weights or inputs).

    Attributes:
        node: the first node whose output is not finite ("" when unknown).
    """

    def __init__(self, message: str, node: str = ""):
        super().__init__(message)
        self.node = node


class MemoryBudgetError(PlnetError, MemoryError):
    """Even one point does not fit in the memory budget of an analysis.

    Attributes:
        needed_bytes: what one point needs.
        budget_bytes: the budget it was measured against.
    """

    def __init__(self, message: str, needed_bytes: int = 0, budget_bytes: int = 0):
        super().__init__(message)
        self.needed_bytes = int(needed_bytes)
        self.budget_bytes = int(budget_bytes)


class PrecisionWarning(UserWarning):
    """A certificate computed in reduced precision (float32): near a region boundary its
    round-off can exceed the margin. Compute in float64 for certificates to rely on."""


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or raise :class:`MissingDependencyError`.

    Args:
        module: the module to import, e.g. ``"cvxpy"``.
        extra: the pip extra of plnet that provides it, e.g. ``"exact"``.
        purpose: what it is needed for, for the message.

    Returns:
        The imported module.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency '{module}', which is not installed: "
            f"run `pip install \"plnet[{extra}]\"`."
        ) from exc
