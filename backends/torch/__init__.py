"""The torch backend: compiled modules, all-unit gradients, certificates at scale, ROLL.

Runs on CUDA when present, on the CPU otherwise, with the same code. Names load lazily so
that importing this package does not import torch until a name is used. The entry points
take a network or a sequence model alike (see :mod:`plnet.backends.torch.dispatch`).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "compile": "dispatch",
    "CompiledNetwork": "compiled",
    "resolve_device": "compiled",
    "unit_gradients": "dispatch",
    "unit_gradient_sqnorms": "gradients",
    "margins": "dispatch",
    "certify": "dispatch",
    "CertificateReport": "certificates",
    "roll_regularizer": "dispatch",
    "regularized_forward": "dispatch",
    "distance_regularizer": "losses",
    "max_relaxation": "losses",
    "register_relaxation": "relaxations",
    "get_relaxation": "relaxations",
    "RELAXATIONS": "relaxations",
    "fit": "train",
    "FitResult": "train",
    "FitConfig": "train_config",
    "OptimizationConfig": "train_config",
    "RollConfig": "train_config",
    "DataConfig": "train_config",
    "TrackingConfig": "train_config",
    "CompiledSequence": "sequence_compiled",
    "SequenceData": "train_sequences",
    "expected_distortion": "distortion",
    "max_distortion": "distortion",
    "integrated_gradients": "distortion",
    "label_gradients": "distortion",
    "Distortion": "distortion",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'plnet.backends.torch' has no attribute {name!r}")
    from plnet.errors import require

    require("torch", "torch", "the torch backend")
    value = getattr(importlib.import_module(f"plnet.backends.torch.{module}"), name)
    globals()[name] = value
    return value
