"""``FitConfig``: every setting of :func:`plnet.backends.torch.fit`, grouped and validated.

``fit(net, data, config=FitConfig(roll=RollConfig(lam=1.0)))`` and
``fit(net, data, lam=1.0)`` are the same call: the keywords of ``fit`` are the field names
of the groups, and :meth:`FitConfig.replace` routes each to its group. Values are checked
when a group is made, so a bad setting fails before any training starts; the checks that
need the network (``samples`` against the input size) run in ``fit``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from pathlib import Path
from typing import Any, Callable

from plnet.backends.torch.losses import check_C, check_gamma, check_samples
from plnet.backends.torch.relaxations import get_relaxation, is_sampling_unbiased
from plnet.backends.torch.train_data import check_loss
from plnet.errors import InvalidInputError

#: Learning rates used when ``lr`` is not given (paper, Appendix F-H).
DEFAULT_LR = {"adam": 1e-3, "amsgrad": 1e-3, "sgd": 0.01}
MARGIN_ENGINES = ("certify", "reference")

Loss = str | Callable[..., Any]


def _real(key: str, value, *, positive: bool = False) -> float:
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
          and math.isfinite(value) and value >= 0 and not (positive and value == 0))
    if not ok:
        raise InvalidInputError(f"{key} must be a finite number {'> 0' if positive else '>= 0'}"
                                f", got {value!r}")
    return float(value)


def _integer(key: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise InvalidInputError(f"{key} must be an integer >= {low}, got {value!r}")
    return int(value)


def _choice(key: str, value, choices) -> str:
    if value not in choices:
        raise InvalidInputError(f"unknown {key} {value!r}: use one of {sorted(choices)}")
    return value


def _flag(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{key} must be True or False, got {value!r}")
    return value


def _path(key: str, value) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidInputError(f"{key} must be a path (str or os.PathLike) or None, got "
                                f"{value!r}")
    return Path(value)


def _set(obj, **values) -> None:
    for key, value in values.items():
        object.__setattr__(obj, key, value)


@dataclasses.dataclass(frozen=True)
class OptimizationConfig:
    """The optimizer and how long it runs.

    Attributes:
        optimizer: ``"adam"``, ``"amsgrad"`` or ``"sgd"`` (Nesterov momentum).
        lr: learning rate > 0; None takes :data:`DEFAULT_LR` of the optimizer (1e-3 for
            Adam/AMSGrad, 0.01 for SGD).
        momentum: SGD momentum >= 0 (0 turns Nesterov off).
        weight_decay: L2 penalty >= 0 passed to the optimizer.
        epochs: total epochs >= 0 (a resumed run continues up to this number; 0 returns
            the untrained model).

    Example:
        >>> from plnet.backends import torch as pt
        >>> pt.OptimizationConfig(optimizer="sgd", lr=0.01, epochs=5).momentum
        0.9
        >>> pt.OptimizationConfig(lr=-1.0)
        Traceback (most recent call last):
        ...
        plnet.errors.InvalidInputError: ...
    """

    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    epochs: int = 20

    def __post_init__(self):
        _choice("optimizer", self.optimizer, DEFAULT_LR)
        _set(self, lr=None if self.lr is None else _real("lr", self.lr, positive=True),
             momentum=_real("momentum", self.momentum),
             weight_decay=_real("weight_decay", self.weight_decay),
             epochs=_integer("epochs", self.epochs, 0))

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimizer's default."""
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr


@dataclasses.dataclass(frozen=True)
class RollConfig:
    """The ROLL margin regularizer (paper, Eq. 9 and 10).

    Attributes:
        lam: regularizer weight >= 0; 0 trains the vanilla loss (and skips the regularizer).
        C: hinge weight >= 0 of Eq. 7/9 (see :func:`plnet.backends.torch.roll_regularizer`).
        gamma: percentage of units kept by Eq. 9, in (0, 100].
        samples: input axes D' of Eq. 10's unbiased estimate (None: all, exactly); sampling
            needs ``relaxation="roll"`` with ``gamma=100``.
        relaxation: a registered relaxation name or a callable (see
            :mod:`plnet.backends.torch.relaxations`).

    Example:
        >>> from plnet.backends import torch as pt
        >>> roll = pt.RollConfig(lam=1.0, C=5.0, samples=3)     # Eq. 10 with 3 sampled axes
        >>> roll.gamma, roll.relaxation
        (100.0, 'roll')
    """

    lam: float = 0.0
    C: float = 1.0
    gamma: float = 100
    samples: int | None = None
    relaxation: str | Callable[..., Any] = "roll"

    def __post_init__(self):
        get_relaxation(self.relaxation)
        _set(self, lam=_real("lam", self.lam), C=check_C(self.C),
             gamma=check_gamma(self.gamma), samples=check_samples(self.samples, math.inf))

    def check_for(self, input_size: int) -> None:
        """Check ``samples`` against a network's input size D.

        Raises:
            InvalidInputError: more samples than input axes, or sampling with a relaxation
                that Eq. 10's estimate would bias.
        """
        check_samples(self.samples, int(input_size))
        if (self.samples is not None and self.samples < input_size
                and not is_sampling_unbiased(get_relaxation(self.relaxation), self.gamma)):
            raise InvalidInputError(f"samples={self.samples} needs relaxation='roll' with "
                                    f"gamma=100 (a loss affine in the squared gradient norms)")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """How batches are drawn and scored.

    Attributes:
        loss: ``"cross_entropy"`` (binary cross-entropy with logits for one output, softmax
            cross-entropy otherwise), ``"bce"``, or a callable ``(logits, y) -> scalar``.
        batch_size: points per step >= 1 for ``(X, y)`` data (a DataLoader keeps its own).
        seed: integer >= 0 seeding shuffling, Eq. 10's axis draws and torch's global RNG;
            the same seed gives identical parameters on the CPU.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...; ``"auto"`` keeps a compiled module
            where it is and puts a Network on CUDA when present.

    Example:
        >>> from plnet.backends import torch as pt
        >>> pt.DataConfig(batch_size=32, seed=1).loss
        'cross_entropy'
    """

    loss: Loss = "cross_entropy"
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        check_loss(self.loss)
        _set(self, batch_size=_integer("batch_size", self.batch_size, 1),
             seed=_integer("seed", self.seed, 0))
        if not isinstance(self.device, str):
            raise InvalidInputError(f"device must be a string such as 'auto', 'cpu' or "
                                    f"'cuda', got {self.device!r}")


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """Checkpoints, the metrics log and the per-epoch margin certificates.

    Attributes:
        checkpoint_dir: a folder (str or path, kept as a ``Path``); ``checkpoint.pt`` is
            written there after every epoch (model, optimizer, epoch, RNG states, best
            model so far, history, this configuration).
        resume: continue from the checkpoint in ``checkpoint_dir`` if there is one (else
            start fresh); the result equals an uninterrupted run.
        metrics_path: a file (str or path, kept as a ``Path``) that gets one JSON object
            per epoch (rewritten on a fresh start; truncated to the checkpoint's epochs on
            resume).
        eval_margins: every epoch, certify l2/l1 margin percentiles (P25/P50/P75/P100) and
            #CLR bounds on up to ``margin_points`` validation points (training points
            without validation data).
        margin_points: cap >= 1 on the points certified.
        margin_chunk: points per certification pass >= 1.
        margin_engine: ``"certify"`` (:func:`plnet.backends.torch.certify`, in the module's
            dtype and device) or ``"reference"`` (float64 numpy reference; slower).
        progress: tqdm bars (only when stderr is a terminal).

    Example:
        >>> from plnet.backends import torch as pt
        >>> pt.TrackingConfig(checkpoint_dir="runs/ckpt", resume=True).checkpoint_dir
        PosixPath('runs/ckpt')
    """

    checkpoint_dir: Path | None = None
    resume: bool = False
    metrics_path: Path | None = None
    eval_margins: bool = True
    margin_points: int = 256
    margin_chunk: int = 64
    margin_engine: str = "certify"
    progress: bool = True

    def __post_init__(self):
        _choice("margin_engine", self.margin_engine, MARGIN_ENGINES)
        _set(self, checkpoint_dir=_path("checkpoint_dir", self.checkpoint_dir),
             metrics_path=_path("metrics_path", self.metrics_path),
             resume=_flag("resume", self.resume),
             eval_margins=_flag("eval_margins", self.eval_margins),
             progress=_flag("progress", self.progress),
             margin_points=_integer("margin_points", self.margin_points, 1),
             margin_chunk=_integer("margin_chunk", self.margin_chunk, 1))
        if self.resume and self.checkpoint_dir is None:
            raise InvalidInputError("resume=True needs the checkpoint_dir to resume from")


GROUPS = {"optimization": OptimizationConfig, "roll": RollConfig, "data": DataConfig,
          "tracking": TrackingConfig}
#: keyword of ``fit`` -> the group holding it
FIELD_GROUPS = {f.name: group for group, cls in GROUPS.items()
                for f in dataclasses.fields(cls)}


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Every setting of :func:`plnet.backends.torch.fit`, in four groups.

    Build one from groups, ``FitConfig(roll=RollConfig(lam=1.0))``, or from ``fit``'s
    keywords, ``FitConfig.from_keywords(lam=1.0, epochs=5)``; ``config.replace(lr=0.01)``
    returns a copy with fields changed. Values are validated when a group is made.

    Attributes:
        optimization: :class:`OptimizationConfig` (optimizer, lr, momentum, weight_decay,
            epochs).
        roll: :class:`RollConfig` (lam, C, gamma, samples, relaxation).
        data: :class:`DataConfig` (loss, batch_size, seed, device).
        tracking: :class:`TrackingConfig` (checkpoint_dir, resume, metrics_path,
            eval_margins, margin_points, margin_chunk, margin_engine, progress).

    Example:
        >>> from plnet.backends import torch as pt
        >>> config = pt.FitConfig(roll=pt.RollConfig(lam=1.0),
        ...                       optimization=pt.OptimizationConfig(epochs=5))
        >>> config.replace(lr=0.01).optimization.lr, config.roll.lam
        (0.01, 1.0)
        >>> pt.FitConfig.from_keywords(lam=1.0, epochs=5) == config
        True
    """

    optimization: OptimizationConfig = dataclasses.field(default_factory=OptimizationConfig)
    roll: RollConfig = dataclasses.field(default_factory=RollConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    tracking: TrackingConfig = dataclasses.field(default_factory=TrackingConfig)

    def __post_init__(self):
        for group, cls in GROUPS.items():
            if not isinstance(getattr(self, group), cls):
                raise InvalidInputError(f"FitConfig.{group} must be a {cls.__name__}, got "
                                        f"{type(getattr(self, group)).__name__}")

    @classmethod
    def from_keywords(cls, **fields: Any) -> FitConfig:
        """A configuration from ``fit``'s keywords; the others keep their defaults."""
        return cls().replace(**fields)

    def replace(self, **fields: Any) -> FitConfig:
        """A copy with the named fields (``fit``'s keywords) changed.

        Raises:
            InvalidInputError: an unknown name (the message lists the valid ones), or an
                invalid value.
        """
        unknown = sorted(set(fields) - set(FIELD_GROUPS))
        if unknown:
            raise InvalidInputError(f"unknown fit setting(s) {unknown}: the valid names are "
                                    f"{sorted(FIELD_GROUPS)}")
        changes = {}
        for group in GROUPS:
            mine = {k: v for k, v in fields.items() if FIELD_GROUPS[k] == group}
            if mine:
                changes[group] = dataclasses.replace(getattr(self, group), **mine)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings by ``fit`` keyword, as plain data (what a checkpoint stores).

        ``lr`` is the learning rate in effect; a callable loss or relaxation is written as
        ``"callable:<module>.<name>"`` (so a checkpoint holds no code, and a resumed run
        is compared by name).
        """
        out = {}
        for group in GROUPS:
            for f in dataclasses.fields(getattr(self, group)):
                value = getattr(getattr(self, group), f.name)
                out[f.name] = _plain(value)
        out["lr"] = self.optimization.learning_rate
        return out

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> FitConfig:
        """The configuration :meth:`to_dict` wrote (callables cannot come back by name).

        Raises:
            InvalidInputError: an unknown setting, an invalid value, or a callable's name.
        """
        named = sorted(k for k, v in settings.items()
                       if isinstance(v, str) and v.startswith("callable:"))
        if named:
            raise InvalidInputError(f"settings {named} name callables; pass the callables "
                                    f"themselves to fit")
        return cls.from_keywords(**settings)


def _plain(value):
    if callable(value):
        name = getattr(value, "__qualname__", value)
        return f"callable:{getattr(value, '__module__', '?')}.{name}"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value
