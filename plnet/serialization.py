"""Saving and loading networks: one ``.npz`` file, the graph as JSON plus the parameters.

The format is versioned; loading never unpickles anything (``allow_pickle=False``).
This module knows the file format and nothing of the :class:`plnet.Network` class:
:meth:`plnet.Network.save` and :meth:`plnet.Network.load` call it, and reading takes the
class that builds the network, so the dependency runs one way (network -> serialization).
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, TypeVar

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
#: a :class:`plnet.sequence.SequenceModel`: its recipe as JSON plus each parameter once
SEQUENCE_FORMAT = "plnet.sequence"
SEQUENCE_FORMAT_VERSION = 1


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
    with read_errors(path, "a plnet network"):
        desc, params = _read_archive(path, "__graph__", FORMAT, FORMAT_VERSION, "network")
        graph = nx.DiGraph()
        graph.graph.update(desc.get("meta", {}))
        for node in desc["nodes"]:
            graph.add_node(node["name"], op=Op.from_dict(node["op"]))
        for node in desc["nodes"]:
            connect(graph, node["inputs"], node["name"])
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


def save_sequence_model(desc: dict, params: Mapping[str, np.ndarray],
                        path: str | os.PathLike) -> None:
    """Write a sequence model's description (``SequenceModel.to_dict``) and parameters."""
    desc = {"format": SEQUENCE_FORMAT, "version": SEQUENCE_FORMAT_VERSION, **desc}
    arrays = {f"p{i}": params[name] for i, name in enumerate(desc["params"])}
    with open(path, "wb") as fh:
        np.savez_compressed(fh, __sequence__=np.array(json.dumps(desc)), **arrays)


def holds_sequence_model(path: str | os.PathLike) -> bool:
    """True when ``path`` is a readable ``.npz`` written by ``SequenceModel.save``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return "__sequence__" in getattr(data, "files", ())
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False


def read_sequence_model(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """The description and parameters of a sequence model written by :func:`save_sequence_model`.

    Raises:
        SerializationError: the file is missing, not a plnet sequence model, or corrupt.
    """
    with read_errors(path, "a plnet sequence model"):
        return _read_archive(path, "__sequence__", SEQUENCE_FORMAT, SEQUENCE_FORMAT_VERSION,
                             "sequence model")


#: what each kind of file holds its JSON description under, and how to read it
_KINDS = {"__graph__": ("network", "plnet.load or Network.load"),
          "__sequence__": ("sequence model", "plnet.load or SequenceModel.load")}


def _read_archive(path, key: str, fmt: str, version: int,
                  what: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON description under ``key`` and the parameters ``p0, p1, ...`` of a file."""
    with np.load(path, allow_pickle=False) as data:
        others = [k for k in _KINDS if k in data.files and k != key]
        if others:
            held, reader = _KINDS[others[0]]
            raise SerializationError(f"{path}: holds a {held}, not a {what}; read it with "
                                     f"{reader}")
        desc = json.loads(str(data[key]))
        if desc.get("format") != fmt:
            raise SerializationError(f"{path}: not a plnet {what} file")
        if desc.get("version") != version:
            raise SerializationError(f"{path}: format version {desc.get('version')} is not "
                                     f"supported (this plnet reads {version})")
        return desc, {name: data[f"p{i}"] for i, name in enumerate(desc["params"])}


@contextlib.contextmanager
def read_errors(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Turn what reading ``path`` may raise into :class:`SerializationError` naming the file."""
    try:
        yield
    except SerializationError:
        raise
    except FileNotFoundError:
        raise SerializationError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise SerializationError(f"{path}: cannot read {what} ({exc})") from exc
