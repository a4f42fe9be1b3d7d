"""The float64 check's reference forward, run on one thread.

The check runs the torch module once, in float64, on a small batch. Each op of that forward
is a tiny parallel region, and on a loaded machine every fork/join of the thread pool waits
for a descheduled thread: at load 4 on 2 cores a batch norm or an elementwise op of a
[2, 96, 32, 32] tensor took 8 ms on two threads against 0.07-0.2 ms on one, and a float64
grouped convolution (no oneDNN kernel: one fork/join per group) far more. A MobileNetV2's
reference forward spent most of ``from_torch``'s 3 s there. On one thread it runs as fast on
an idle machine and many times faster on a loaded one, with torch's own kernels.
"""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread inside the block; the thread count is restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
