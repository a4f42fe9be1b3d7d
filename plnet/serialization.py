"""Saving and loading networks: one ``.npz`` file, the graph as JSON plus the parameters.

The format is versioned; loading never unpickles anything (``allow_pickle=False``).
This module knows the file format and nothing of the :class:`plnet.Network` class:
:meth:`plnet.Network.save` and :meth:`plnet.Network.load` call it, and reading takes the
class that builds the network, so the dependency runs one way (network -> serialization).
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import TYPE_CHECKING, Callable, Mapping, TypeVar

import networkx as nx
import numpy as np

from plnet.edges import connect
from plnet.errors import PlnetError, SerializationError
from plnet.ops import Op

if TYPE_CHECKING:  # for annotations only: network.py imports this module
    from plnet.network import Network

NetworkT = TypeVar("NetworkT")

FORMAT = "plnet.network"
FORMAT_VERSION = 1


def network_to_dict(net: Network) -> dict:
    """JSON-able description of a network's graph (parameters listed by name only)."""
    return {
        "format": FORMAT, "version": FORMAT_VERSION, "output": net.output,
        "nodes": [{"name": n, "op": net.op(n).to_dict(), "inputs": net.inputs_of(n)}
                  for n in net.graph],
        "params": sorted(net.params),
        "meta": _jsonable_meta(net.graph.graph),
    }


def save_network(net: Network, path: str | os.PathLike) -> None:
    """Write ``net`` to ``path`` (compressed ``.npz``)."""
    desc = network_to_dict(net)
    arrays = {f"p{i}": net.params[name] for i, name in enumerate(desc["params"])}
    with open(path, "wb") as fh:
        np.savez_compressed(fh, __graph__=np.array(json.dumps(desc)), **arrays)


def read_network(path: str | os.PathLike,
                 build: Callable[[nx.DiGraph, dict[str, np.ndarray], str], NetworkT]) -> NetworkT:
    """Read a network written by :func:`save_network`.

    Args:
        path: the ``.npz`` file.
        build: makes the network from ``(graph, params, output)`` (the ``Network`` class).

    Returns:
        What ``build`` returns.

    Raises:
        SerializationError: the file is missing, not a plnet network, corrupt, or holds an
            invalid network.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            desc = json.loads(str(data["__graph__"]))
            if desc.get("format") != FORMAT:
                raise SerializationError(f"{path}: not a plnet network file")
            if desc.get("version") != FORMAT_VERSION:
                raise SerializationError(f"{path}: format version {desc.get('version')} is "
                                         f"not supported (this plnet reads {FORMAT_VERSION})")
            params = {name: data[f"p{i}"] for i, name in enumerate(desc["params"])}
        graph = nx.DiGraph()
        graph.graph.update(desc.get("meta", {}))
        for node in desc["nodes"]:
            graph.add_node(node["name"], op=Op.from_dict(node["op"]))
        for node in desc["nodes"]:
            connect(graph, node["inputs"], node["name"])
    except SerializationError:
        raise
    except FileNotFoundError:
        raise SerializationError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise SerializationError(f"{path}: cannot read a plnet network ({exc})") from exc
    try:
        return build(graph, params, desc["output"])
    except PlnetError as exc:
        raise SerializationError(f"{path}: the saved network is invalid: {exc}") from exc


def _jsonable_meta(meta: Mapping) -> dict:
    """The entries of a graph's metadata that JSON can hold (provenance, dropped ops...)."""
    out = {}
    for key, value in meta.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out
