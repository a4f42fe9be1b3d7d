"""Frontends: PyTorch modules and ONNX models into the IR, and back out.

``import plnet.frontends`` is cheap: the modules imported here load torch, onnx and
onnxruntime inside their functions, on first use. The entry points are the real
functions (``help(plnet.from_torch)`` shows their parameters), except ``to_torch``, whose
module defines ``torch.nn.Module`` subclasses and so needs torch to import.
"""

from __future__ import annotations

from plnet.frontends.onnx import from_onnx, to_onnx
from plnet.frontends.torch import from_torch, to_torch

__all__ = ["from_onnx", "from_torch", "to_onnx", "to_torch"]
