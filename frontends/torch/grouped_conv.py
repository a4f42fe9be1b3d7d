"""Grouped convolutions in the float64 check, run on one thread.

torch has no oneDNN kernel for float64, so a float64 grouped convolution on the CPU runs
group by group, each group an im2col + matrix product in its own parallel region: a
depthwise convolution over 960 channels is 960 fork/joins of the thread pool. On a loaded
machine each fork/join waits for a descheduled thread, and the float64 reference run of a
MobileNetV2 took most of ``from_torch``'s 20-35 s. On one thread the same kernel runs 7-10
times faster there (and as fast on an idle machine). Inside
:func:`single_threaded_grouped_convolutions`, ``conv1d``/``conv2d`` calls with
``groups > 1`` run on one thread; everything else keeps the thread pool, and the reference
stays torch's own kernels.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

_CONVOLUTIONS = (torch.conv1d, torch.conv2d, F.conv1d, F.conv2d)


def _groups(args, kwargs) -> int:
    groups = kwargs.get("groups", args[6] if len(args) > 6 else 1)
    return int(groups)


class _SingleThreadedGroupedConvolutions(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _CONVOLUTIONS and _groups(args, kwargs) > 1:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return func(*args, **kwargs)
            finally:
                torch.set_num_threads(threads)
        return func(*args, **kwargs)


@contextlib.contextmanager
def single_threaded_grouped_convolutions():
    """Run torch's grouped convolutions on one thread (see the module's docstring)."""
    with _SingleThreadedGroupedConvolutions():
        yield
