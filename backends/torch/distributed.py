"""Several processes on one or many machines: the ranks that share a ``fit`` or ``certify``.

plnet runs on :mod:`torch.distributed`, launched by ``torchrun`` (gloo on the CPU, NCCL on
CUDA). :func:`replicas` finds the process group (one already initialized, or the one
``torchrun``'s environment describes) and returns a :class:`Replicas`: the collectives that
``fit`` and ``certify`` need, each a no-op in a single process so that one code path serves
both.

Every collective is entered by every rank in the same order. Work that can fail on one rank
only (reading its batches, a forward pass, writing a file) runs inside :meth:`Replicas.reduce`
or :meth:`Replicas.on_rank0`, which catch the error and tell the other ranks at the next
collective: then every rank raises it (the failing rank its own exception, the others a copy
noting where it came from), instead of waiting forever for a rank that left. A rank that
dies outright is noticed by ``torchrun``, which stops the others.
"""

from __future__ import annotations

import atexit
import os
import pickle
from typing import TYPE_CHECKING, Any, Callable, Sequence

from plnet.errors import InvalidInputError, PlnetError

if TYPE_CHECKING:  # torch loads when a process group is used, so the CLI's numpy path runs
    import torch   # without it

#: The environment ``torchrun`` (and ``torch.distributed``'s ``env://``) sets for every rank.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class RankFailedError(PlnetError, RuntimeError):
    """Another rank failed with an error that cannot be copied to this one.

    Attributes:
        rank: the rank that failed.

    Example:
        >>> from plnet.backends.torch.distributed import RankFailedError
        >>> error = RankFailedError("rank 2: CUDA out of memory", rank=2)
        >>> error.rank, isinstance(error, plnet.errors.PlnetError)
        (2, True)
    """

    def __init__(self, message: str, rank: int = -1):
        super().__init__(message)
        self.rank = rank


def launched_by_torchrun() -> bool:
    """Whether this process's environment describes a process group (``torchrun``).

    Returns:
        True when ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` are all set.

    Example:
        >>> from plnet.backends.torch.distributed import launched_by_torchrun
        >>> launched_by_torchrun()                 # a plain ``python`` process
        False
    """
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


class Replicas:
    """One process: rank 0 of 1. Every collective returns its input.

    Attributes:
        rank: this process's rank.
        world_size: how many processes share the work.
        distributed: whether there is more than this process to talk to.

    Example:
        >>> from plnet.backends.torch.distributed import replicas
        >>> ranks = replicas(distributed=False)
        >>> ranks.rank, ranks.world_size, ranks.distributed
        (0, 1, False)
        >>> ranks.reduce(lambda: [1.0, 2.0], size=2), ranks.gather("mine")
        ([1.0, 2.0], ['mine'])
    """

    rank, world_size, distributed = 0, 1, False

    def owns(self, index: int) -> bool:
        """Whether batch ``index`` is this rank's (batches go round-robin over the ranks)."""
        return index % self.world_size == self.rank

    def device(self, requested: str) -> str:
        """The device this rank computes on for a ``device=`` setting."""
        return requested

    def reduce(self, local: Callable[[], Sequence[float]], size: int,
               op: str = "sum") -> list[float]:
        """``local()`` (``size`` numbers) on every rank, combined elementwise (``"sum"`` or
        ``"max"``).

        Raises:
            the error ``local`` raised on any rank, on every rank.
        """
        return [float(v) for v in local()]

    def run(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` on every rank (it must not enter a collective); an error on any rank is
        raised on every rank.
        """
        result = []

        def local():
            result.append(fn())
            return []

        self.reduce(local, 0)
        return result[0]

    def gather(self, obj: Any) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        return [obj]

    def gather_on_rank0(self, obj: Any) -> list | None:
        """Every rank's ``obj`` in rank order on rank 0; None on the others."""
        return [obj]

    def on_rank0(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` run on rank 0 only, its result (or its error) on every rank."""
        return fn()

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module whose backward pass averages gradients over the ranks."""
        return module


class ProcessGroupReplicas(Replicas):
    """The ranks of the default :mod:`torch.distributed` process group.

    Example:
        >>> import torch.distributed as dist
        >>> from plnet.backends.torch.distributed import replicas
        >>> dist.init_process_group("gloo", init_method="file://" + os.path.abspath("store"),
        ...                         rank=0, world_size=1)      # a group of one, for show
        >>> ranks = replicas()                   # finds the initialized group
        >>> type(ranks).__name__, ranks.world_size, ranks.reduce(lambda: [1.0, 2.0], size=2)
        ('ProcessGroupReplicas', 1, [1.0, 2.0])
        >>> dist.destroy_process_group()
    """

    distributed = True

    def __init__(self):
        import torch
        import torch.distributed as dist

        self.dist = dist
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        backend = str(dist.get_backend()).lower()
        # small tensors of the collectives: CPU memory whenever the group can reduce it
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        cpu = "gloo" in backend or "cpu" in backend or "nccl" not in backend
        self.collective_device = (torch.device("cpu") if cpu
                                  else torch.device("cuda", torch.cuda.current_device()))

    def device(self, requested: str) -> str:
        import torch

        if requested in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return requested

    def reduce(self, local, size, op="sum"):
        error = None
        try:
            values = [float(v) for v in local()]
            if len(values) != size:
                raise ValueError(f"reduce: expected {size} numbers, got {len(values)}")
        except Exception as exc:  # told to every rank below, then raised everywhere
            error, values = exc, [0.0] * size
        combined = self._all_reduce(values + [0.0 if error is None else 1.0], op)
        self._raise_if_failed(error, combined[-1] > 0)
        return combined[:-1]

    def gather(self, obj):
        out = [None] * self.world_size
        self.dist.all_gather_object(out, obj)
        return out

    def gather_on_rank0(self, obj):
        out = [None] * self.world_size if self.rank == 0 else None
        self.dist.gather_object(obj, out, dst=0)
        return out

    def on_rank0(self, fn):
        value, error = None, None
        if self.rank == 0:
            try:
                value = fn()
            except Exception as exc:  # sent to every rank below
                error = exc
        box = [(value, _portable(error)) if self.rank == 0 else None]
        self.dist.broadcast_object_list(box, src=0)
        value, sent = box[0]
        if error is not None:
            raise error
        if sent is not None:
            raise _received(sent, 0)
        return value

    def wrap(self, module):
        from torch.nn.parallel import DistributedDataParallel

        param = next(module.parameters(), None)
        ids = [param.device.index] if param is not None and param.device.type == "cuda" else None
        # buffers are constants of the compiled network: no broadcast before each forward
        return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=False)

    def _all_reduce(self, values: list[float], op: str) -> list[float]:
        import torch

        tensor = torch.tensor(values, dtype=torch.float64, device=self.collective_device)
        reduce_op = {"sum": self.dist.ReduceOp.SUM, "max": self.dist.ReduceOp.MAX}[op]
        self.dist.all_reduce(tensor, op=reduce_op)
        return tensor.cpu().tolist()

    def _raise_if_failed(self, error: BaseException | None, anyone: bool) -> None:
        if not anyone:
            return
        sent = self.gather(_portable(error))
        if error is not None:
            raise error
        rank = next(r for r, item in enumerate(sent) if item is not None)
        raise _received(sent[rank], rank)


def _portable(error: BaseException | None):
    """What another rank needs to raise ``error`` too: its pickle (when it has one) and text."""
    if error is None:
        return None
    try:
        data = pickle.dumps(error)
    except Exception:  # an exception holding something unpicklable: send the text only
        data = None
    return data, f"{type(error).__name__}: {error}"


def _received(sent, rank: int) -> BaseException:
    data, text = sent
    try:
        error = pickle.loads(data) if data is not None else None
    except Exception:  # a type whose constructor takes other arguments
        error = None
    if not isinstance(error, Exception):
        return RankFailedError(f"rank {rank} failed: {text}", rank)
    if hasattr(error, "add_note"):
        error.add_note(f"(raised on rank {rank}; every rank stopped with it)")
    return error


def replicas(distributed: bool | None = None, device: str = "auto") -> Replicas:
    """The ranks sharing this work.

    Args:
        distributed: None detects: an initialized default process group, else the
            environment ``torchrun`` sets (the group is then initialized here); True
            insists on one; False runs in this process alone.
        device: the work's device setting; a group initialized here uses NCCL when that is
            CUDA (``"auto"`` on a machine with a GPU) and gloo otherwise.

    Returns:
        :class:`Replicas` (one process) or :class:`ProcessGroupReplicas`.

    Raises:
        InvalidInputError: ``distributed=True`` with neither a process group nor torchrun's
            environment, or ``distributed`` not a bool or None.

    Example:
        >>> from plnet.backends.torch.distributed import replicas
        >>> replicas(distributed=False).world_size
        1
        >>> replicas(distributed=True)          # plain ``python``: no group to join
        Traceback (most recent call last):
        ...
        plnet.errors.InvalidInputError: distributed=True needs a torch.distributed process group: ...
    """
    if distributed not in (None, True, False):
        raise InvalidInputError(f"distributed must be True, False or None (detect), got "
                                f"{distributed!r}")
    if distributed is False:
        return Replicas()
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return ProcessGroupReplicas()
    if not launched_by_torchrun() or not dist.is_available():
        if distributed:
            raise InvalidInputError(
                "distributed=True needs a torch.distributed process group: launch with "
                "`torchrun --nproc-per-node K script.py` (it sets RANK, WORLD_SIZE, "
                "MASTER_ADDR and MASTER_PORT) or call torch.distributed.init_process_group "
                "first")
        return Replicas()
    _init_from_environment(device)
    return ProcessGroupReplicas()


def _init_from_environment(device: str) -> None:
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available() and (device == "auto" or device.startswith("cuda"))
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    atexit.register(_destroy)


def _destroy() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
