"""The exporter registry: IR op class -> ``export_<op>`` function writing ONNX nodes.

The mirror of :mod:`plnet.frontends.onnx.registry` for ``to_onnx``. An exporter is
registered with :func:`exports`::

    @exports(ReLU)
    def export_relu(ctx: ExportContext, node: ExportNode, op: ReLU) -> None:
        ctx.emit("Relu", node.inputs, node.output)

It writes ONNX nodes through ``ctx`` (:class:`plnet.frontends.onnx.export.ExportContext`)
whose last one produces ``node.output``. Exporters are found by the op's exact type.
"""

from __future__ import annotations

from typing import Callable

from plnet.errors import UnsupportedOpError

#: Oldest default-domain opset ``to_onnx`` writes.
MIN_EXPORT_OPSET = 13

#: op class -> exporter
EXPORTERS: dict[type, Callable] = {}
#: op class -> function of the op giving the oldest opset its export needs
MIN_OPSETS: dict[type, Callable] = {}


def exports(*op_classes: type, min_opset: Callable | None = None) -> Callable:
    """Decorator registering ``export_<op>`` for one or more IR op classes.

    Args:
        *op_classes: the IR op classes (``plnet.ops``) the function exports.
        min_opset: optional ``op -> int``, the oldest opset that can express this op's
            attributes (``to_onnx`` writes at least that opset by default and refuses an
            older one it is asked for).
    """
    def register(function: Callable) -> Callable:
        if not function.__name__.startswith("export_") or function.__name__ == "export_":
            raise ValueError(f"exporter {function.__name__} must be named export_<op>")
        for cls in op_classes:
            if cls in EXPORTERS:
                raise ValueError(f"two exporters for {cls.type_name}: "
                                 f"{EXPORTERS[cls].__name__} and {function.__name__}")
            EXPORTERS[cls] = function
            if min_opset is not None:
                MIN_OPSETS[cls] = min_opset
        return function

    return register


def lookup_exporter(op, node: str) -> Callable:
    """The exporter of ``op``'s type; raises :class:`UnsupportedOpError` naming the node."""
    load_exporters()
    function = EXPORTERS.get(type(op))
    if function is None:
        raise UnsupportedOpError(
            f"to_onnx: node {node!r} has op type {op.type_name!r}, which has no ONNX "
            f"exporter. Exported op types: {', '.join(exported_op_types())}. To add one, "
            f"write export_<op> in frontends/onnx/exporters/ (see frontends/onnx/README.md).")
    return function


def min_opset(op) -> int:
    """The oldest opset that can express ``op``."""
    load_exporters()
    needs = MIN_OPSETS.get(type(op))
    return max(MIN_EXPORT_OPSET, needs(op)) if needs else MIN_EXPORT_OPSET


def exported_op_types() -> list[str]:
    """The IR op types that have an exporter, sorted."""
    load_exporters()
    return sorted(cls.type_name for cls in EXPORTERS)


def load_exporters() -> None:
    """Import every exporter family (each registers itself)."""
    # late: the exporter modules import this registry, so a top-level import is a cycle
    import plnet.frontends.onnx.exporters  # noqa: F401
