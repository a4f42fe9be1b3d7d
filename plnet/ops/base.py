"""The op contract: every IR op keeps all of its semantics in one class.

An op is a frozen dataclass. Its fields are its attributes; fields listed in
``param_fields`` hold *names* of arrays in the network's parameter store (so several nodes
can share, i.e. tie, one parameter). Shapes are per sample: the batch axis is never part of
an op's attributes, and every array an op sees has the batch first.

Affine ops implement :meth:`Op.forward` and :meth:`Op.linear` (the forward pass without its
constant offset); that is all the analyses need, because a Jacobian propagates through an
affine op as ``linear`` applied to each of its columns. Ops that carry an activation
pattern (ReLU, LeakyReLU, PReLU, max pooling) subclass :class:`PatternOp` instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from plnet.errors import InvalidInputError, SerializationError, ShapeError

Shape = tuple[int, ...]

#: type name -> op class; filled by :func:`register_op`.
OP_REGISTRY: dict[str, type["Op"]] = {}


def register_op(cls: type["Op"]) -> type["Op"]:
    """Class decorator: make an op known to (de)serialization and the contract tests."""
    name = cls.type_name
    if name in OP_REGISTRY and OP_REGISTRY[name] is not cls:
        raise ValueError(f"op type {name!r} is registered twice")
    OP_REGISTRY[name] = cls
    return cls


@dataclasses.dataclass(frozen=True)
class Op:
    """Base class of IR ops (see the module docstring for the contract)."""

    type_name: ClassVar[str] = "op"
    #: number of inputs, or None for "one or more"
    arity: ClassVar[int | None] = 1
    #: dataclass fields that name arrays in the parameter store
    param_fields: ClassVar[tuple[str, ...]] = ()
    carries_pattern: ClassVar[bool] = False

    # --- shapes and parameters ---------------------------------------------------------
    def output_shape(self, in_shapes: Sequence[Shape], params: Mapping[str, np.ndarray]) -> Shape:
        """Per-sample output shape; raises ShapeError on inconsistent inputs."""
        raise NotImplementedError

    def param_names(self) -> list[str]:
        """Names of the parameter arrays this op reads (None fields skipped)."""
        return [getattr(self, f) for f in self.param_fields if getattr(self, f) is not None]

    # --- numerics ------------------------------------------------------------------------
    def forward(self, xs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Batched forward pass, ``xs[i]`` of shape ``[B, *in_shape_i]``."""
        raise NotImplementedError

    def linear(self, xs: Sequence[np.ndarray], params: Mapping[str, np.ndarray]) -> np.ndarray:
        """The forward pass without its constant offset (affine ops only).

        Linear views need not override this: their forward is already linear.
        """
        return self.forward(xs, params)

    # --- serialization -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.type_name}
        for f in dataclasses.fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> "Op":
        data = dict(data)
        type_name = data.pop("type", None)
        cls = OP_REGISTRY.get(type_name)
        if cls is None:
            raise SerializationError(
                f"unknown op type {type_name!r}; known: {sorted(OP_REGISTRY)}")
        names = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - names
        if extra:
            raise SerializationError(f"op {type_name!r} has unknown attributes {sorted(extra)}")
        return cls(**{k: _tupled(v) for k, v in data.items()})

    def describe(self) -> str:
        """One line for tables: attributes other than parameter names."""
        parts = [f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                 if f.name not in self.param_fields]
        return ", ".join(parts)


class PatternOp(Op):
    """An op that carries an activation pattern: the network is affine once it is fixed.

    Subclasses describe their units (the rows of S(x)) and their local affine map.
    """

    carries_pattern: ClassVar[bool] = True

    def num_units(self, in_shape: Shape) -> int:
        """How many units (rows of S(x)) this op contributes for one sample."""
        raise NotImplementedError

    def pattern(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activation indicators of a batch of inputs ``z`` and a per-sample tie flag.

        Returns:
            ``(indicator, ties)``: the indicator array (layout is the op's own), and a
            boolean ``[B]`` array, True where the sample lies on one of this op's
            boundaries (more than one indicator would be feasible).
        """
        raise NotImplementedError

    def tie_units(self, z: np.ndarray, indicator: np.ndarray) -> np.ndarray:
        """Boolean ``[B, num_units]``: True for units that are exactly on their boundary."""
        raise NotImplementedError

    def crossed(self, in_shape: Shape, indicator: np.ndarray, unit: int) -> tuple[int, int]:
        """What crossing one unit's boundary does to one sample's indicator.

        Args:
            in_shape: the op's per-sample input shape.
            indicator: one sample's indicator (the layout of :meth:`pattern`, no batch axis).
            unit: the unit's index among this op's units.

        Returns:
            ``(position, value)``: the flat index into ``indicator`` that changes and the
            value it takes on the other side of the unit's boundary.
        """
        raise NotImplementedError

    def apply_pattern(self, v: np.ndarray, indicator: np.ndarray,
                      params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Apply the op's local linear map (fixed by ``indicator``) to ``v``.

        ``v`` has shape ``[B, K, *in_shape]``: K tangent vectors per sample (K may be 1);
        ``params`` is the network's parameter store (a PReLU's slope lives there).
        """
        raise NotImplementedError

    def diagonal_slope(self, indicator: np.ndarray,
                       params: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """If the local map is elementwise, its slopes ``[B, *shape]``; else None.

        Lets the linearization engine defer the map and fold it into the next dense layer.
        """
        return None

    def units(self, z: np.ndarray, v: np.ndarray,
              indicator: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit values and their tangents.

        Args:
            z: the op's input, ``[B, *in_shape]``.
            v: tangents of the input, ``[B, K, *in_shape]``.
            indicator: from :meth:`pattern`.

        Returns:
            ``(values [B, n], tangents [B, K, n], signs [B, n])``: a unit's row of S(x) is
            ``sign * (value + tangent . (y - x)) >= 0``.
        """
        raise NotImplementedError


def expect_shapes(op: Op, in_shapes: Sequence[Shape]) -> None:
    """Raise ShapeError unless the number of inputs fits the op's arity."""
    if op.arity is None:
        if len(in_shapes) < 1:
            raise ShapeError(f"{op.type_name} needs at least one input, got none")
    elif len(in_shapes) != op.arity:
        raise ShapeError(f"{op.type_name} takes {op.arity} input(s), got {len(in_shapes)}")


def param(params: Mapping[str, np.ndarray], name: str, op: Op) -> np.ndarray:
    try:
        return params[name]
    except KeyError:
        raise ShapeError(f"{op.type_name} refers to parameter {name!r}, which is not in the "
                         f"network's parameter store") from None


def int_tuple(value: int | Sequence[int], length: int, what: str) -> tuple[int, ...]:
    """Normalize an int or a sequence of ints to a tuple of ``length``."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * length
    out = tuple(int(v) for v in value)
    if len(out) != length:
        raise InvalidInputError(f"{what} must have {length} entries, got {out}")
    return out


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _tupled(value):
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value
