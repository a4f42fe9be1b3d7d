"""The built-in recipe kind ``"elman"``: stacked (bidirectional) Elman RNNs, a readout, a head.

Layer k reads the previous layer's sequence output (the input for k = 0) and computes, per
direction, ``h_t = act(W_ih x_t + b_ih + W_hh h_prev + b_hh)`` from ``h0`` (zero when not
given) with ``act`` ReLU or LeakyReLU(alpha), as ``torch.nn.RNN``. The backward direction
reads time backwards; a bidirectional layer's output at step t is ``[fwd_t, bwd_t]``
(torch's layout). Readouts, named after what torch users write:

- ``"last"``: ``out[:, -1]``, the last layer's output at the last step, ``[D * H]``;
- ``"sequence"``: ``out``, every step's output, ``[T, D * H]``;
- ``"h_n"``: torch's final states, ``[L * D, H]`` (the backward direction's final state is
  its state at step 0, having read the whole sequence);
- ``"final"``: the last layer's final states concatenated, ``[D * H]``
  (``torch.cat([h_n[-2], h_n[-1]], 1)`` for a bidirectional model).

The head is dense layers on the last axis (``nn.Linear`` after the RNN), each optionally
followed by a ReLU or LeakyReLU.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from plnet.analysis.arguments import choice
from plnet.builder import NetworkBuilder
from plnet.errors import InvalidInputError, ShapeError
from plnet.network import Network
from plnet.sequence.model import SequenceModel
from plnet.sequence.recipes import register_recipe

READOUTS = ("last", "sequence", "h_n", "final")
NONLINEARITIES = ("relu", "leaky_relu")


@dataclasses.dataclass(frozen=True)
class ElmanDirection:
    """The parameter names of one direction of a layer (``None``: absent).

    Attributes:
        weight_ih: ``[H, F]`` input-to-hidden weight.
        weight_hh: ``[H, H]`` hidden-to-hidden weight.
        bias_ih, bias_hh: ``[H]`` biases, optional.
        h0: ``[H]`` initial state, optional (zeros when absent).

    Example:
        >>> layer = plnet.sequence.torch_rnn_layers(1, bidirectional=True)[0]
        >>> layer.reverse.weight_hh
        'weight_hh_l0_reverse'
    """

    weight_ih: str
    weight_hh: str
    bias_ih: str | None = None
    bias_hh: str | None = None
    h0: str | None = None

    def names(self) -> list[str]:
        return [n for n in dataclasses.astuple(self) if n is not None]


@dataclasses.dataclass(frozen=True)
class ElmanLayer:
    """One RNN layer: the forward direction's parameter names, and ``reverse`` when
    bidirectional.

    Attributes:
        weight_ih, weight_hh, bias_ih, bias_hh, h0: the forward direction's parameter names
            (``[H, F]``, ``[H, H]``, ``[H]``, ``[H]``, ``[H]``; biases and h0 optional).
        nonlinearity: ``"relu"`` or ``"leaky_relu"`` (with ``alpha``), for both directions.
        alpha: LeakyReLU's negative slope.
        reverse: the backward direction's names, or None for a unidirectional layer.

    Example:
        >>> layer = plnet.sequence.ElmanLayer("wi", "wh", nonlinearity="leaky_relu", alpha=0.1)
        >>> model = plnet.sequence.elman({"wi": np.eye(2), "wh": np.eye(2)}, [layer])
        >>> x = np.array([[1.0, -1.0], [1.0, -1.0]])     # one sequence, T = 2
        >>> model(x[None]).tolist()                        # h2 = act(x2 + act(x1))
        [[2.0, -0.11000000000000001]]
    """

    weight_ih: str
    weight_hh: str
    bias_ih: str | None = None
    bias_hh: str | None = None
    h0: str | None = None
    nonlinearity: str = "relu"
    alpha: float = 0.01
    reverse: ElmanDirection | None = None

    @property
    def directions(self) -> list[tuple[ElmanDirection, bool]]:
        """``(names, reads backwards)`` for each direction, forward first."""
        fwd = ElmanDirection(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                             self.h0)
        return [(fwd, False)] + ([(self.reverse, True)] if self.reverse else [])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ElmanLayer":
        """The layer a dict of its fields describes (``reverse`` a dict too)."""
        data = dict(data)
        if isinstance(data.get("reverse"), Mapping):
            data["reverse"] = _from_dict(ElmanDirection, data["reverse"], "reverse direction")
        return _from_dict(cls, data, "layer")


@dataclasses.dataclass(frozen=True)
class DenseLayer:
    """One head layer: ``y = x W^T + b`` on the last axis, then an optional activation.

    Attributes:
        weight: the name of ``W``, ``[out, in]``.
        bias: the name of ``b``, ``[out]``, or None.
        activation: None, ``"relu"`` or ``"leaky_relu"``.
        alpha: LeakyReLU's negative slope.

    Example:
        >>> head = [plnet.sequence.DenseLayer("w", activation="relu")]
        >>> model = plnet.sequence.elman({"wi": np.eye(2), "wh": np.zeros((2, 2)),
        ...                               "w": [[1.0, 1.0]]}, [{"weight_ih": "wi",
        ...                               "weight_hh": "wh"}], head=head)
        >>> model(np.array([[[3.0, -1.0]]])).tolist()     # relu(relu(3) + relu(-1))
        [[3.0]]
    """

    weight: str
    bias: str | None = None
    activation: str | None = None
    alpha: float = 0.01

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DenseLayer":
        """The head layer a dict of its fields describes."""
        return _from_dict(cls, data, "head layer")


def _from_dict(cls, data: Mapping[str, Any], what: str):
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise InvalidInputError(f"elman {what}: unknown keys {unknown}; expected some of "
                                f"{sorted(fields)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise InvalidInputError(f"elman {what}: {exc}") from None


def torch_rnn_layers(num_layers: int = 1, *, bidirectional: bool = False, bias: bool = True,
                     nonlinearity: str = "relu", alpha: float = 0.01, prefix: str = "",
                     initial_state: bool = False) -> list[ElmanLayer]:
    """Layers named as ``torch.nn.RNN``'s parameters (``weight_ih_l0``, ``..._reverse``).

    Args:
        num_layers, bidirectional, bias, nonlinearity: as ``torch.nn.RNN``.
        alpha: LeakyReLU's negative slope.
        prefix: prepended to every name (e.g. ``"rnn."``).
        initial_state: also name an initial state ``h0_l{k}`` (``h0_l{k}_reverse``) per
            layer and direction.

    Returns:
        One :class:`ElmanLayer` per layer, first layer first.

    Example:
        >>> layers = plnet.sequence.torch_rnn_layers(2, prefix="rnn.")
        >>> layers[1].weight_ih, layers[1].bias_hh
        ('rnn.weight_ih_l1', 'rnn.bias_hh_l1')
    """
    def direction(k, suffix):
        name = lambda kind: f"{prefix}{kind}_l{k}{suffix}"  # noqa: E731
        return ElmanDirection(name("weight_ih"), name("weight_hh"),
                              name("bias_ih") if bias else None,
                              name("bias_hh") if bias else None,
                              name("h0") if initial_state else None)

    layers = []
    for k in range(num_layers):
        fwd = direction(k, "")
        layers.append(ElmanLayer(**dataclasses.asdict(fwd), nonlinearity=nonlinearity,
                                 alpha=float(alpha),
                                 reverse=direction(k, "_reverse") if bidirectional else None))
    return layers


def elman(params: Mapping[str, npt.ArrayLike], layers: Sequence[ElmanLayer | Mapping],
          readout: str = "last", head: Sequence[DenseLayer | Mapping] = (), *,
          min_length: int = 1, max_length: int | None = None) -> SequenceModel:
    """A sequence model of stacked Elman RNNs, a readout and a dense head.

    Args:
        params: every array, by the names the layers use.
        layers: :class:`ElmanLayer` (or dicts of its fields; ``reverse`` a dict of
            :class:`ElmanDirection`'s), first layer first. :func:`torch_rnn_layers` names
            them as ``torch.nn.RNN`` does.
        readout: ``"last"``, ``"sequence"``, ``"h_n"`` or ``"final"`` (see the module).
        head: :class:`DenseLayer` (or dicts) applied after the readout.
        min_length, max_length: the lengths accepted.

    Returns:
        A :class:`SequenceModel` with a recipe (it can be saved).

    Raises:
        InvalidInputError, ShapeError: unknown names, bad options or inconsistent shapes.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> params = {"weight_ih_l0": rng.normal(size=(4, 2)),
        ...           "weight_hh_l0": 0.5 * rng.normal(size=(4, 4)),
        ...           "bias_ih_l0": np.zeros(4), "bias_hh_l0": np.zeros(4),
        ...           "w": rng.normal(size=(3, 4)), "b": np.zeros(3)}
        >>> model = plnet.sequence.elman(params, plnet.sequence.torch_rnn_layers(1),
        ...                              head=[plnet.sequence.DenseLayer("w", "b")])
        >>> model.recipe["readout"], sorted(model.params) == sorted(params)
        ('last', True)
    """
    layers = [ly if isinstance(ly, ElmanLayer) else ElmanLayer.from_dict(ly) for ly in layers]
    head = [h if isinstance(h, DenseLayer) else DenseLayer.from_dict(h) for h in head]
    if not layers:
        raise InvalidInputError("elman: at least one layer is needed")
    choice("readout", readout, READOUTS)
    for k, layer in enumerate(layers):
        choice(f"layer {k} nonlinearity", layer.nonlinearity, NONLINEARITIES)
    for k, layer in enumerate(head):
        if layer.activation is not None:
            choice(f"head layer {k} activation", layer.activation, NONLINEARITIES)
    used = recipe_names(layers, head)
    missing = sorted(set(used) - set(params))
    if missing:
        raise InvalidInputError(f"elman: no arrays for parameters {missing}; params has "
                                f"{sorted(params)}")
    features = _check_shapes(layers, params)
    recipe = {"kind": "elman", "readout": readout,
              "layers": [_layer_dict(ly) for ly in layers],
              "head": [dataclasses.asdict(h) for h in head]}
    model = SequenceModel.from_recipe(recipe, {n: params[n] for n in used},
                                      (features,), min_length=min_length,
                                      max_length=max_length)
    model.unroll(model.min_length)  # the head's shapes are checked now, not at first use
    return model


def _check_shapes(layers: Sequence[ElmanLayer], params: Mapping[str, npt.ArrayLike]) -> int:
    """Check every layer's array shapes; return the input's feature size F."""
    first = np.shape(params[layers[0].weight_ih])
    if len(first) != 2:
        raise ShapeError(f"elman: {layers[0].weight_ih!r} must be [H, F], got {first}")
    fan_in = first[1]
    for k, layer in enumerate(layers):
        hidden = np.shape(params[layer.weight_hh])[0]
        expected = {"weight_ih": (hidden, fan_in), "weight_hh": (hidden, hidden),
                    "bias_ih": (hidden,), "bias_hh": (hidden,), "h0": (hidden,)}
        for d, backwards in layer.directions:
            for field, shape in expected.items():
                name = getattr(d, field)
                if name is not None and np.shape(params[name]) != shape:
                    raise ShapeError(
                        f"elman layer {k}{' (reverse)' if backwards else ''}: {field} "
                        f"{name!r} has shape {np.shape(params[name])}; expected {shape} "
                        f"(H={hidden} from weight_hh, {fan_in} inputs)")
        fan_in = hidden * len(layer.directions)
    return int(first[1])


def recipe_names(layers: Sequence[ElmanLayer], head: Sequence[DenseLayer]) -> list[str]:
    """Every parameter name the layers and the head use, each once, in order of use."""
    names = [n for ly in layers for d, _ in ly.directions for n in d.names()]
    names += [n for h in head for n in (h.weight, h.bias) if n is not None]
    return list(dict.fromkeys(names))


def _layer_dict(layer: ElmanLayer) -> dict:
    out = dataclasses.asdict(layer)
    out["alpha"] = float(out["alpha"])
    return out


@register_recipe("elman")
def unroll_elman(recipe: Mapping, params: Mapping[str, np.ndarray],
                 feature_shape: tuple[int, ...], length: int) -> Network:
    """The ``"elman"`` recipe's network for ``length`` steps."""
    layers = [ElmanLayer.from_dict(ly) for ly in recipe["layers"]]
    head = [DenseLayer.from_dict(h) for h in recipe["head"]]
    readout = recipe["readout"]
    b = NetworkBuilder((length,) + tuple(feature_shape))
    for name in recipe_names(layers, head):
        b.param(name, params[name])
    node, finals = b.input, []
    for k, layer in enumerate(layers):
        sequences = k < len(layers) - 1 or readout in ("sequence", "last")
        outs = []
        for d, backwards in layer.directions:
            name = f"l{k}" + ("_reverse" if backwards else "")
            outs.append(b.rnn(node, d.weight_ih, d.weight_hh, d.bias_ih, d.bias_hh,
                              layer.nonlinearity, layer.alpha, return_sequences=sequences,
                              reverse=backwards, h0=d.h0, name=name))
            finals.append(f"{name}.h{0 if backwards else length - 1}")
        if sequences:  # else the readout takes the final states
            node = outs[0] if len(outs) == 1 else b.concat(*outs, axis=1,
                                                           name=f"l{k}.bidirectional")
    if readout == "last":
        node = b.take(node, 0, length - 1, name="last")
    elif readout == "final":
        last = finals[-len(layers[-1].directions):]
        node = last[0] if len(last) == 1 else b.concat(*last, axis=0, name="final")
    elif readout == "h_n":
        rows = [b.reshape(h, (1, b.shape(h)[0]), name=f"h_n{i}") for i, h in enumerate(finals)]
        node = b.concat(*rows, axis=0, name="h_n")
    for k, layer in enumerate(head):
        node = b.dense(node, layer.weight, layer.bias, name=f"head{k}")
        if layer.activation == "relu":
            node = b.relu(node, name=f"head{k}.relu")
        elif layer.activation == "leaky_relu":
            node = b.leaky_relu(node, layer.alpha, name=f"head{k}.leaky_relu")
    return b.build(node)
