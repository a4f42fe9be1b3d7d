"""How the command line shows results: norm names, percentiles, and JSON-ready objects."""

from __future__ import annotations

import json
import sys

import numpy as np

from plnet.analysis.margins import margin_percentile

#: Margin percentiles every command reports.
PERCENTILES = (0, 25, 50, 75, 100)


def p_name(p) -> str:
    """"1", "2" or "inf": how every output names a norm."""
    return "inf" if np.isinf(p) else str(int(p))


def percentiles(values) -> dict[str, float]:
    """``{"P0": ..., "P25": ..., ..., "P100": ...}`` of margins (inf kept as inf)."""
    return {f"P{q}": margin_percentile(values, q) for q in PERCENTILES}


def network_object(net) -> dict:
    """The network as JSON: its summary rows (shapes as lists), input/output shapes, D, N."""
    return {
        "nodes": [{"node": name, "op": op, "attributes": attributes,
                   "shape": [int(s) for s in net.shapes[name]], "units": int(units)}
                  for name, op, attributes, _, units in net.summary_rows()],
        "input_shape": [int(s) for s in net.input_shape],
        "output_shape": [int(s) for s in net.output_shape],
        "D": int(net.input_size), "N": int(net.num_units)}


def emit_json(obj) -> None:
    """One JSON document on stdout (an unbounded margin prints as ``Infinity``)."""
    print(json.dumps(obj))


def note(message: str) -> None:
    """A remark for the user on stderr (stdout carries results only)."""
    print(f"plnet: note: {message}", file=sys.stderr, flush=True)


def percentile_table(margins: dict) -> list[str]:
    """Rows ``p  P0 ... P100`` for ``{p: margins}``."""
    lines = ["  p     " + "".join(f"{'P' + str(q):>12}" for q in PERCENTILES)]
    for p, values in margins.items():
        pct = percentiles(values)
        lines.append(f"  {p_name(p):<6}" + "".join(f"{pct['P' + str(q)]:>12.3e}"
                                                    for q in PERCENTILES))
    return lines
