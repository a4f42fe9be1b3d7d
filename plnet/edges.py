"""Edge slots: how an IR graph records which input of a node each edge feeds.

An edge ``u -> v`` carries ``slot``, the position of ``u`` among ``v``'s inputs, or
``slots``, a tuple, when ``u`` feeds several inputs of ``v`` (as in ``x + x``: a DiGraph
holds one edge per pair of nodes). The network, the builder and the file format share this
rule, so it lives apart from all three.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import networkx as nx


def edge_slots(data: Mapping) -> tuple[int, ...]:
    """The input slots an edge feeds: its ``slots`` tuple, or its single ``slot``."""
    if "slots" in data:
        return tuple(int(i) for i in data["slots"])
    return (int(data["slot"]),) if "slot" in data else (-1,)


def connect(graph: nx.DiGraph, inputs: Iterable[str], name: str) -> None:
    """Add the edges feeding ``inputs`` (in slot order) into node ``name``.

    A DiGraph holds one edge per pair of nodes, so an input used twice gets one edge with a
    ``slots`` tuple.
    """
    positions: dict[str, list[int]] = {}
    for slot, src in enumerate(inputs):
        positions.setdefault(src, []).append(slot)
    for src, slots in positions.items():
        if len(slots) == 1:
            graph.add_edge(src, name, slot=slots[0])
        else:
            graph.add_edge(src, name, slots=tuple(slots))
