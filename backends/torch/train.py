"""``fit``: supervised training with a ROLL margin regularizer (paper, Eq. 9, §5).

Each step minimizes ``task_loss + lam * roll_regularizer(...)`` on a mini-batch. Every epoch
the model is evaluated on the validation data, checkpointed, and logged as one JSON line.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import sys
import time
import typing
from typing import Any, Callable

import torch

from plnet.backends.torch.distributed import replicas
from plnet.backends.torch.dispatch import compile as compile_model
from plnet.backends.torch.dispatch import is_sequence_model, regularized_forward
from plnet.backends.torch.train_checkpoint import (load_checkpoint, restore_rng_states,
                                                   rng_states, save_checkpoint)
from plnet.backends.torch.train_config import GROUPS, FitConfig, OptimizationConfig
from plnet.backends.torch.train_data import TaskLoss, epoch_batches
from plnet.backends.torch.train_metrics import (collect_points, evaluate_task, margin_metrics,
                                                write_metrics)
from plnet.backends.torch.train_sequences import training_data
from plnet.errors import InvalidInputError
from plnet.network import Network


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        module: the compiled network at the selected epoch (lowest validation loss; lowest
            training loss without validation data).
        last_module: the network after the last epoch.
        history: one dict per epoch (the records written to ``metrics_path``): ``epoch``,
            ``train_loss`` (task + lam * regularizer), ``train_task_loss``,
            ``train_regularizer`` (None when lam = 0), ``train_accuracy``, ``val_loss`` and
            ``val_accuracy`` (None without validation data), with ``eval_margins`` also
            ``margin_set``, ``margin_points``, ``margin_{l2,l1}_p{25,50,75,100}``,
            ``clr_lower``, ``clr_upper``, ``clr_tied_points``; then ``best_epoch`` and
            ``seconds``. Accuracies are None for a custom loss; in the JSON lines file a
            non-finite margin is written as the string ``"inf"``.
        best_epoch: the selected epoch (1-based; 0 when no epoch ran).
        best_score: its selection loss.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> X = np.random.default_rng(0).normal(size=(64, 2))
        >>> y = (X[:, 0] > X[:, 1]).astype(np.float64)          # labels 0/1
        >>> result = pt.fit(net, (X, y), lam=1.0, C=1.0, epochs=2, seed=0, progress=False)
        >>> result.best_epoch, result.history[-1]["epoch"], "train_loss" in result.history[-1]
        (2, 2, True)
        >>> result.network(x).shape                  # the selected model, as a plnet.Network
        (1, 1)
    """

    module: torch.nn.Module
    last_module: torch.nn.Module
    history: list
    best_epoch: int
    best_score: float

    @property
    def network(self) -> Network:
        """The selected model as a :class:`plnet.Network` (float64, for certification); a
        :class:`plnet.sequence.SequenceModel` when a sequence model was trained."""
        return self.module.to_network()


def fit(module_or_net: Network | torch.nn.Module, train_data: Any,
        config: FitConfig | None = None, *, val_data: Any = None,
        distributed: bool | None = None, **settings: Any) -> FitResult:
    """Train a piecewise-linear network, optionally with a ROLL margin regularizer.

    The settings come as a :class:`FitConfig` (``config=``), as keywords named after its
    fields (``lam=1.0, epochs=5``), or both: keywords override the config's fields.

    Args:
        module_or_net: a :class:`plnet.Network` or :class:`plnet.sequence.SequenceModel`
            (compiled here), or a module from :func:`plnet.backends.torch.compile` (trained
            in place).
        train_data: ``(X, y)`` numpy arrays or tensors, or an iterable of ``(x, y)`` batches
            (e.g. a DataLoader; its own sampler then sets the order and batch size). For a
            sequence model: ``(sequences, y)`` with a list of ``[T_i, *F]`` arrays, or a
            :class:`~plnet.backends.torch.train_sequences.SequenceData` (padded + lengths);
            each batch then holds one length (see
            :mod:`~plnet.backends.torch.train_sequences`).
        config: the settings (default: ``FitConfig()``).
        val_data: same forms as ``train_data``; selects the returned model and carries the
            margin metrics.
        distributed: None detects a process group (an initialized one, or ``torchrun``'s
            environment, initialized here: gloo on the CPU, NCCL on CUDA, each rank on
            ``cuda:LOCAL_RANK``); True insists on one; False trains in this process alone.
            Under a group, every rank runs ``fit`` with the same data and settings: the
            module is wrapped in DistributedDataParallel, every global batch of
            ``batch_size`` points is shared by the ranks and each rank's loss weighted by
            its share, so the step is the single-process step (a loader yields each rank's
            own batches, e.g. through a DistributedSampler, whose ``set_epoch`` is called);
            validation, margins and metrics are reduced over the ranks and every rank gets
            the same history; rank 0 alone writes the checkpoint and the metrics file, and
            a checkpoint resumes with any number of ranks. An error on one rank is raised
            on every rank.
        **settings: fields of the config's groups, by name (each group's docstring says
            what they mean and which values are valid):
            optimization (:class:`OptimizationConfig`): ``optimizer``, ``lr``,
            ``momentum``, ``weight_decay``, ``epochs``;
            ROLL regularizer (:class:`RollConfig`): ``lam``, ``C``, ``gamma``, ``samples``,
            ``relaxation``;
            data (:class:`DataConfig`): ``loss``, ``batch_size``, ``seed``, ``device``;
            tracking (:class:`TrackingConfig`): ``checkpoint_dir``, ``resume``,
            ``metrics_path``, ``eval_margins``, ``margin_points``, ``margin_chunk``,
            ``margin_engine``, ``progress``.

    Returns:
        A :class:`FitResult`.

    Raises:
        InvalidInputError, ShapeError: malformed data or settings (an unknown keyword,
            mismatched X/y lengths, an unknown optimizer or relaxation, gamma outside
            (0, 100], C < 0, samples > D...).
        SerializationError: an unreadable checkpoint.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> X = np.random.default_rng(0).normal(size=(64, 2))
        >>> y = (X[:, 0] > X[:, 1]).astype(np.float64)          # labels 0/1
        >>> result = pt.fit(net, (X, y), lam=1.0, C=1.0, samples=1, epochs=3, lr=0.01, seed=0,
        ...                 progress=False)
        >>> len(result.history), result.module.dtype
        (3, torch.float32)
    """
    if config is None:
        config = FitConfig()
    elif not isinstance(config, FitConfig):
        raise InvalidInputError(f"config must be a FitConfig, got {type(config).__name__} "
                                f"(pass settings as keywords, or FitConfig(...))")
    config = config.replace(**settings)
    opt_cfg, roll, data_cfg, track = (config.optimization, config.roll, config.data,
                                      config.tracking)
    ranks = replicas(distributed, data_cfg.device)
    module, train, val, task = ranks.run(lambda: _prepare(
        module_or_net, train_data, val_data, config, ranks.device(data_cfg.device)))
    param = next(module.parameters(), None)
    dev, dtype = (param.device, param.dtype) if param is not None else (torch.device("cpu"),
                                                                      torch.float32)

    torch.manual_seed(data_cfg.seed)
    sample_gen = torch.Generator().manual_seed(data_cfg.seed + 1)
    opt = _make_optimizer(module, opt_cfg)
    history, best = [], {"epoch": 0, "score": math.inf, "state": _state_copy(module)}
    saved_config = config.to_dict()
    state = (ranks.on_rank0(lambda: load_checkpoint(track.checkpoint_dir, saved_config))
             if track.resume else None)
    if state is not None:
        module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        restore_rng_states(state["rng"], sample_gen)
        history, best = list(state["history"]), state["best"]
    ranks.on_rank0(lambda: write_metrics(track.metrics_path, history, append=False))
    objective = ranks.wrap(TrainingObjective(module, task, roll, sample_gen))

    for epoch in range(len(history) + 1, opt_cfg.epochs + 1):
        started = time.perf_counter()
        record = {"epoch": epoch, **_train_epoch(objective, module, opt, train, task, config,
                                                 dev, dtype, epoch, ranks)}
        record["val_loss"] = record["val_accuracy"] = None
        if val is not None:
            record["val_loss"], record["val_accuracy"] = evaluate_task(
                module, val, task, data_cfg.batch_size, dev, dtype, "val_data", ranks)
        if track.eval_margins:
            source = val if val is not None else train
            record["margin_set"] = "val" if val is not None else "train"
            record.update(margin_metrics(module, collect_points(source, track.margin_points,
                                                                ranks),
                                         track.margin_chunk, track.margin_engine, ranks))
        score = record["val_loss"] if val is not None else record["train_task_loss"]
        if score < best["score"]:
            best = {"epoch": epoch, "score": score, "state": _state_copy(module)}
        record["best_epoch"] = best["epoch"]
        record["seconds"] = ranks.reduce(lambda: [time.perf_counter() - started], 1, "max")[0]
        history.append(record)
        ranks.on_rank0(lambda: _write_epoch(track, history, {
            "config": saved_config, "epoch": epoch, "model": module.state_dict(),
            "optimizer": opt.state_dict(), "rng": rng_states(sample_gen), "best": best,
            "history": history}))

    selected = copy.deepcopy(module)
    selected.load_state_dict(best["state"])
    return FitResult(selected, module, history, best["epoch"], best["score"])


def _prepare(module_or_net, train_data, val_data, config: FitConfig, device: str):
    """The compiled module, the data and the task loss, checked before any training."""
    module = _as_module(module_or_net, device)
    config.roll.check_for(module.input_size)
    train = training_data(module, train_data, "train_data")
    val = training_data(module, val_data, "val_data")
    return module, train, val, TaskLoss(config.data.loss, math.prod(module.output_shape))


def _write_epoch(track, history: list, state: dict) -> None:
    """The epoch's metrics line and checkpoint (rank 0 writes them)."""
    write_metrics(track.metrics_path, history, append=True)
    if track.checkpoint_dir is not None:
        save_checkpoint(track.checkpoint_dir, state)


def _signature_with_settings(fn: Callable) -> inspect.Signature:
    """``fn``'s signature with ``**settings`` spelled out as the config's fields, so that
    ``help(fit)`` shows every keyword with its type and default."""
    signature, hints = inspect.signature(fn), typing.get_type_hints(fn)
    keywords = []
    for cls in GROUPS.values():
        types = typing.get_type_hints(cls)
        keywords += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                       default=f.default, annotation=types[f.name])
                     for f in dataclasses.fields(cls)]
    fixed = [p.replace(annotation=hints[p.name]) for p in signature.parameters.values()
             if p.kind is not p.VAR_KEYWORD]
    return signature.replace(parameters=fixed + keywords, return_annotation=hints["return"])


fit.__signature__ = _signature_with_settings(fit)


class TrainingObjective(torch.nn.Module):
    """One step's loss as a module (what DistributedDataParallel wraps): the task loss plus
    ``lam`` times the ROLL regularizer, on the points of one batch."""

    def __init__(self, module, task: TaskLoss, roll, generator: torch.Generator):
        super().__init__()
        self.module, self.task, self.roll, self.generator = module, task, roll, generator

    def forward(self, x, y):
        """``(logits, task_loss, regularizer or None, total)``."""
        roll = self.roll
        if roll.lam == 0:
            logits = self.module(x)
            task_loss = self.task(logits, y)
            return logits, task_loss, None, task_loss
        logits, reg = regularized_forward(
            self.module, x, C=roll.C, gamma=roll.gamma, samples=roll.samples,
            relaxation=roll.relaxation, generator=self.generator)
        task_loss = self.task(logits, y)
        return logits, task_loss, reg, task_loss + roll.lam * reg


def _train_epoch(objective, module, opt, train, task, config: FitConfig, dev, dtype, epoch,
                 ranks) -> dict:
    """One epoch. Each step's loss is a mean over this rank's points weighted by their share
    of the global batch (times the number of ranks, which DDP's gradient average divides
    out): the ranks' averaged gradient is the gradient of the global batch's mean loss."""
    module.train()
    batch_size = config.data.batch_size
    bar = _progress_bar(epoch_batches(train, batch_size, config.data.seed, epoch,
                                      ranks.world_size, ranks.rank),
                        train.num_batches(batch_size),
                        config.tracking.progress and ranks.rank == 0, epoch)
    batches, sums = iter(bar), [0.0] * 5  # points, loss, task loss, regularizer, correct
    while True:
        batch = []
        have = ranks.reduce(lambda: _next_batch(batches, batch, task, dev, dtype), 1)[0]
        if have == 0:
            break
        if have != ranks.world_size:
            raise InvalidInputError(f"train_data: in epoch {epoch} some ranks ran out of "
                                    f"batches before others; every rank's loader must yield "
                                    f"the same number of batches (a DistributedSampler does)")
        x, y, points = batch
        opt.zero_grad(set_to_none=True)
        outputs = []
        step = ranks.reduce(lambda: _step_sums(objective, x, y, points, task, outputs), 5)
        mean = step[1] / step[0]
        if not math.isfinite(mean):
            raise InvalidInputError(f"epoch {epoch}: the training loss became {mean}; "
                                    f"lower lr or lam")
        share = ranks.world_size * points / step[0]
        (outputs[0] if share == 1 else outputs[0] * share).backward()
        opt.step()
        sums = [a + b for a, b in zip(sums, step)]
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{mean:.4g}")
    module.eval()
    count = sums[0]
    return {"train_loss": sums[1] / count, "train_task_loss": sums[2] / count,
            "train_regularizer": sums[3] / count if config.roll.lam > 0 else None,
            "train_accuracy": None if task.custom is not None else sums[4] / count}


def _next_batch(batches, batch: list, task, dev, dtype) -> list[float]:
    """Put this rank's next ``(x, y, points)`` in ``batch``; ``[1]`` if there was one."""
    item = next(batches, None)
    if item is None:
        return [0.0]
    x, y, points = item
    batch += [x.to(device=dev, dtype=dtype), task.targets(y, dev, "train_data"), points]
    return [1.0]


def _step_sums(objective, x, y, points: int, task, outputs: list) -> list[float]:
    """The step's forward pass; the total loss goes to ``outputs``; returns the point count
    and the point-weighted loss, task loss, regularizer and correct predictions."""
    logits, task_loss, reg, total = objective(x, y)
    outputs.append(total)
    if points == 0:  # a stand-in point: in the collectives, out of every sum
        return [0.0] * 5
    hits = task.correct(logits.detach(), y)
    return [points, points * float(total.detach()), points * float(task_loss.detach()),
            0.0 if reg is None else points * float(reg.detach()), hits or 0]


def _progress_bar(batches, total, progress, epoch):
    if not progress or not sys.stderr.isatty():
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, total=total, desc=f"epoch {epoch}", leave=False)


def _as_module(module_or_net, device):
    if isinstance(module_or_net, Network) or is_sequence_model(module_or_net):
        return compile_model(module_or_net, device=device)
    needed = ("to_network", "input_size", "output_shape")
    if not isinstance(module_or_net, torch.nn.Module) or not all(
            hasattr(module_or_net, a) for a in needed):
        raise InvalidInputError(f"fit needs a plnet.Network or a module from "
                                f"plnet.backends.torch.compile, got "
                                f"{type(module_or_net).__name__} (lower a torch module with "
                                f"plnet.from_torch first)")
    if device != "auto":
        module_or_net.to(device)
    return module_or_net


def _make_optimizer(module, config: OptimizationConfig) -> torch.optim.Optimizer:
    params, lr, wd = module.parameters(), config.learning_rate, config.weight_decay
    if config.optimizer == "sgd":
        m = config.momentum
        return torch.optim.SGD(params, lr=lr, momentum=m, nesterov=m > 0, weight_decay=wd)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd,
                            amsgrad=config.optimizer == "amsgrad")


def _state_copy(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
