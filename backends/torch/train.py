"""``fit``: supervised training with a ROLL margin regularizer (paper, Eq. 9, §5).

Each step minimizes ``task_loss + lam * roll_regularizer(...)`` on a mini-batch. Every epoch
the model is evaluated on the validation data, checkpointed, and logged as one JSON line.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import sys
import time

import torch

from plnet.backends.torch.losses import (check_C, check_gamma, check_samples,
                                         regularized_forward)
from plnet.backends.torch.relaxations import get_relaxation, is_sampling_unbiased
from plnet.backends.torch.train_checkpoint import (load_checkpoint, restore_rng_states,
                                                   rng_states, save_checkpoint)
from plnet.backends.torch.train_data import TaskLoss, as_data
from plnet.backends.torch.train_metrics import (collect_points, evaluate_task, margin_metrics,
                                                write_metrics)
from plnet.errors import InvalidInputError

#: Learning rates used when ``lr`` is not given (paper, Appendix F-H).
DEFAULT_LR = {"adam": 1e-3, "amsgrad": 1e-3, "sgd": 0.01}


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
    def network(self):
        """The selected model as a :class:`plnet.Network` (float64, for certification)."""
        return self.module.to_network()


def fit(module_or_net, train_data, *, val_data=None, loss="cross_entropy", relaxation="roll",
        lam=0.0, C=1.0, gamma=100, samples=None, optimizer="adam", lr=None, momentum=0.9,
        weight_decay=0.0, epochs=20, batch_size=64, seed=0, checkpoint_dir=None, resume=False,
        metrics_path=None, progress=True, device="auto", eval_margins=True,
        margin_points=256, margin_chunk=64, margin_engine="certify") -> FitResult:
    """Train a piecewise-linear network, optionally with a ROLL margin regularizer.

    Args:
        module_or_net: a :class:`plnet.Network` (compiled here) or a compiled network from
            :func:`plnet.backends.torch.compile` (trained in place).
        train_data: ``(X, y)`` numpy arrays or tensors, or an iterable of ``(x, y)`` batches
            (e.g. a DataLoader; its own sampler then sets the order and batch size).
        val_data: same forms; selects the returned model and carries the margin metrics.
        loss: ``"cross_entropy"`` (binary cross-entropy with logits for one output, softmax
            cross-entropy otherwise), ``"bce"``, or a callable ``(logits, y) -> scalar``.
        relaxation: registered relaxation name or callable (see ``relaxations``).
        lam: regularizer weight; 0 trains the vanilla loss (and skips the regularizer).
        C, gamma, samples: see :func:`roll_regularizer`.
        optimizer: ``"adam"``, ``"amsgrad"`` or ``"sgd"`` (Nesterov momentum).
        lr: learning rate (default: 1e-3 for Adam/AMSGrad, 0.01 for SGD).
        momentum: SGD momentum (0 turns Nesterov off).
        weight_decay: L2 penalty passed to the optimizer.
        epochs: total epochs (a resumed run continues up to this number).
        batch_size: points per step for ``(X, y)`` data.
        seed: seeds shuffling, Eq. 10's axis draws and torch's global RNG. The same seed
            gives identical parameters on the CPU.
        checkpoint_dir: write ``checkpoint.pt`` there after every epoch (model, optimizer,
            epoch, RNG states, best model so far, history).
        resume: continue from the checkpoint in ``checkpoint_dir`` if there is one (else
            start fresh); the result equals an uninterrupted run.
        metrics_path: append one JSON object per epoch to this file (rewritten on a fresh
            start; truncated to the checkpoint's epochs on resume).
        progress: tqdm bars (only when stderr is a terminal).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...; ``"auto"`` keeps a compiled module
            where it is and puts a Network on CUDA when present.
        eval_margins: every epoch, certify l2/l1 margin percentiles (P25/P50/P75/P100) and
            #CLR bounds with the float64 reference on up to ``margin_points`` validation
            points (training points without validation data).
        margin_points, margin_chunk: cap on the points certified, and points per pass.
        margin_engine: ``"certify"`` (:func:`plnet.backends.torch.certify`, in the module's
            dtype and device) or ``"reference"`` (float64 numpy reference; slower).

    Returns:
        A :class:`FitResult`.

    Raises:
        InvalidInputError, ShapeError: malformed data or options (mismatched X/y lengths, an
            unknown optimizer or relaxation, gamma outside (0, 100], C < 0, samples > D...).
        SerializationError: an unreadable checkpoint.
    """
    module = _as_module(module_or_net, device)
    config = _check_options(module, loss=loss, relaxation=relaxation, lam=lam, C=C, gamma=gamma,
                            samples=samples, optimizer=optimizer, lr=lr, momentum=momentum,
                            weight_decay=weight_decay, epochs=epochs, batch_size=batch_size,
                            seed=seed, margin_points=margin_points, margin_chunk=margin_chunk,
                            margin_engine=margin_engine)
    if resume and checkpoint_dir is None:
        raise InvalidInputError("resume=True needs the checkpoint_dir to resume from")
    param = next(module.parameters(), None)
    dev, dtype = (param.device, param.dtype) if param is not None else (torch.device("cpu"),
                                                                      torch.float32)
    train = as_data(train_data, module.input_shape, "train_data")
    val = as_data(val_data, module.input_shape, "val_data")
    task = TaskLoss(loss, math.prod(module.output_shape))

    torch.manual_seed(seed)
    shuffle_gen = torch.Generator().manual_seed(seed)
    sample_gen = torch.Generator().manual_seed(seed + 1)
    opt = _make_optimizer(module, config)
    history, best = [], {"epoch": 0, "score": math.inf, "state": _state_copy(module)}
    saved_config = _checkpoint_config(config)
    state = load_checkpoint(checkpoint_dir, saved_config) if resume else None
    if state is not None:
        module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        restore_rng_states(state["rng"], shuffle_gen, sample_gen)
        history, best = list(state["history"]), state["best"]
    write_metrics(metrics_path, history, append=False)

    for epoch in range(len(history) + 1, epochs + 1):
        started = time.perf_counter()
        record = {"epoch": epoch, **_train_epoch(module, opt, train, task, config, dev, dtype,
                                                 shuffle_gen, sample_gen, progress, epoch)}
        record["val_loss"] = record["val_accuracy"] = None
        if val is not None:
            record["val_loss"], record["val_accuracy"] = evaluate_task(
                module, val, task, config["batch_size"], dev, dtype, "val_data")
        if eval_margins:
            source = val if val is not None else train
            record["margin_set"] = "val" if val is not None else "train"
            record.update(margin_metrics(module, collect_points(source, margin_points),
                                         margin_chunk, margin_engine))
        score = record["val_loss"] if val is not None else record["train_task_loss"]
        if score < best["score"]:
            best = {"epoch": epoch, "score": score, "state": _state_copy(module)}
        record["best_epoch"] = best["epoch"]
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        write_metrics(metrics_path, history, append=True)
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, {
                "config": saved_config, "epoch": epoch, "model": module.state_dict(),
                "optimizer": opt.state_dict(), "rng": rng_states(shuffle_gen, sample_gen),
                "best": best, "history": history})

    selected = copy.deepcopy(module)
    selected.load_state_dict(best["state"])
    return FitResult(selected, module, history, best["epoch"], best["score"])


def _train_epoch(module, opt, train, task, config, dev, dtype, shuffle_gen, sample_gen,
                 progress, epoch) -> dict:
    module.train()
    sums = {"loss": 0.0, "task": 0.0, "reg": 0.0}
    correct, count = 0, 0
    batches = train.batches(config["batch_size"], shuffle=True, generator=shuffle_gen)
    bar = _progress_bar(batches, train.num_batches(config["batch_size"]), progress, epoch)
    for x, y in bar:
        x = x.to(device=dev, dtype=dtype)
        y = task.targets(y, dev, "train_data")
        opt.zero_grad(set_to_none=True)
        if config["lam"] > 0:
            logits, reg = regularized_forward(
                module, x, C=config["C"], gamma=config["gamma"], samples=config["samples"],
                relaxation=config["relaxation"], generator=sample_gen)
            task_loss = task(logits, y)
            total = task_loss + config["lam"] * reg
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
            "train_regularizer": sums["reg"] / count if config["lam"] > 0 else None,
            "train_accuracy": None if correct is None else correct / count}


def _progress_bar(batches, total, progress, epoch):
    if not progress or not sys.stderr.isatty():
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, total=total, desc=f"epoch {epoch}", leave=False)


def _as_module(module_or_net, device):
    from plnet.network import Network

    if isinstance(module_or_net, Network):
        from plnet.backends.torch.compiled import compile as compile_network

        return compile_network(module_or_net, device=device)
    needed = ("to_network", "input_shape", "input_size", "num_units")
    if not isinstance(module_or_net, torch.nn.Module) or not all(
            hasattr(module_or_net, a) for a in needed):
        raise InvalidInputError(f"fit needs a plnet.Network or a module from "
                                f"plnet.backends.torch.compile, got "
                                f"{type(module_or_net).__name__} (lower a torch module with "
                                f"plnet.from_torch first)")
    if device != "auto":
        module_or_net.to(device)
    return module_or_net


def _check_options(module, **opts) -> dict:
    opts["C"], opts["gamma"] = check_C(opts["C"]), check_gamma(opts["gamma"])
    opts["samples"] = check_samples(opts["samples"], int(module.input_size))
    fn = get_relaxation(opts["relaxation"])
    if (opts["samples"] is not None and opts["samples"] < module.input_size
            and not is_sampling_unbiased(fn, opts["gamma"])):
        raise InvalidInputError(f"samples={opts['samples']} needs relaxation='roll' with "
                                f"gamma=100 (a loss affine in the squared gradient norms)")
    if opts["optimizer"] not in DEFAULT_LR:
        raise InvalidInputError(f"unknown optimizer {opts['optimizer']!r}: use one of "
                                f"{sorted(DEFAULT_LR)}")
    if opts["lr"] is None:
        opts["lr"] = DEFAULT_LR[opts["optimizer"]]
    for key, low in (("lam", 0.0), ("lr", 0.0), ("momentum", 0.0), ("weight_decay", 0.0)):
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                math.isfinite(value) and value >= low) or (key == "lr" and value == 0):
            raise InvalidInputError(f"{key} must be a finite number "
                                    f"{'> 0' if key == 'lr' else '>= 0'}, got {value!r}")
        opts[key] = float(value)
    for key, low in (("epochs", 0), ("batch_size", 1), ("seed", 0), ("margin_points", 1),
                     ("margin_chunk", 1)):
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise InvalidInputError(f"{key} must be an integer >= {low}, got {value!r}")
        opts[key] = int(value)
    if opts["margin_engine"] not in ("certify", "reference"):
        raise InvalidInputError(f"margin_engine must be 'certify' or 'reference', got "
                                f"{opts['margin_engine']!r}")
    if not isinstance(opts["relaxation"], str):
        opts["relaxation"] = fn  # a callable is used as given (not checkpoint-comparable)
    if not isinstance(opts["loss"], str) and not callable(opts["loss"]):
        raise InvalidInputError(f"loss must be a name or a callable, got {opts['loss']!r}")
    return opts


def _checkpoint_config(config) -> dict:
    """The settings with callables named, so that checkpoints hold plain data only."""
    def name(v):
        return f"callable:{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', v)}"

    return {k: (name(v) if callable(v) else v) for k, v in config.items()}


def _make_optimizer(module, config):
    params, lr, wd = module.parameters(), config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        m = config["momentum"]
        return torch.optim.SGD(params, lr=lr, momentum=m, nesterov=m > 0, weight_decay=wd)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd,
                            amsgrad=config["optimizer"] == "amsgrad")


def _state_copy(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
