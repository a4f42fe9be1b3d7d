"""fit and certify on 2 ranks (gloo, launched by torchrun) equal the single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import plnet
from plnet import NetworkBuilder

torch = pytest.importorskip("torch")
from plnet.backends import torch as pt  # noqa: E402

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("distributed_worker.py")
#: a run that outlives this has hung (the workers' own collectives time out after 60 s)
LAUNCH_TIMEOUT = 240
#: float32 training: the ranks sum the global batch's gradient in another order
PARAM_ATOL = 1e-5
TIE_ROWS = (4, 10)
FIT_RUNS = ("vanilla", "exact", "exact_gamma", "sampled", "loader")


def clean_environment() -> dict:
    """This process's environment without any process group's variables (a test run under
    torchrun must not leak its rank into the workers), one thread per worker."""
    drop = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
            "ROLE_RANK", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith("TORCHELASTIC")}
    return {**env, "OMP_NUM_THREADS": "1"}


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``torchrun --standalone`` (a free port on localhost) with 2 processes."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", *args]
    return subprocess.run(command, cwd=cwd, env=clean_environment(), capture_output=True,
                          text=True, timeout=LAUNCH_TIMEOUT)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A 6-8-7-3 ReLU network whose first unit has no bias (so x = 0 is a tie), training
    and validation data, and points to certify with two ties in different ranks' batches."""
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("two_ranks")
    b = NetworkBuilder((6,))
    bias = rng.normal(0, 0.3, 8)
    bias[0] = 0.0
    h = b.relu(b.dense(b.input, rng.normal(0, 0.5, (8, 6)), bias))
    h = b.relu(b.dense(h, rng.normal(0, 0.4, (7, 8)), rng.normal(0, 0.3, 7)))
    b.build(b.dense(h, rng.normal(0, 0.4, (3, 7)), rng.normal(0, 0.3, 3))).save(out / "net.npz")
    # 21 training points in batches of 10: the last global batch leaves rank 1 without one
    points = rng.normal(size=(23, 6))
    points[list(TIE_ROWS)] = 0.0
    np.save(out / "points.npy", points)
    np.savez(out / "data.npz", X=rng.normal(size=(21, 6)), y=rng.integers(0, 3, 21),
             Xv=rng.normal(size=(9, 6)), yv=rng.integers(0, 3, 9), Xc=points,
             yc=rng.integers(0, 3, 23))
    return out


@pytest.fixture(scope="module")
def launched(folder) -> subprocess.CompletedProcess:
    """One torchrun launch for the worker's tasks (each launch costs seconds of imports):
    certify, the fits, a failure on rank 1, an unreadable checkpoint on rank 0."""
    (folder / "ckpt_garbage").mkdir()
    (folder / "ckpt_garbage" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    return torchrun(str(WORKER), str(folder), "certify", "fit", "fail",
                    "unreadable_checkpoint", cwd=folder)


def finished(launched: subprocess.CompletedProcess, folder: Path, task: str) -> None:
    errors = sorted(folder.glob(f"{task}_error_rank*.txt"))
    assert not errors and (folder / "fail_error_rank1.txt").exists(), (
        launched.stderr[-3000:] + "".join(p.read_text() for p in errors))


@pytest.fixture(scope="module")
def certified(launched, folder):
    finished(launched, folder, "certify")
    data = np.load(folder / "data.npz")
    module = pt.compile(plnet.load(folder / "net.npz"), device="cpu", dtype=torch.float64)
    single = pt.certify(module, (data["Xc"], data["yc"]), p=(1, 2, np.inf), batch_size=7,
                        progress=False, distributed=False)
    return single, [np.load(folder / f"certify_rank{r}.npz") for r in (0, 1)]


def test_sharded_margins_equal_single_process_margins_exactly(certified):
    single, ranks = certified
    for got in ranks:
        for name, p in (("l1", 1.0), ("l2", 2.0), ("linf", np.inf)):
            np.testing.assert_array_equal(got[name], single.margins[p])
        np.testing.assert_array_equal(got["ties"], single.ties)
        np.testing.assert_array_equal(got["correct"], single.correct)
    assert (single.margins[2.0][list(TIE_ROWS)] == 0).all()


def test_sharded_region_bounds_equal_single_process_bounds(certified):
    single, ranks = certified
    assert single.regions.tied_points == TIE_ROWS
    for got in ranks:
        assert tuple(got["regions"]) == (single.regions.lower, single.regions.upper)
        assert tuple(got["tied"]) == TIE_ROWS


@pytest.fixture(scope="module")
def fitted(launched, folder) -> dict:
    """name -> each rank's saved ``{"params", "history", "settings"}``."""
    finished(launched, folder, "fit")
    return {name: [torch.load(folder / f"fit_{name}_rank{r}.pt", weights_only=False)
                   for r in (0, 1)] for name in FIT_RUNS}


def single_process_fit(folder: Path, settings: dict, loader: bool = False, **changes):
    """fit in this process; ``loader``: the first 20 points through a DataLoader whose
    DistributedSampler (one replica) gives the 2 ranks' steps in batches of 10."""
    data = np.load(folder / "data.npz")
    train = (data["X"], data["y"])
    if loader:
        dataset = torch.utils.data.TensorDataset(torch.as_tensor(data["X"][:20]),
                                                 torch.as_tensor(data["y"][:20]))
        sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=1, rank=0,
                                                      seed=settings["seed"])
        train = torch.utils.data.DataLoader(dataset, batch_size=10, sampler=sampler)
    return pt.fit(plnet.load(folder / "net.npz"), train,
                  val_data=(data["Xv"], data["yv"]), device="cpu", distributed=False,
                  **{**settings, **changes})


@pytest.mark.parametrize("name", FIT_RUNS)
def test_ddp_training_equals_single_process_training_on_the_global_batch(fitted, folder,
                                                                         name):
    ranks = fitted[name]
    single = single_process_fit(folder, ranks[0]["settings"], loader=name == "loader",
                                checkpoint_dir=None)
    expected = single.last_module.state_dict()
    for got in ranks:
        for key, value in expected.items():
            torch.testing.assert_close(got["params"][key], value, atol=PARAM_ATOL, rtol=0)
        for mine, theirs in zip(got["history"], single.history):
            for key in ("train_loss", "train_task_loss", "val_loss", "val_accuracy",
                        "train_accuracy", "margin_l2_p50"):
                assert mine[key] == pytest.approx(theirs[key], rel=1e-4), key
    # every rank sees the same numbers
    assert ranks[0]["history"] == ranks[1]["history"]


def test_checkpoint_written_on_two_ranks_resumes_on_one(fitted, folder):
    settings = fitted["exact"][0]["settings"]
    resumed = single_process_fit(folder, settings, resume=True, epochs=3)
    straight = single_process_fit(folder, {**settings, "checkpoint_dir": None}, epochs=3)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for key, value in straight.last_module.state_dict().items():
        torch.testing.assert_close(resumed.last_module.state_dict()[key], value,
                                   atol=PARAM_ATOL, rtol=0)


def test_an_error_on_one_rank_stops_every_rank_with_it(launched, folder):
    assert launched.returncode != 0
    texts = [(folder / f"fail_error_rank{r}.txt").read_text() for r in (0, 1)]
    for text in texts:
        assert text.startswith("InvalidInputError: train_data: labels must lie in [0, 2]")
    assert "raised on rank 1" in texts[0]


def test_an_error_of_rank_0_alone_stops_every_rank_with_it(launched, folder):
    texts = [(folder / f"unreadable_checkpoint_error_rank{r}.txt").read_text() for r in (0, 1)]
    for text in texts:
        assert text.startswith("SerializationError: ")
        assert "cannot read the fit checkpoint" in text
    assert "raised on rank 0" in texts[1]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_torchrun_cli_prints_one_json_equal_to_the_single_process_one(folder, backend):
    args = ["certify", "net.npz", "--input", "points.npy", "--json", "--backend", backend,
            "--batch-size", "5", "--p", "1,2,inf"]
    single = subprocess.run([sys.executable, "-m", "plnet", *args], cwd=folder,
                            env=clean_environment(), capture_output=True, text=True,
                            timeout=LAUNCH_TIMEOUT)
    assert single.returncode == 0, single.stderr
    done = torchrun("-m", "plnet", *args, cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines == single.stdout.splitlines()
    assert json.loads(lines[0])["clr"]["tied_points"] == list(TIE_ROWS)
