"""Tracing at a concrete sequence length, so that Python loops over the time axis unroll.

Plain ``torch.fx`` tracing cannot run ``for t in range(x.shape[1])``: ``x.shape[1]`` is a
symbolic proxy (``'Proxy' object cannot be interpreted as an integer``). This tracer also
runs every traced call on two real example batches of the same length but different batch
sizes, alongside the symbolic trace. A traced value whose two examples agree (a sequence
length, a feature size, a comparison of them) is a Python int or bool, so loops and ``if``
on shapes run as in eager mode; a value that differs (the batch size) stays symbolic, so
the network still takes any batch; a tensor value (data-dependent control flow) is still
refused. Packing functions (``pack_padded_sequence``, ``pad_packed_sequence``) are leaves.
"""

from __future__ import annotations

import contextlib

import torch
import torch.fx
from torch.nn.utils import rnn as rnn_utils

#: functions traced as one call (their converters know what they do)
LEAF_FUNCTIONS = ("pack_padded_sequence", "pad_packed_sequence")
_UNKNOWN = object()
#: what fx patches while tracing (calls and parameter reads of modules become graph
#: nodes); the example runs need the real ones
_MODULE_HOOKS = {"__call__": torch.nn.Module.__call__, "__getattr__": torch.nn.Module.__getattr__}


class ConcreteProxy(torch.fx.Proxy):
    """A proxy that also knows its value on the two example batches (when it could be
    computed): shape arithmetic on it gives Python numbers."""

    concrete_examples: tuple | None = None
    #: computed from the batch size (a number that differs between the two examples, or
    #: any number computed from one: ``x.size(0) > 2`` agrees on batches 2 and 3 but not 4)
    batch_dependent: bool = False

    def _constant(self, what: str):
        values = self.concrete_examples
        if values is None or any(v is _UNKNOWN or isinstance(v, torch.Tensor) for v in values):
            raise torch.fx.proxy.TraceError(
                f"{what} of {self.node.name!r} depends on the input data; plnet needs "
                f"control flow that depends on shapes only")
        if self.batch_dependent:
            raise torch.fx.proxy.TraceError(
                f"{what} of {self.node.name!r} depends on the batch size; plnet networks "
                f"take any batch, so control flow may depend on the other sizes only")
        return values[0]

    def __index__(self):
        return int(self._constant("an integer"))

    def __int__(self):
        return int(self._constant("an integer"))

    def __bool__(self):
        if self.concrete_examples is None:
            return super().__bool__()
        return bool(self._constant("a condition"))


def concrete_tracer(base: type, examples: tuple, root: torch.nn.Module):
    """A tracer (subclass of ``base``) running alongside on ``examples`` (the values of the
    forward's inputs for two batch sizes: one tuple of inputs per batch)."""

    class ConcreteTracer(base):
        def __init__(self):
            super().__init__(autowrap_functions=tuple(getattr(rnn_utils, n)
                                                      for n in LEAF_FUNCTIONS))
            self._placeholders = 0

        def proxy(self, node):
            return ConcreteProxy(node, self)

        def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None,
                         proxy_factory_fn=None):
            proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr,
                                         proxy_factory_fn)
            if not isinstance(proxy, ConcreteProxy):
                return proxy
            if kind == "placeholder":
                index = self._placeholders
                self._placeholders += 1
                proxy.concrete_examples = tuple(inputs[index] if index < len(inputs) else _UNKNOWN
                                     for inputs in examples)
            else:
                proxy.concrete_examples = tuple(self._run(kind, target, args, kwargs, s)
                                                for s in range(2))
            values = proxy.concrete_examples
            proxy.batch_dependent = _is_number(values[0]) and (
                _differ(values) or _reads_batch_number((args, kwargs)))
            return proxy

        def _run(self, kind, target, args, kwargs, stream):
            try:
                a = torch.fx.node.map_aggregate(args, lambda v: _value(v, stream))
                k = torch.fx.node.map_aggregate(kwargs, lambda v: _value(v, stream))
                if _has_unknown((a, k)):
                    return _UNKNOWN
                with torch.no_grad(), _eager_modules():
                    if kind == "call_function":
                        return target(*a, **k)
                    if kind == "call_method":
                        return getattr(a[0], target)(*a[1:], **k)
                    if kind == "call_module":
                        return root.get_submodule(target)(*a, **k)
                    if kind == "get_attr":
                        obj = root
                        for part in target.split("."):
                            obj = getattr(obj, part)
                        return obj
            except Exception:  # the value is only a help: the symbolic trace decides
                return _UNKNOWN
            return _UNKNOWN

    return ConcreteTracer


@contextlib.contextmanager
def _eager_modules():
    """Module calls and attribute reads as outside a trace (fx patches them while tracing)."""
    patched = {name: torch.nn.Module.__dict__[name] for name in _MODULE_HOOKS}
    try:
        for name, fn in _MODULE_HOOKS.items():
            setattr(torch.nn.Module, name, fn)
        yield
    finally:
        for name, fn in patched.items():
            setattr(torch.nn.Module, name, fn)


def _value(v, stream):
    if isinstance(v, torch.fx.proxy.Attribute):
        root = _value(v.root, stream)
        return _UNKNOWN if root is _UNKNOWN else getattr(root, v.attr)
    if isinstance(v, torch.fx.Proxy):
        values = getattr(v, "concrete_examples", None)
        return _UNKNOWN if values is None else values[stream]
    return v


def _is_number(value) -> bool:
    return isinstance(value, (int, float, bool))


def _differ(values) -> bool:
    try:
        return bool(values[0] != values[1])
    except Exception:  # incomparable values: treat as different
        return True


def _reads_batch_number(tree) -> bool:
    found = []
    torch.fx.node.map_aggregate(tree, lambda v: found.append(
        isinstance(v, ConcreteProxy) and v.batch_dependent))
    return any(found)


def _has_unknown(tree) -> bool:
    found = []
    torch.fx.node.map_aggregate(tree, lambda v: found.append(v is _UNKNOWN))
    return any(found)


@contextlib.contextmanager
def leaf_functions(tracer):
    """Make ``torch.nn.utils.rnn.<leaf>`` (reached as a module attribute) one traced call."""
    originals = {n: getattr(rnn_utils, n) for n in LEAF_FUNCTIONS}

    def leaf(fn):
        def call(*args, **kwargs):
            proxies = []
            torch.fx.node.map_aggregate((args, kwargs), lambda v: proxies.append(
                isinstance(v, torch.fx.Proxy)))
            if any(proxies):
                return tracer.create_proxy("call_function", fn, args, kwargs)
            return fn(*args, **kwargs)
        return call

    try:
        for n, fn in originals.items():
            setattr(rnn_utils, n, leaf(fn))
        yield
    finally:
        for n, fn in originals.items():
            setattr(rnn_utils, n, fn)
