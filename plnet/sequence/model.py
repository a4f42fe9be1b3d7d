"""``SequenceModel``: one tied parameter set, unrolled into a :class:`plnet.Network` per length.

Every network :meth:`SequenceModel.unroll` returns refers to the parameters by the model's
names and holds the model's own (read-only) arrays, so all lengths share one parameter set:
training updates them together (through :meth:`SequenceModel.with_params`) and a saved
model stores each array once.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from plnet.analysis.arguments import positive_int
from plnet.errors import GraphError, InvalidInputError, SerializationError, ShapeError
from plnet.network import Network, as_parameter
from plnet.sequence.batching import SequenceBatch, sequence_batch
from plnet.sequence.recipes import unroller_for


class SequenceModel:
    """A piecewise-linear model of sequences ``[T, *feature_shape]`` of any accepted length.

    Args:
        unroll: builds the network for one length T (input ``[T, *feature_shape]``); its
            parameters must be named as in ``params`` (their arrays are replaced by the
            model's own).
        params: the parameter store, name -> array.
        feature_shape: the shape of one time step.
        recipe: a JSON-able description (``{"kind": ..., ...}``, see
            :mod:`plnet.sequence.recipes`) that rebuilds ``unroll``; None when the model can
            only be re-traced (it cannot be saved to a file).
        min_length, max_length: the lengths accepted (``max_length`` None: any).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> params = {"weight_ih_l0": rng.normal(size=(4, 2)),
        ...           "weight_hh_l0": 0.5 * rng.normal(size=(4, 4)),
        ...           "bias_ih_l0": np.zeros(4), "bias_hh_l0": np.zeros(4),
        ...           "w": rng.normal(size=(3, 4)), "b": np.zeros(3)}
        >>> model = plnet.sequence.elman(params, plnet.sequence.torch_rnn_layers(1),
        ...                              head=[plnet.sequence.DenseLayer("w", "b")])
        >>> xs = [rng.normal(size=(t, 2)) for t in (3, 5, 4)]     # x_i: [T_i, F]
        >>> model.unroll(3).input_shape, model(xs).shape
        ((3, 2), (3, 3))
        >>> plnet.margin(model, xs, p=2).round(3)               # one margin per sequence
        array([0.249, 0.159, 0.102])
    """

    def __init__(self, unroll: Callable[[int], Network], params: Mapping[str, npt.ArrayLike],
                 feature_shape: Sequence[int], *, recipe: dict | None = None,
                 min_length: int = 1, max_length: int | None = None):
        self._build = unroll
        self.params: dict[str, np.ndarray] = {str(k): as_parameter(str(k), v)
                                              for k, v in params.items()}
        self.feature_shape = tuple(int(d) for d in feature_shape)
        if any(d < 1 for d in self.feature_shape):
            raise ShapeError(f"feature shape {self.feature_shape} must have positive sizes")
        self.min_length = positive_int("min_length", min_length)
        self.max_length = None if max_length is None else positive_int("max_length", max_length)
        if self.max_length is not None and self.max_length < self.min_length:
            raise InvalidInputError(f"max_length {self.max_length} is below min_length "
                                    f"{self.min_length}")
        if recipe is not None:
            _check_jsonable(recipe)
        self.recipe = recipe
        self._structures: dict[int, Network] = {}  # shared with with_params() copies
        self._networks: dict[int, Network] = {}

    @classmethod
    def from_recipe(cls, recipe: Mapping, params: Mapping[str, npt.ArrayLike],
                    feature_shape: Sequence[int], *, min_length: int = 1,
                    max_length: int | None = None) -> "SequenceModel":
        """The model a registered recipe kind describes (see :mod:`plnet.sequence.recipes`)."""
        unroller = unroller_for(recipe)
        recipe = dict(recipe)
        model = cls(lambda length: unroller(recipe, model.params, model.feature_shape, length),
                    params, feature_shape, recipe=recipe, min_length=min_length,
                    max_length=max_length)
        return model

    # --- unrolling ---------------------------------------------------------------------
    def check_length(self, length: int) -> int:
        """``length`` as an int in ``[min_length, max_length]``, else :class:`ShapeError`."""
        t = positive_int("length", length)
        if t < self.min_length or (self.max_length is not None and t > self.max_length):
            upper = "" if self.max_length is None else f" <= {self.max_length}"
            raise ShapeError(f"length {t} is outside what this model accepts: {self.min_length}"
                             f" <= T{upper}")
        return t

    def unroll(self, length: int) -> Network:
        """The network for sequences of ``length`` steps, input ``[length, *feature_shape]``.

        Built on first use and cached; it holds the model's own parameter arrays.
        """
        t = self.check_length(length)
        if t not in self._networks:
            if t not in self._structures:
                self._structures[t] = self._check_unrolled(self._build(t), t)
            net = self._structures[t]
            self._networks[t] = Network(net.graph, {k: self.params[k] for k in net.params},
                                        net.output)
        return self._networks[t]

    def _check_unrolled(self, net: Network, t: int) -> Network:
        if not isinstance(net, Network):
            raise GraphError(f"the unroll function returned {type(net).__name__} for length "
                             f"{t}; expected a plnet.Network")
        expected = (t,) + self.feature_shape
        if net.input_shape != expected:
            raise ShapeError(f"the network unrolled for length {t} takes input "
                             f"{net.input_shape}; expected {expected}")
        unknown = sorted(set(net.params) - set(self.params))
        if unknown:
            raise GraphError(f"the network unrolled for length {t} uses parameters "
                             f"{unknown} that the model does not hold: every length must "
                             f"refer to the model's parameter names")
        for name, value in net.params.items():
            if value.shape != self.params[name].shape:
                raise ShapeError(f"the network unrolled for length {t} has parameter "
                                 f"{name!r} of shape {value.shape}; the model's is "
                                 f"{self.params[name].shape}")
        return net

    def output_shape(self, length: int) -> tuple[int, ...]:
        """Per-sample output shape at ``length``."""
        return self.unroll(length).output_shape

    # --- batches -----------------------------------------------------------------------
    def batch(self, x: Any, lengths: npt.ArrayLike | None = None, what: str = "x") -> SequenceBatch:
        """Validate samples for this model (see :func:`plnet.sequence.sequence_batch`)."""
        return sequence_batch(x, self.feature_shape, lengths, min_length=self.min_length,
                              max_length=self.max_length, what=what)

    def __call__(self, x: Any, lengths: npt.ArrayLike | None = None) -> np.ndarray | list:
        """Float64 forward pass of every sample.

        Args:
            x: a list of ``[T_i, *feature_shape]`` arrays, or a padded array with ``lengths``.
            lengths: see :func:`plnet.sequence.sequence_batch`.

        Returns:
            ``[B, *output_shape]`` when every length gives the same output shape, else a
            list of per-sample outputs (a sequence output ``[T_i, ...]``).
        """
        batch = self.batch(x, lengths)
        outputs = {t: self.unroll(t)(batch.stacked(idx)) for t, idx in batch.groups().items()}
        if len({o.shape[1:] for o in outputs.values()}) == 1:
            return batch.scatter_rows(outputs)
        return batch.scatter(outputs)

    # --- parameters and files ----------------------------------------------------------
    def with_params(self, params: Mapping[str, npt.ArrayLike]) -> "SequenceModel":
        """A model with the same structure (unroll and recipe) and some arrays replaced.

        Raises:
            InvalidInputError: an unknown parameter name. ShapeError: a changed shape.
        """
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise InvalidInputError(f"with_params: unknown parameter names {unknown}; the "
                                    f"model's are {sorted(self.params)}")
        merged = dict(self.params)
        for name, value in params.items():
            merged[name] = as_parameter(name, value)
            if merged[name].shape != self.params[name].shape:
                raise ShapeError(f"with_params: parameter {name!r} has shape "
                                 f"{merged[name].shape}; the model's is "
                                 f"{self.params[name].shape}")
        model = SequenceModel(self._build, merged, self.feature_shape, recipe=self.recipe,
                              min_length=self.min_length, max_length=self.max_length)
        model._structures = self._structures
        return model

    def to_dict(self) -> dict:
        """JSON-able description: recipe, feature shape, lengths, parameter names."""
        if self.recipe is None:
            raise SerializationError(
                "this sequence model has no recipe (it was made from an unroll function, e.g. "
                "by tracing a module), so it cannot be written to a file: convert the module "
                "again when you need the model, or save model.unroll(T) for the lengths you "
                "need (Network.save); models built by plnet.sequence.elman or another "
                "registered recipe kind can be saved")
        return {"recipe": self.recipe, "feature_shape": list(self.feature_shape),
                "min_length": self.min_length, "max_length": self.max_length,
                "params": sorted(self.params)}

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (``.npz``: recipe as JSON + each parameter once).

        Raises:
            SerializationError: the model has no recipe (see :meth:`to_dict`).
        """
        from plnet.serialization import save_sequence_model

        save_sequence_model(self.to_dict(), self.params, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SequenceModel":
        """Read a model written by :meth:`save` (``plnet.load`` does the same)."""
        from plnet.serialization import read_sequence_model

        desc, params = read_sequence_model(path)
        try:
            return cls.from_recipe(desc["recipe"], params, desc["feature_shape"],
                                   min_length=desc["min_length"], max_length=desc["max_length"])
        except (KeyError, TypeError) as exc:
            raise SerializationError(f"{path}: the saved sequence model is incomplete "
                                     f"({exc})") from exc

    def __repr__(self) -> str:
        upper = "" if self.max_length is None else f"..{self.max_length}"
        kind = self.recipe.get("kind") if self.recipe else "traced"
        return (f"SequenceModel({kind}, steps {self.feature_shape}, lengths "
                f"{self.min_length}{upper or '..'}, {len(self.params)} parameters)")


def _check_jsonable(recipe) -> None:
    try:
        json.dumps(recipe)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a sequence model's recipe must be JSON-able (names, sizes, "
                                f"flags; no arrays): {exc}") from None
    if not isinstance(recipe, Mapping) or "kind" not in recipe:
        raise InvalidInputError("a sequence model's recipe is a dict with a 'kind'")
