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

from plnet.backends.torch.dispatch import compile as compile_model
from plnet.backends.torch.dispatch import is_sequence_model, regularized_forward
from plnet.backends.torch.train_checkpoint import (load_checkpoint, restore_rng_states,
                                                   rng_states, save_checkpoint)
from plnet.backends.torch.train_config import GROUPS, FitConfig, OptimizationConfig
from plnet.backends.torch.train_data import TaskLoss
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
        **settings: Any) -> FitResult:
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
    """
    if config is None:
        config = FitConfig()
    elif not isinstance(config, FitConfig):
        raise InvalidInputError(f"config must be a FitConfig, got {type(config).__name__} "
                                f"(pass settings as keywords, or FitConfig(...))")
    config = config.replace(**settings)
    opt_cfg, roll, data_cfg, track = (config.optimization, config.roll, config.data,
                                      config.tracking)
    module = _as_module(module_or_net, data_cfg.device)
    roll.check_for(module.input_size)
    param = next(module.parameters(), None)
    dev, dtype = (param.device, param.dtype) if param is not None else (torch.device("cpu"),
                                                                      torch.float32)
    train = training_data(module, train_data, "train_data")
    val = training_data(module, val_data, "val_data")
    task = TaskLoss(data_cfg.loss, math.prod(module.output_shape))

    torch.manual_seed(data_cfg.seed)
    shuffle_gen = torch.Generator().manual_seed(data_cfg.seed)
    sample_gen = torch.Generator().manual_seed(data_cfg.seed + 1)
    opt = _make_optimizer(module, opt_cfg)
    history, best = [], {"epoch": 0, "score": math.inf, "state": _state_copy(module)}
    saved_config = config.to_dict()
    state = load_checkpoint(track.checkpoint_dir, saved_config) if track.resume else None
    if state is not None:
        module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        restore_rng_states(state["rng"], shuffle_gen, sample_gen)
        history, best = list(state["history"]), state["best"]
    write_metrics(track.metrics_path, history, append=False)

    for epoch in range(len(history) + 1, opt_cfg.epochs + 1):
        started = time.perf_counter()
        record = {"epoch": epoch, **_train_epoch(module, opt, train, task, config, dev, dtype,
                                                 shuffle_gen, sample_gen, epoch)}
        record["val_loss"] = record["val_accuracy"] = None
        if val is not None:
            record["val_loss"], record["val_accuracy"] = evaluate_task(
                module, val, task, data_cfg.batch_size, dev, dtype, "val_data")
        if track.eval_margins:
            source = val if val is not None else train
            record["margin_set"] = "val" if val is not None else "train"
            record.update(margin_metrics(module, collect_points(source, track.margin_points),
                                         track.margin_chunk, track.margin_engine))
        score = record["val_loss"] if val is not None else record["train_task_loss"]
        if score < best["score"]:
            best = {"epoch": epoch, "score": score, "state": _state_copy(module)}
        record["best_epoch"] = best["epoch"]
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        write_metrics(track.metrics_path, history, append=True)
        if track.checkpoint_dir is not None:
            save_checkpoint(track.checkpoint_dir, {
                "config": saved_config, "epoch": epoch, "model": module.state_dict(),
                "optimizer": opt.state_dict(), "rng": rng_states(shuffle_gen, sample_gen),
                "best": best, "history": history})

    selected = copy.deepcopy(module)
    selected.load_state_dict(best["state"])
    return FitResult(selected, module, history, best["epoch"], best["score"])


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


def _train_epoch(module, opt, train, task, config: FitConfig, dev, dtype, shuffle_gen,
                 sample_gen, epoch) -> dict:
    module.train()
    roll, batch_size = config.roll, config.data.batch_size
    sums = {"loss": 0.0, "task": 0.0, "reg": 0.0}
    correct, count = 0, 0
    batches = train.batches(batch_size, shuffle=True, generator=shuffle_gen)
    bar = _progress_bar(batches, train.num_batches(batch_size), config.tracking.progress,
                        epoch)
    for x, y in bar:
        x = x.to(device=dev, dtype=dtype)
        y = task.targets(y, dev, "train_data")
        opt.zero_grad(set_to_none=True)
        if roll.lam > 0:
            logits, reg = regularized_forward(
                module, x, C=roll.C, gamma=roll.gamma, samples=roll.samples,
                relaxation=roll.relaxation, generator=sample_gen)
            task_loss = task(logits, y)
            total = task_loss + roll.lam * reg
            sums["reg"] += float(reg.detach()) * x.shape[0]
        else:
            logits = module(x)
            task_loss = total = task(logits, y)
        if not torch.isfinite(total.detach()):
            raise InvalidInputError(f"epoch {epoch}: the training loss became "
                                    f"{float(total.detach())}; "
                                    f"lower lr or lam")
        total.backward()
        opt.step()
        sums["loss"] += float(total.detach()) * x.shape[0]
        sums["task"] += float(task_loss.detach()) * x.shape[0]
        hits = task.correct(logits.detach(), y)
        correct = None if hits is None or correct is None else correct + hits
        count += x.shape[0]
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{float(total.detach()):.4g}")
    module.eval()
    return {"train_loss": sums["loss"] / count, "train_task_loss": sums["task"] / count,
            "train_regularizer": sums["reg"] / count if roll.lam > 0 else None,
            "train_accuracy": None if correct is None else correct / count}


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
