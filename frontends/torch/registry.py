"""Converter registries: torch module types, functions and tensor methods -> IR.

A converter is ``convert_<name>(lower, node, *args, **kwargs)``: ``lower`` is the running
:class:`plnet.frontends.torch.fx_to_ir.FxToIR`, ``node`` the torch.fx node, and the
arguments are the fx node's arguments with every traced value replaced by what it lowered
to (see :mod:`plnet.frontends.torch.values`). Module converters get the module first.

To support a new module type, write one converter in the file of its family and decorate
it with :func:`converts_module`; a test then converts a one-layer model and compares it
with torch.
"""

from __future__ import annotations

from typing import Callable

#: torch.nn.Module subclass -> converter (exact type match, then the MRO)
MODULE_CONVERTERS: dict[type, Callable] = {}
#: (predicate, converter): modules of other types recognised by their attribute interface
#: (an Elman RNN written outside torch), tried after the types
INTERFACE_CONVERTERS: list[tuple[Callable[[object], bool], Callable]] = []
#: python callable (torch.add, operator.add, F.relu, ...) -> converter
FUNCTION_CONVERTERS: dict[Callable, Callable] = {}
#: tensor method name ("view", "relu", ...) -> converter
METHOD_CONVERTERS: dict[str, Callable] = {}

#: module type name / function / method name -> why it cannot be lowered and what to do
NOT_PIECEWISE_LINEAR: dict[object, str] = {}


def _registrar(table: dict, doc: str):
    def register(*keys):
        def decorate(fn):
            for key in keys:
                table[key] = fn
            return fn
        return decorate

    register.__doc__ = doc
    return register


converts_module = _registrar(
    MODULE_CONVERTERS, "Register a converter for one or more ``torch.nn.Module`` subclasses.")
converts_function = _registrar(
    FUNCTION_CONVERTERS, "Register a converter for ``call_function`` nodes with these targets.")
converts_method = _registrar(
    METHOD_CONVERTERS, "Register a converter for ``call_method`` nodes (``x.name(...)``).")


def converts_interface(predicate: Callable[[object], bool]):
    """Register a converter for every module for which ``predicate(module)`` holds (a duck
    type, so the frontend need not import the package that defines the module); such
    modules are leaves while tracing."""
    def decorate(fn):
        INTERFACE_CONVERTERS.append((predicate, fn))
        return fn
    return decorate


def module_converter(module: object) -> Callable | None:
    """The converter for ``module``'s type, looked up along its MRO, then by interface."""
    for cls in type(module).__mro__:
        if cls in MODULE_CONVERTERS:
            return MODULE_CONVERTERS[cls]
    return interface_converter(module)


def interface_converter(module: object) -> Callable | None:
    """The converter registered for an interface ``module`` has, if any."""
    for predicate, fn in INTERFACE_CONVERTERS:
        if predicate(module):
            return fn
    return None

