"""Public test helpers: hypothesis strategies (:mod:`plnet.testing.strategies`) and samplers
of points in and around l_p balls (:mod:`plnet.testing.sampling`).

``plnet.testing.strategies`` needs hypothesis (the ``test`` extra) and is imported on use.
"""

from plnet.testing import sampling

__all__ = ["sampling", "strategies"]


def __getattr__(name):
    if name == "strategies":
        import importlib

        return importlib.import_module("plnet.testing.strategies")
    raise AttributeError(f"module 'plnet.testing' has no attribute {name!r}")
