"""The conversion check: the module and the network agree on random inputs (float64)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Callable

import numpy as np

from plnet.errors import ConversionMismatch
from plnet.tolerances import TORCH_CONVERSION_RTOL

if TYPE_CHECKING:  # for annotations only
    import torch
    import torch.fx

    from plnet.network import Network


def check_points(example: torch.Tensor, samples: int, seed: int) -> np.ndarray:
    """``samples`` random points around the example batch (the example's first point too)."""
    x0 = example.detach().cpu().double().numpy()
    rng = np.random.default_rng(seed)
    scale = float(np.abs(x0).mean()) + 1.0
    base = x0[np.arange(samples) % x0.shape[0]]
    noise = rng.standard_normal(base.shape) * 0.5 * scale
    noise[0] = 0.0
    return base + noise


def reference_output(module: torch.nn.Module, gm: torch.fx.GraphModule, output_fx: torch.fx.Node,
                     x: np.ndarray, make_args: Callable | None = None) -> np.ndarray:
    """The module's value at ``output_fx`` (its output unless a trailing op was dropped).

    ``make_args(x)`` gives the forward's arguments for the batch tensor ``x`` (default:
    ``(x,)``; a sequence model passes lengths or a packed sequence).
    """
    import torch
    import torch.fx

    from plnet.frontends.torch.threads import one_thread

    args = (make_args or (lambda t: (t,)))(torch.as_tensor(x, dtype=torch.float64))
    final = next(n for n in gm.graph.nodes if n.op == "output").args[0]
    with torch.no_grad(), one_thread():
        if output_fx is final:
            model = copy.deepcopy(module).to("cpu", torch.float64).eval()
            return model(*args).detach().numpy()
        model = copy.deepcopy(gm).to("cpu", torch.float64).eval()
        seen = {}

        class Recorder(torch.fx.Interpreter):
            def run_node(self, n):
                value = super().run_node(n)
                if n.name == output_fx.name:  # the copy has its own nodes
                    seen["value"] = value
                return value

        Recorder(model).run(*args)
        return seen["value"].detach().numpy()


def check_conversion(module: torch.nn.Module, gm: torch.fx.GraphModule, output_fx: torch.fx.Node,
                     net: Network, example: torch.Tensor, samples: int, seed: int) -> float:
    """Raise :class:`ConversionMismatch` unless the module and ``net`` agree.

    Returns:
        The largest absolute difference seen.
    """
    x = check_points(example, samples, seed)
    return compare_outputs(reference_output(module, gm, output_fx, x), net(x),
                           "the converted network", "on random inputs around the example")


def compare_outputs(want: np.ndarray, got: np.ndarray, what: str, where: str) -> float:
    """The largest difference between the module's output ``want`` and ``what``'s ``got``.

    Raises:
        ConversionMismatch: the shapes differ, or the difference exceeds
            ``TORCH_CONVERSION_RTOL * (1 + max |want|)``; ``where`` says on which inputs.
    """
    if want.shape != got.shape:
        raise ConversionMismatch(f"{where}, the module's output has shape {want.shape} but "
                                 f"{what}'s is {got.shape}")
    err = float(np.abs(want - got).max())
    tol = TORCH_CONVERSION_RTOL * (1.0 + float(np.abs(want).max()))
    if not err <= tol:
        raise ConversionMismatch(f"{what} differs from the torch module by {err:.3e} "
                                 f"(tolerance {tol:.3e}) {where}; this is a plnet bug or an op "
                                 f"whose meaning plnet misread, please report it", err, tol)
    return err
