"""Epoch checkpoints for :func:`plnet.backends.torch.fit`: everything exact resumption needs.

A checkpoint holds nothing about the number of ranks that wrote it (the trajectory does not
depend on it), so a run resumes with any number.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from plnet.errors import InvalidInputError, SerializationError

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "plnet.fit-checkpoint"
CHECKPOINT_VERSION = 1

#: Settings that must not change between a run and its resumption (they change the
#: trajectory); epochs, logging and evaluation options may.
TRAJECTORY_KEYS = ("loss", "relaxation", "lam", "C", "gamma", "samples", "optimizer", "lr",
                   "momentum", "weight_decay", "batch_size", "seed")


def checkpoint_path(checkpoint_dir: str | os.PathLike) -> Path:
    return Path(checkpoint_dir) / CHECKPOINT_NAME


def save_checkpoint(checkpoint_dir: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` atomically (temporary file, then rename), so a crash mid-write leaves
    the previous checkpoint intact."""
    path = checkpoint_path(checkpoint_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(checkpoint_dir: str | os.PathLike, config: dict) -> dict | None:
    """The saved state, or None when the directory holds no checkpoint yet.

    Raises:
        SerializationError: the file is not a readable fit checkpoint.
        InvalidInputError: it was written with different trajectory settings.
    """
    path = checkpoint_path(checkpoint_dir)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for corrupt files
        raise SerializationError(f"{path}: cannot read the fit checkpoint ({exc}); delete it "
                                 f"to start over") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise SerializationError(f"{path}: not a plnet fit checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise SerializationError(f"{path}: checkpoint version {state.get('version')} is not "
                                 f"supported (this plnet reads {CHECKPOINT_VERSION})")
    saved = state["config"]
    changed = {k: (saved.get(k), config.get(k)) for k in TRAJECTORY_KEYS
               if saved.get(k) != config.get(k)}
    if changed:
        detail = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
        raise InvalidInputError(f"{path} was written with other settings ({detail}); resume "
                                f"with the same settings or use a new checkpoint_dir")
    return state


def rng_states(sample_gen: torch.Generator) -> dict:
    """Every random state a training step reads (the order of the points is a function of
    the seed and the epoch, see :func:`plnet.backends.torch.train_data.epoch_batches`)."""
    states = {"torch": torch.get_rng_state(), "sample": sample_gen.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict, sample_gen: torch.Generator) -> None:
    torch.set_rng_state(states["torch"])
    sample_gen.set_state(states["sample"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
