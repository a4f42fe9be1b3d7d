"""Input normalization folded into a network, so that certificates live in raw input space.

The paper trains on normalized data and reports margins of the raw image (Appendix G):
``||x - x'||_p = sigma ||(x - mu)/sigma - (x' - mu)/sigma||_p`` for one scalar sigma. With
the normalization as the network's first node instead, the network takes raw inputs and
every certificate (margins, regions, distortions) is quoted in raw space with no rescaling;
with per-channel sigmas no single factor would do, the folded network is the only exact way.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import numpy.typing as npt

from plnet.errors import InvalidInputError
from plnet.network import Network
from plnet.ops.scale_shift import ScaleShift


def normalization_params(input_shape, mean: npt.ArrayLike, std: npt.ArrayLike):
    """``(scale, shift)`` of ``(x - mean) / std`` shaped to broadcast over ``input_shape``.

    ``mean``/``std`` may be scalars, per-channel vectors (length = the first axis of the
    per-sample shape, e.g. C of ``[C, H, W]``), or arrays of the full per-sample shape.
    """
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    shape = tuple(input_shape)
    out = []
    for name, value in (("mean", mean), ("std", std)):
        if value.ndim == 1 and len(shape) > 1 and value.shape[0] == shape[0]:
            value = value.reshape((shape[0],) + (1,) * (len(shape) - 1))
        try:
            shaped = np.broadcast_to(value, shape)
        except ValueError:
            raise InvalidInputError(f"{name} of shape {value.shape} fits neither the input "
                                    f"shape {shape} nor its {shape[0]} channels") from None
        out.append(value if value.ndim else np.asarray(float(value)))
        if not np.isfinite(shaped).all():
            raise InvalidInputError(f"{name} must be finite")
    mean, std = out
    if (std <= 0).any():
        raise InvalidInputError("std must be > 0 everywhere")
    return 1.0 / std, -mean / std


def prepend_normalization(net: Network, mean: npt.ArrayLike, std: npt.ArrayLike,
                          name: str = "input_normalization") -> Network:
    """A new network ``x -> net((x - mean) / std)`` that takes raw inputs.

    Args:
        net: a network trained on normalized inputs.
        mean, std: scalars, per-channel vectors (first axis of the per-sample shape) or
            arrays of the per-sample shape; ``std > 0``.
        name: the new node's name (its parameters are ``name.scale``, ``name.shift``).

    Returns:
        The composed network; ``net`` is not changed. Its certified l_p margin at a raw
        point ``x`` is exactly ``sigma * margin(net, (x - mean) / sigma)`` when ``std`` is
        one scalar sigma; with per-channel sigmas it lies between ``min(sigma)`` and
        ``max(sigma)`` times that margin.

    Raises:
        InvalidInputError: shapes that do not fit, non-finite values, ``std <= 0``, or a
            node/parameter name already taken.

    Example:
        >>> import plnet.datasets
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> raw = plnet.datasets.prepend_normalization(net, mean=0.5, std=0.25)
        >>> x = np.array([[0.625, 0.4375]])                 # normalized: (0.5, -0.25)
        >>> raw(x).tolist(), net((x - 0.5) / 0.25).tolist()
        ([[0.5]], [[0.5]])
        >>> (plnet.margin(raw, x, p=2) / plnet.margin(net, (x - 0.5) / 0.25, p=2)).tolist()
        [0.25]
    """
    scale, shift = normalization_params(net.input_shape, mean, std)
    scale_name, shift_name = f"{name}.scale", f"{name}.shift"
    if name in net.graph or scale_name in net.params or shift_name in net.params:
        raise InvalidInputError(f"prepend_normalization: the name {name!r} is already used in "
                                f"the network; pass another name=")
    graph = nx.DiGraph(net.graph)
    source = net.input_name
    for _, target, data in list(graph.out_edges(source, data=True)):
        graph.remove_edge(source, target)
        graph.add_edge(name, target, **data)
    graph.add_node(name, op=ScaleShift(scale=scale_name, shift=shift_name))
    graph.add_edge(source, name, slot=0)
    params = {**net.params, scale_name: scale, shift_name: shift}
    output = name if net.output == source else net.output
    return Network(graph, params, output)
