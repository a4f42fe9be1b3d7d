"""Checks of the scalar arguments of the public analyses, with messages naming them.

``bool`` is an ``int`` in Python, so ``batch_size=True`` or ``p=True`` would otherwise pass
as 1; these reject it, as they reject NaN, non-integers and out-of-range values.
"""

from __future__ import annotations

import math
import numbers

from plnet.errors import InvalidInputError


def positive_int(name: str, value) -> int:
    """``value`` as an int >= 1, or :class:`InvalidInputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer (>= 1), got {value!r}")
    return int(value)


def positive_float(name: str, value) -> float:
    """``value`` as a finite float > 0, or :class:`InvalidInputError` naming ``name``."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise InvalidInputError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


def choice(name: str, value, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else :class:`InvalidInputError` naming ``name``."""
    if not isinstance(value, str) or value not in options:
        names = [repr(o) for o in options]
        allowed = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        raise InvalidInputError(f"{name} must be {allowed}, got {value!r}")
    return value
