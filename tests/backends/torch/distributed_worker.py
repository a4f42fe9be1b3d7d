"""One rank of the 2-process tests, run by ``torchrun`` (see test_distributed_*.py).

    torchrun --standalone --nproc-per-node 2 distributed_worker.py FOLDER TASK [TASK...]

The folder holds what the test prepared (``net.npz``, ``data.npz``); each rank writes its
results there with its rank in the file name. The process group gets a short timeout so that
a test that would hang fails instead.
"""

from __future__ import annotations

import datetime
import sys
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

import plnet
from plnet.backends import torch as pt

#: the parity runs: name -> fit keywords besides the shared ones (each rank saves its
#: settings with its result, for the single-process run to repeat)
FIT_RUNS = {
    "vanilla": {"lam": 0.0},
    "exact": {"lam": 0.5, "C": 1.0},
    "exact_gamma": {"lam": 0.5, "C": 1.0, "gamma": 50, "relaxation": "roll"},
    "sampled": {"lam": 0.5, "C": 1.0, "samples": 3},
    "loader": {"lam": 0.5, "C": 1.0},  # a DataLoader over a DistributedSampler
}
#: the loader run: 20 points, global batches of 10 (5 per rank)
LOADER_POINTS, LOADER_BATCH = 20, 10
SHARED = {"epochs": 2, "batch_size": 10, "lr": 0.05, "seed": 3, "progress": False,
          "margin_points": 16, "margin_chunk": 5}


def fit_settings(name: str, folder: Path) -> dict:
    return {**SHARED, **FIT_RUNS[name], "checkpoint_dir": str(folder / f"ckpt_{name}")}


def sharded_loader(data, num_replicas: int, rank: int):
    """Each rank's DataLoader: its DistributedSampler share, batches of 10 / num_replicas."""
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(data["X"][:LOADER_POINTS]),
                                             torch.as_tensor(data["y"][:LOADER_POINTS]))
    sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=num_replicas,
                                                  rank=rank, seed=SHARED["seed"])
    return torch.utils.data.DataLoader(dataset, batch_size=LOADER_BATCH // num_replicas,
                                       sampler=sampler)


def load(folder: Path):
    data = np.load(folder / "data.npz")
    return plnet.load(folder / "net.npz"), data


def certify_task(folder: Path, rank: int) -> None:
    net, data = load(folder)
    module = pt.compile(net, device="cpu", dtype=torch.float64)
    report = pt.certify(module, (data["Xc"], data["yc"]), p=(1, 2, np.inf), batch_size=7,
                        progress=False)
    np.savez(folder / f"certify_rank{rank}.npz", l1=report.margins[1.0],
             l2=report.margins[2.0], linf=report.margins[np.inf], ties=report.ties,
             correct=report.correct,
             regions=np.array([report.regions.lower, report.regions.upper]),
             tied=np.array(report.regions.tied_points, dtype=np.int64))


def fit_task(folder: Path, rank: int) -> None:
    net, data = load(folder)
    for name in FIT_RUNS:
        settings = fit_settings(name, folder)
        train = (sharded_loader(data, 2, rank) if name == "loader"
                 else (data["X"], data["y"]))
        result = pt.fit(net, train, val_data=(data["Xv"], data["yv"]), device="cpu",
                        **settings)
        torch.save({"params": result.last_module.state_dict(), "history": result.history,
                    "settings": settings}, folder / f"fit_{name}_rank{rank}.pt")


def fail_task(folder: Path, rank: int) -> None:
    """Rank 1 trains on labels the network cannot have; every rank must stop with that."""
    net, data = load(folder)
    y = data["y"] if rank == 0 else np.full_like(data["y"], 99)
    pt.fit(net, (data["X"], y), epochs=1, batch_size=10, progress=False, device="cpu")


def unreadable_checkpoint_task(folder: Path, rank: int) -> None:
    """Rank 0 alone reads the checkpoint (the test wrote garbage there)."""
    net, data = load(folder)
    pt.fit(net, (data["X"], data["y"]), epochs=1, progress=False, device="cpu",
           checkpoint_dir=str(folder / "ckpt_garbage"), resume=True)


TASKS = {"certify": certify_task, "fit": fit_task, "fail": fail_task,
         "unreadable_checkpoint": unreadable_checkpoint_task}


def main(folder: str, *tasks: str) -> int:
    """Run the tasks in order; each error goes to a file per task and rank (the tasks that
    fail on purpose raise on every rank, so the group stays usable for the next task)."""
    folder = Path(folder)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank, failed = dist.get_rank(), False
    try:
        for task in tasks:
            try:
                TASKS[task](folder, rank)
            except Exception as exc:
                failed = True
                (folder / f"{task}_error_rank{rank}.txt").write_text(
                    f"{type(exc).__name__}: {exc}\n{''.join(getattr(exc, '__notes__', []))}\n"
                    + traceback.format_exc())
            dist.barrier()
    finally:
        dist.destroy_process_group()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
