"""One random MLP for plnet and for two peer tools, Regioncam and Relucent.

For the differential tests and benchmarks of :mod:`plnet.regions`: Regioncam's exact 2-d
partition and Relucent's breadth-first search over regions, run on the same weights and
silenced (nothing they print reaches plnet's output). Both are optional: they are in the
``test`` extra (Relucent on Python >= 3.11 only) and imported inside the functions.
"""

from __future__ import annotations

import numpy as np

from plnet.analysis import activation_pattern
from plnet.builder import NetworkBuilder
from plnet.errors import require
from plnet.network import Network
from plnet.quiet import silenced_fds


def random_mlp(widths: tuple[int, ...], seed: int, activation: str = "relu",
               alpha: float = 0.1) -> tuple[Network, list[tuple[np.ndarray, np.ndarray]]]:
    """A random MLP as a plnet network and as its layers ``[(W [out, in], b [out]), ...]``.

    Weights are rounded to float32 (Regioncam's type), so both sides hold the same numbers.

    Args:
        widths: from the input size to the output size; every hidden layer has the
            activation, the last layer none.
        seed: seed of the weights.
        activation: ``"relu"`` or ``"leaky_relu"`` (with ``alpha``).
    """
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((widths[0],))
    h, layers = b.input, []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        w = (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
        bias = (0.5 * rng.standard_normal(n_out)).astype(np.float32)
        layers.append((w.astype(np.float64), bias.astype(np.float64)))
        h = b.dense(h, *layers[-1])
        if i < len(widths) - 2:
            h = b.relu(h) if activation == "relu" else b.leaky_relu(h, alpha)
    return b.build(h), layers


def regioncam_faces(layers, activation: str = "relu", alpha: float = 0.1,
                    size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Regioncam's regions (faces) of a 2-d-input MLP on the square [-size, size]^2.

    Returns:
        ``(points [F, 2], areas [F])``: each face's vertex mean and area. Regioncam computes
        in float32: faces of area below about 1e-12 may be lost or invented by its round-off.
    """
    regioncam = require("regioncam", "test", "the Regioncam comparison")
    with silenced_fds():
        cam = regioncam.Regioncam(size=size)
        for w, bias in layers[:-1]:
            cam.linear(w.T.astype(np.float32), bias.astype(np.float32))
            if activation == "relu":
                cam.relu()
            else:
                cam.leaky_relu(alpha)
        vertices = np.asarray(cam.vertex_inputs, dtype=np.float64)
        faces = cam.faces
        points = np.array([vertices[np.asarray(f.vertex_ids)].mean(axis=0) for f in faces])
        areas = np.array([f.area for f in faces], dtype=np.float64)
    return points, areas


def relucent_patterns(layers, radius: float, net: Network) -> list[bytes]:
    """plnet's pattern keys of the regions Relucent's BFS finds meeting the cube [-r, r]^d.

    ``layers`` must be a ReLU MLP's (Relucent has no LeakyReLU); ``net`` the same network.
    """
    relucent = require("relucent", "test", "the Relucent comparison")
    from relucent.model.model import LinearLayer, ReLULayer, ReLUNetwork

    parts = []
    for i, (w, bias) in enumerate(layers):
        parts.append(LinearLayer(w, bias))
        if i < len(layers) - 1:
            parts.append(ReLULayer())
    with silenced_fds():
        cx = relucent.Complex(ReLUNetwork(parts))
        result = cx.bfs(start=np.zeros(layers[0][0].shape[1]),
                        cube_radius=radius, cube_mode="intersect", nworkers=1, verbose=0)
        points = np.stack([np.asarray(p.interior_point, dtype=np.float64).ravel() for p in cx])
    if not result.complete:
        raise RuntimeError("Relucent's search did not complete")
    return activation_pattern(net, points).keys()
