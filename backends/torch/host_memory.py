"""Large results on the host in memory the operating system zeroes on first touch.

A fresh ``[B, N, D]`` result of a few hundred MB costs more to bring into being than to
fill: ``torch.empty`` maps it in 4 KiB pages, and the first write to each takes a page
fault (on the benchmark CNN's 294 MB, 0.08 s against 0.02 s to refill memory already
mapped). numpy maps arrays of 4 MiB and more with the kernel's transparent huge pages
where it offers them (2 MiB a fault) and ``np.zeros`` takes its memory from ``calloc``,
whose pages come zeroed from the kernel: a writer of sparse rows (the receptive-field
boxes of a convolutional network) then skips its own pass of zeros as well.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: numpy asks the kernel for huge pages from this size on; smaller results gain nothing
LARGE_BYTES = 1 << 22
_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32,
                 torch.float64: np.float64}


def zeros(shape, dtype: torch.dtype, device) -> torch.Tensor:
    """A zero tensor; on the CPU, from memory the kernel zeroes as it is first written.

    Args:
        shape: the tensor's shape.
        dtype: its dtype (a dtype numpy lacks, bfloat16 for one, takes ``torch.zeros``).
        device: its device (an accelerator's memory takes ``torch.zeros``).

    Returns:
        A contiguous tensor of zeros, writable, that owns (keeps alive) its memory.
    """
    device = torch.device(device)
    if device.type != "cpu" or dtype not in _NUMPY_DTYPES or \
            math.prod(shape) * torch.empty((), dtype=dtype).element_size() < LARGE_BYTES:
        return torch.zeros(shape, dtype=dtype, device=device)
    return torch.from_numpy(np.zeros(tuple(shape), dtype=_NUMPY_DTYPES[dtype]))
