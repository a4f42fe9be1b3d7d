"""fx -> IR: a traced torch.fx graph, node by node, into a :class:`NetworkBuilder`.

This is the frontend direction (torch into the IR); ``plnet.backends.torch.lowering`` goes
the other way (IR ops into torch). Like the analyses, it is an interpreter over
topologically ordered nodes: each fx node's arguments are replaced by what they converted
to, and one converter (found in :mod:`plnet.frontends.torch.registry`) produces the node's
value. Errors name the fx node, the module type or function, what was expected and what
to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from plnet.builder import NetworkBuilder
from plnet.errors import NotPiecewiseLinearError, ShapeError, UnsupportedOpError
# importing the converter families registers them; the registry itself imports none of
# them, so that the families can import it without a cycle
from plnet.frontends.torch import (convert_activations, convert_arith,  # noqa: F401
                                   convert_expand, convert_layers, convert_pad,
                                   convert_packing, convert_plnet,
                                   convert_pooling, convert_reduce, convert_resize, convert_rnn,
                                   convert_split,
                                   convert_views, registry)
from plnet.frontends.torch.values import (AffineValue, PackedValue, TensorValue,
                                          contains_tensor, is_tensor_like, to_numpy)

if TYPE_CHECKING:  # for annotations only
    import numpy.typing as npt
    import torch
    import torch.fx

#: what a tensor in the traced graph converts to
Value = TensorValue | AffineValue


def describe_target(node: torch.fx.Node, root: torch.nn.Module | None = None) -> str:
    """A human name for what an fx node calls."""
    if node.op == "call_module":
        kind = type(root.get_submodule(node.target)).__name__ if root is not None else "module"
        return f"{kind} module '{node.target}'"
    if node.op == "call_function":
        return f"function {function_name(node.target)}"
    if node.op == "call_method":
        return f"tensor method .{node.target}()"
    return f"{node.op} {node.target}"


def function_name(fn: Callable) -> str:
    """``torch.relu``, ``torch.nn.functional.relu``, ``operator.add``, ..."""
    import torch

    name = getattr(fn, "__name__", repr(fn))
    for prefix, namespace in (("torch.nn.functional", torch.nn.functional), ("torch", torch)):
        if getattr(namespace, name, None) is fn:
            return f"{prefix}.{name}"
    mod = getattr(fn, "__module__", None) or ""
    mod = "operator" if mod == "_operator" else mod
    return f"{mod}.{name}" if mod else name


class FxToIR:
    """State of one conversion: the builder, the fx values, parameter naming.

    Args:
        root: the traced module (for submodule lookup).
        graph: the fx graph.
        input_shape: per-sample input shape.
        input_name: name of the IR input node.
    """

    def __init__(self, root: torch.fx.GraphModule, graph: torch.fx.Graph,
                 input_shape: Sequence[int], input_name: str = "input"):
        self.root = root
        self.graph = graph
        self.builder = NetworkBuilder(input_shape, input_name=input_name)
        self.env: dict = {}
        #: id(tensor) or a derived value's key -> (what keeps the ids alive, param name)
        self._param_by_id: dict[object, tuple[object, str]] = {}
        #: fx nodes whose value another converter already produced (folded batch norm)
        self.folded: dict = {}
        #: fx node -> fx node it stands for (a dropped trailing softmax -> its input)
        self.aliases: dict = {}
        # pending affine values, by id: the fx node that made them, and their emitted node
        self._affine_origin: dict[int, tuple[object, str]] = {}
        self._emitted: dict[int, tuple[object, TensorValue]] = {}
        self.node = None
        #: the first input: the network input, or a packed sequence of it
        self.input_value: Value | PackedValue = TensorValue(self.builder.input)
        #: what further forward arguments without a default stand for (the lengths)
        self.extra_inputs: list = []

    # --- errors --------------------------------------------------------------------------
    def where(self, node: torch.fx.Node | None = None) -> str:
        node = node if node is not None else self.node
        return f"torch.fx node {node.name!r} ({describe_target(node, self.root)})"

    def unsupported(self, message: str,
                    node: torch.fx.Node | None = None) -> UnsupportedOpError:
        return UnsupportedOpError(f"{self.where(node)}: {message}")

    def not_pl(self, message: str,
               node: torch.fx.Node | None = None) -> NotPiecewiseLinearError:
        return NotPiecewiseLinearError(f"{self.where(node)}: {message}")

    # --- names and parameters ------------------------------------------------------------
    def fresh(self, base: str) -> str:
        """An unused IR node name based on ``base``."""
        base = str(base) or "node"
        name, i = base, 1
        while name in self.builder.graph:
            name, i = f"{base}_{i}", i + 1
        return name

    def node_name(self, node: torch.fx.Node | None = None) -> str:
        node = node if node is not None else self.node
        return self.fresh(node.target if node.op == "call_module" else node.name)

    def param(self, value: torch.Tensor | npt.ArrayLike | None, name: str,
              shape: tuple[int, ...] | None = None,
              key: tuple | None = None) -> str | None:
        """Store a constant as a parameter and return its name (None for None).

        A torch tensor seen before (the same object, e.g. a weight shared by two layers)
        gets the same name, so the IR ties it as torch does. ``shape`` stores the value
        reshaped (a PReLU's ``[C]`` weight as ``[C, 1, 1]``); the tie then needs the same
        shape. A value derived from parameters (a batch norm folded into a weight) is
        computed afresh at each use: pass ``key``, a tuple of the objects it is derived
        from, and each use with the same key gets the same name.
        """
        if value is None:
            return None
        try:
            import torch

            is_tensor = isinstance(value, torch.Tensor)
        except ImportError:  # pragma: no cover
            is_tensor = False
        array = to_numpy(value) if shape is None else to_numpy(value).reshape(shape)
        if key is not None:
            cache_key = ("derived", name) + tuple(id(k) for k in key)
            if cache_key in self._param_by_id:
                return self._param_by_id[cache_key][1]
        else:
            seen = self._param_by_id.get(id(value)) if is_tensor else None
            if seen is not None and self.builder.params[seen[1]].shape == array.shape:
                return seen[1]
        unique, i = name, 1
        while unique in self.builder.params:
            unique, i = f"{name}_{i}", i + 1
        self.builder.param(unique, array)
        if key is not None:  # keep the sources alive: their ids stay unique
            self._param_by_id[cache_key] = (key, unique)
        elif is_tensor:
            self._param_by_id[id(value)] = (value, unique)  # keep it alive: ids stay unique
        return unique

    # --- values --------------------------------------------------------------------------
    def shape(self, value: Value) -> tuple[int, ...]:
        """Per-sample shape of a tensor value."""
        if isinstance(value, AffineValue):
            value = value.base
        return self.builder.shape(value.node)

    def full_shape(self, value: Value) -> list[int | None]:
        """The torch shape, with ``None`` at the batch axis."""
        tv = value.base if isinstance(value, AffineValue) else value
        dims = list(self.shape(tv))
        dims.insert(tv.batch_axis, None)
        return dims

    def materialize(self, value: Value) -> TensorValue:
        """Emit a pending elementwise affine map as a scale/shift node."""
        if isinstance(value, TensorValue):
            return value
        if value.scale is None and value.shift is None:
            return value.base
        if id(value) in self._emitted:  # one node however many consumers
            return self._emitted[id(value)][1]
        origin = self._affine_origin.get(id(value), (None, None))[1]
        name = self.fresh(origin or f"{self.node.name}.scale_shift")
        tv = TensorValue(self.builder.scale_shift(value.base.node, value.scale, value.shift,
                                                  name=name))
        self._emitted[id(value)] = (value, tv)
        return tv

    def tensor(self, value: object, what: str = "input",
               batch_first: bool = True) -> TensorValue:
        """``value`` as an emitted tensor, or a clear error if it is not one."""
        if not is_tensor_like(value):
            raise self.unsupported(f"expected the {what} to be a tensor computed from the "
                                   f"network input, got {_short(value)}; constant-only "
                                   f"branches must not reach this operation")
        tv = self.materialize(value)
        if batch_first and tv.batch_axis != 0:
            raise self.unsupported(f"the {what} has its batch axis at position "
                                   f"{tv.batch_axis}; this operation needs the batch axis "
                                   f"first (transpose it back before this operation)")
        return tv

    def per_sample_axis(self, value: Value, dim: int, what: str = "dim") -> int:
        """Map a torch dim (batch included) to a per-sample axis; the batch is an error."""
        tv = value.base if isinstance(value, AffineValue) else value
        rank = len(self.shape(tv)) + 1
        if not -rank <= int(dim) < rank:
            raise ShapeError(f"{self.where()}: {what}={dim} is out of range for a tensor of "
                             f"rank {rank}")
        d = int(dim) % rank
        if d == tv.batch_axis:
            raise self.unsupported(f"{what}={dim} is the batch axis; plnet networks act on "
                                   f"each sample separately, so the batch axis must stay put")
        return d if d < tv.batch_axis else d - 1

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> object:
        """Convert every node; return the value of the graph's output argument."""
        import torch.fx

        output = None
        for node in self.graph.nodes:
            self.node = node
            if node in self.aliases:
                self.env[node] = self.env[self.aliases[node]]
                continue
            if node in self.folded:
                self.env[node] = self.folded[node]
                continue
            if node.op == "placeholder":
                if self.env and node.args:  # an argument fixed at its default while tracing
                    self.env[node] = node.args[0]
                    continue
                if self.env and self.extra_inputs:
                    self.env[node] = self.extra_inputs.pop(0)
                    continue
                if self.env:
                    raise UnsupportedOpError(f"the module's forward takes more than one "
                                             f"input ({node.name!r}); plnet networks have "
                                             f"exactly one (concatenate them first)")
                self.env[node] = self.input_value
                continue
            if node.op == "output":
                output = torch.fx.node.map_arg(node.args[0], lambda n: self.env[n])
                break
            args = torch.fx.node.map_arg(node.args, lambda n: self.env[n])
            kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.env[n])
            self.env[node] = value = self._convert(node, args, kwargs)
            if isinstance(value, AffineValue) and id(value) not in self._affine_origin:
                self._affine_origin[id(value)] = (value, node.name)
        return output

    def _convert(self, node, args, kwargs):
        if node.op == "get_attr":
            return _fetch_attr(self.root, node.target)
        if node.op == "call_module":
            module = self.root.get_submodule(node.target)
            converter = registry.module_converter(module)
            if converter is None:
                self._raise_unknown(node, type(module).__name__, type(module))
            return converter(self, node, module, *args, **kwargs)
        if node.op == "call_function":
            if not contains_tensor((args, kwargs)):
                return node.target(*args, **kwargs)  # constants only: fold eagerly
            converter = registry.FUNCTION_CONVERTERS.get(node.target)
            if converter is None:
                self._raise_unknown(node, getattr(node.target, "__name__", ""), node.target)
            return converter(self, node, *args, **kwargs)
        if node.op == "call_method":
            if not contains_tensor((args, kwargs)):
                return getattr(args[0], node.target)(*args[1:], **kwargs)
            converter = registry.METHOD_CONVERTERS.get(node.target)
            if converter is None:
                self._raise_unknown(node, node.target, node.target)
            return converter(self, node, *args, **kwargs)
        raise self.unsupported(f"fx op kind {node.op!r} is not supported", node)

    def _raise_unknown(self, node, name, key):
        hint = registry.NOT_PIECEWISE_LINEAR.get(key) or registry.NOT_PIECEWISE_LINEAR.get(name)
        if hint is not None:
            raise self.not_pl(f"{name} is not piecewise linear, so no linear-region "
                              f"certificate exists for it. {hint}", node)
        raise self.unsupported(f"plnet has no converter for {name or key!r}. Supported "
                               f"layers: Linear, Conv1d/2d, ConvTranspose1d/2d, "
                               f"BatchNorm1d/2d (eval), ReLU, LeakyReLU, PReLU, pooling, "
                               f"padding, interpolation, reductions, Flatten, "
                               f"Dropout/Identity, nn.RNN(relu) and linear views and "
                               f"arithmetic with constants (the table in the torch "
                               f"frontend's README.md); rewrite the model with "
                               f"these or add a converter", node)


def _fetch_attr(root, target: str):
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."

