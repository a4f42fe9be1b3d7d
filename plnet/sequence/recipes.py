"""The registry of recipe kinds: a JSON-able description -> an unroller.

A recipe is a dict with a ``"kind"`` naming a registered unroller and whatever else that
kind needs (parameter *names*, sizes, flags: no arrays). It is what a saved
:class:`plnet.sequence.SequenceModel` stores besides its parameters, so a model with a
recipe can be rebuilt from a file; a model made from an arbitrary ``unroll`` callable (a
traced module) has none.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

import numpy as np

from plnet.errors import SerializationError
from plnet.network import Network


class Unroller(Protocol):
    """Builds the network of one length from a recipe."""

    def __call__(self, recipe: Mapping, params: Mapping[str, np.ndarray],
                 feature_shape: tuple[int, ...], length: int) -> Network: ...


#: kind -> unroller; filled by :func:`register_recipe`
RECIPES: dict[str, Unroller] = {}


def register_recipe(kind: str) -> Callable[[Unroller], Unroller]:
    """Decorator: make ``kind`` a recipe kind unrolled by the decorated function.

    Args:
        kind: the name that recipes ``{"kind": kind, ...}`` give.

    Returns:
        The decorator; it returns the unroller unchanged after registering it.

    Example:
        >>> @plnet.sequence.register_recipe("per-step")
        ... def unroll(recipe, params, feature_shape, length):
        ...     b = plnet.NetworkBuilder((length, *feature_shape))
        ...     b.param("w", params["w"])                 # tied: one "w" for every step
        ...     return b.build(b.relu(b.dense(b.input, "w")))
        >>> model = plnet.sequence.SequenceModel.from_recipe(
        ...     {"kind": "per-step"}, {"w": [[1.0, -1.0]]}, feature_shape=(2,))
        >>> model(np.array([[[1.0, 0.5], [3.0, 1.0]]])).tolist()   # T = 2: [T, 1]
        [[[0.5], [2.0]]]
        >>> del plnet.sequence.RECIPES["per-step"]        # (keeps this example re-runnable)
    """
    def decorate(unroller: Unroller) -> Unroller:
        if kind in RECIPES and RECIPES[kind] is not unroller:
            raise ValueError(f"recipe kind {kind!r} is registered twice")
        RECIPES[kind] = unroller
        return unroller
    return decorate


def unroller_for(recipe: Mapping) -> Unroller:
    """The unroller of ``recipe["kind"]``, or :class:`SerializationError` saying what is known."""
    kind = recipe.get("kind") if isinstance(recipe, Mapping) else None
    if kind not in RECIPES:
        raise SerializationError(f"unknown sequence recipe kind {kind!r}; known kinds: "
                                 f"{sorted(RECIPES)} (register one with "
                                 f"plnet.sequence.register_recipe)")
    return RECIPES[kind]
