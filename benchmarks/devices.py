"""Device helpers shared by the benchmark scripts."""

from __future__ import annotations

import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it (CUDA runs
    asynchronously; the CPU needs nothing)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
