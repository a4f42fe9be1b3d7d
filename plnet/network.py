"""``Network``: a networkx DiGraph of IR ops plus a named parameter store."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Iterable, Mapping

import networkx as nx
import numpy as np
import numpy.typing as npt

from plnet.edges import edge_slots
from plnet.errors import GraphError, InvalidInputError, ShapeError
from plnet.ops import Input, Op
from plnet.serialization import (holds_sequence_model, network_to_dict, read_network,
                                 save_network)

if TYPE_CHECKING:  # annotations only: plnet.sequence imports this module
    from plnet.sequence.model import SequenceModel


class Network:
    """A piecewise-linear network: a DAG of ops with one input and one output.

    Nodes of ``graph`` carry an ``op`` attribute (an :class:`plnet.ops.Op`); an edge
    ``u -> v`` carries ``slot``, the position of ``u`` among ``v``'s inputs (or ``slots``,
    a tuple, when ``u`` feeds several inputs of ``v``, as in ``x + x``; see
    :func:`plnet.edges.connect`). Parameters live in ``params`` (name -> float64 array);
    ops refer to them by name, so unrolled steps of an RNN share (tie) their weights.

    Networks are validated on construction and treated as immutable: analyses read them,
    passes return new ones.

    Args:
        graph: the op graph.
        params: the parameter store.
        output: name of the output node.

    Raises:
        GraphError, ShapeError, InvalidInputError: see :meth:`validate`.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> net.input_shape, net.output_shape, net.num_units
        ((2,), (1,), 2)
        >>> net(x)                                  # float64 forward pass
        array([[0.5]])
    """

    def __init__(self, graph: nx.DiGraph, params: Mapping[str, np.ndarray], output: str):
        self.graph = graph
        self.params = {str(k): _as_param(k, v) for k, v in params.items()}
        self.output = output
        self.validate()

    # --- structure -----------------------------------------------------------------------
    def validate(self) -> "Network":
        """Check the graph and infer every node's shape.

        Checks: a DiGraph of ops, acyclic, exactly one input, every node feeding the output,
        input slots numbered 0..k-1 as each op's arity requires, parameters present and
        finite, and shapes consistent. Errors name the offending node.

        Returns:
            self, for chaining.
        """
        g = self.graph
        if not isinstance(g, nx.DiGraph) or g.is_multigraph():
            raise GraphError(f"a Network needs a networkx.DiGraph, got {type(g).__name__}")
        for name, data in g.nodes(data=True):
            if not isinstance(data.get("op"), Op):
                raise GraphError(f"node {name!r} has no 'op' attribute holding a plnet op "
                                 f"(got {data.get('op')!r})")
        if not nx.is_directed_acyclic_graph(g):
            cycle = [u for u, _ in nx.find_cycle(g)]
            raise GraphError(f"the graph has a cycle through nodes {cycle}: a network must be "
                             f"acyclic (unroll recurrences first)")
        inputs = [n for n, d in g.nodes(data=True) if isinstance(d["op"], Input)]
        if len(inputs) != 1:
            raise GraphError(f"a network needs exactly one input node, found {len(inputs)}: "
                             f"{inputs} (join several inputs with a concat)")
        self.input_name = inputs[0]
        if self.output not in g:
            raise GraphError(f"the output node {self.output!r} is not in the graph")
        sinks = [n for n in g if g.out_degree(n) == 0 and n != self.output]
        if sinks:
            raise GraphError(f"node {sinks[0]!r} ({g.nodes[sinks[0]]['op'].type_name}) is not "
                             f"used by any node and is not the output {self.output!r}: a "
                             f"network has exactly one output (remove the node)")
        if self.input_name not in nx.ancestors(g, self.output) and self.output != self.input_name:
            raise GraphError(f"the output {self.output!r} does not depend on the input "
                             f"{self.input_name!r}: it is a constant, which has no linear "
                             f"regions to certify")
        for name in g:
            self._check_slots(name)
        self.order = list(nx.lexicographical_topological_sort(g, key=self._insertion_key()))
        self.shapes = {}
        for name in self.order:
            op = g.nodes[name]["op"]
            for p in op.param_names():
                if p not in self.params:
                    raise GraphError(f"node {name!r} ({op.type_name}) refers to parameter "
                                     f"{p!r}, which is not in the parameter store")
            try:
                self.shapes[name] = tuple(int(d) for d in op.output_shape(
                    [self.shapes[u] for u in self.inputs_of(name)], self.params))
            except ShapeError as exc:
                raise ShapeError(f"node {name!r} ({op.type_name}): {exc}") from None
        return self

    def _insertion_key(self):
        index = {n: i for i, n in enumerate(self.graph)}
        return lambda n: f"{index[n]:012d}"

    def _check_slots(self, name):
        g = self.graph
        op = g.nodes[name]["op"]
        slots = sorted(i for _, _, d in g.in_edges(name, data=True) for i in edge_slots(d))
        if slots != list(range(len(slots))):
            raise GraphError(f"node {name!r} ({op.type_name}) has input slots {slots}; edges "
                             f"must carry slot=0..k-1 exactly once")
        if op.arity is not None and len(slots) != op.arity:
            raise GraphError(f"node {name!r} ({op.type_name}) takes {op.arity} input(s) but "
                             f"has {len(slots)}")
        if op.arity is None and not slots:
            raise GraphError(f"node {name!r} ({op.type_name}) needs at least one input")

    def inputs_of(self, name: str) -> list[str]:
        """The node's input nodes, ordered by slot."""
        pairs = sorted((i, u) for u, _, d in self.graph.in_edges(name, data=True)
                       for i in edge_slots(d))
        return [u for _, u in pairs]

    def op(self, name: str) -> Op:
        """The op of node ``name``."""
        return self.graph.nodes[name]["op"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample input shape."""
        return self.shapes[self.input_name]

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Per-sample output shape."""
        return self.shapes[self.output]

    @property
    def input_size(self) -> int:
        """D, the flattened input size."""
        return int(math.prod(self.input_shape))

    def pattern_nodes(self) -> list[str]:
        """Nodes carrying an activation pattern, in topological order."""
        return [n for n in self.order if self.op(n).carries_pattern]

    def unit_counts(self) -> dict[str, int]:
        """Units (rows of S(x)) per pattern-carrying node."""
        return {n: self.op(n).num_units(self.shapes[self.inputs_of(n)[0]])
                for n in self.pattern_nodes()}

    @property
    def num_units(self) -> int:
        """N, the number of units: ReLU/LeakyReLU units plus max-pool comparison rows."""
        return sum(self.unit_counts().values())

    # --- evaluation ----------------------------------------------------------------------
    def check_input(self, x: npt.ArrayLike, what: str = "x") -> np.ndarray:
        """Validate a batch ``[B, *input_shape]`` and return it as float64.

        Raises:
            ShapeError: wrong shape. InvalidInputError: non-numeric, empty, NaN or inf.
        """
        return check_batch(x, self.input_shape, what)

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Float64 forward pass of a batch ``[B, *input_shape]`` -> ``[B, *output_shape]``."""
        from plnet.analysis.interpreter import Interpreter

        return Interpreter(self).run(self.check_input(x))

    # --- copies and files ----------------------------------------------------------------
    def copy(self) -> "Network":
        """A deep copy (graph and parameters)."""
        return Network(self.graph.copy(), {k: v.copy() for k, v in self.params.items()},
                       self.output)

    def with_params(self, params: Mapping[str, np.ndarray]) -> "Network":
        """A new network with the same graph and some parameters replaced."""
        merged = dict(self.params)
        unknown = set(params) - set(merged)
        if unknown:
            raise InvalidInputError(f"with_params: unknown parameter names {sorted(unknown)}")
        merged.update(params)
        return Network(self.graph.copy(), merged, self.output)

    def to_dict(self) -> dict:
        """JSON-able description of the graph (parameters not included)."""
        return network_to_dict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write the network to ``path`` (an ``.npz`` file: graph as JSON + parameters)."""
        save_network(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Network":
        """Read a network written by :meth:`save`.

        Raises:
            SerializationError: the file is missing, not a plnet network, corrupt, or holds
                an invalid network.
        """
        return read_network(path, cls)

    # --- display -------------------------------------------------------------------------
    def summary_rows(self) -> list[tuple[str, str, str, str, int]]:
        """(node, op, attributes, per-sample output shape, units) for each node."""
        counts = self.unit_counts()
        return [(n, self.op(n).type_name, self.op(n).describe(), str(self.shapes[n]),
                 counts.get(n, 0)) for n in self.order]

    def summary(self) -> str:
        """A text table of the nodes, with N and D."""
        rows = [("node", "op", "attributes", "shape", "units")] + [
            (a, b, c if len(c) <= 60 else c[:57] + "...", d, str(e))
            for a, b, c, d, e in self.summary_rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append(f"input {self.input_shape} (D={self.input_size}), output "
                     f"{self.output_shape}, units N={self.num_units}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Network({len(self.graph)} nodes, input {self.input_shape}, output "
                f"{self.output_shape}, N={self.num_units})")


def load(path: str | os.PathLike) -> "Network | SequenceModel":
    """Read a network written by :meth:`Network.save` (or a sequence model written by
    :meth:`plnet.sequence.SequenceModel.save`).

    Args:
        path: the ``.npz`` file.

    Returns:
        The network, validated (a :class:`plnet.sequence.SequenceModel` for a file holding
        one).

    Raises:
        SerializationError: the file is missing, not a plnet network, corrupt, or holds an
            invalid network.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> net.save("net.npz")
        >>> plnet.load("net.npz")(x)
        array([[0.5]])
    """
    if holds_sequence_model(path):
        # late import: plnet.sequence builds on this module (an import cycle otherwise)
        from plnet.sequence.model import SequenceModel

        return SequenceModel.load(path)
    return Network.load(path)


def as_parameter(name: str, value: npt.ArrayLike) -> np.ndarray:
    """``value`` as a read-only, finite float64 parameter array (errors name ``name``).

    An array that already is one (read-only float64) is returned as it is, not copied: the
    networks unrolled from one :class:`plnet.sequence.SequenceModel` share its arrays.
    """
    return _as_param(name, value)


def _as_param(name, value) -> np.ndarray:
    if (isinstance(value, np.ndarray) and value.dtype == np.float64
            and not value.flags.writeable and value.base is None):
        if not np.isfinite(value).all():
            raise InvalidInputError(f"parameter {name!r} holds NaN or inf: a network's "
                                    f"weights must be finite")
        return value
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise InvalidInputError(f"parameter {name!r} has dtype {arr.dtype}; expected real numbers")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InvalidInputError(f"parameter {name!r} holds NaN or inf (first at index "
                                f"{tuple(int(i) for i in bad)}): a network's weights must be "
                                f"finite")
    arr.setflags(write=False)
    return arr


def check_batch(x: npt.ArrayLike, shape: Iterable[int], what: str = "x") -> np.ndarray:
    """Validate ``x`` as a batch ``[B, *shape]`` of finite reals; return float64."""
    shape = tuple(shape)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise InvalidInputError(f"{what} has dtype {arr.dtype}; expected real numbers")
    if arr.shape[1:] != shape or arr.ndim != len(shape) + 1:
        hint = " (for a single point, pass x[None])" if arr.shape == shape else ""
        raise ShapeError(f"{what} has shape {arr.shape}; expected [B, *{shape}] with the "
                         f"batch first{hint}")
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{what} is an empty batch (B = 0)")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise InvalidInputError(f"{what} holds NaN or inf (first at index {bad})")
    return arr
