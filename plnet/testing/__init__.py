"""Public test helpers: hypothesis strategies (:mod:`plnet.testing.strategies`), samplers
of points in and around l_p balls (:mod:`plnet.testing.sampling`), and assertions that a
certified ball lies in its region (:mod:`plnet.testing.assertions`).

``plnet.testing.strategies`` needs hypothesis (the ``test`` extra) and is imported on use.
"""

from plnet.testing import assertions, sampling
from plnet.testing.assertions import (assert_ball_in_region, assert_leaves_region_beyond,
                                      assert_margin_is_exact)

__all__ = ["assert_ball_in_region", "assert_leaves_region_beyond", "assert_margin_is_exact",
           "assertions", "sampling", "strategies"]


def __getattr__(name):
    if name == "strategies":
        import importlib

        return importlib.import_module("plnet.testing.strategies")
    raise AttributeError(f"module 'plnet.testing' has no attribute {name!r}")
