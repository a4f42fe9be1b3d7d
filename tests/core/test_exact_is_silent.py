"""plnet.exact prints nothing: solvers are silenced at their options and at the descriptors.

A new solver release that starts printing (highspy 1.16's banner did) fails here, with what
it printed in the assertion message.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import plnet
from plnet.errors import PlnetError
from plnet.quiet import silenced_fds

pytest.importorskip("cvxpy")
exact = pytest.importorskip("plnet.exact")

PS = (1, 2, np.inf)
ENTRY_POINTS = ("facet_distances", "exact_margin", "verify_ball", "chebyshev_center")


def _small_network():
    rng = np.random.default_rng(0)
    b = plnet.NetworkBuilder((3,))
    h = b.relu(b.dense(b.input, rng.normal(size=(5, 3)), rng.normal(size=5)))
    return b.build(b.dense(h, rng.normal(size=(2, 5)), rng.normal(size=2)))


def _call(name, net, x, p):
    if name == "verify_ball":
        return exact.verify_ball(net, x, 1e-3, p=p)
    return getattr(exact, name)(net, x, p=p)


@pytest.mark.parametrize("name", ENTRY_POINTS)
@pytest.mark.parametrize("p", PS)
def test_every_exact_entry_point_writes_nothing_to_fd_1_or_2(capfd, name, p):
    net = _small_network()
    x = np.random.default_rng(1).normal(size=3)
    capfd.readouterr()
    _call(name, net, x, p)
    out, err = capfd.readouterr()
    assert (out, err) == ("", ""), f"plnet.exact.{name}(p={p}) printed: {out!r} {err!r}"


def test_a_fresh_process_running_every_entry_point_prints_nothing():
    # banners such as highspy's come once per process, at the first solver object: only a
    # fresh interpreter sees them
    code = ("import numpy as np, plnet\n"
            "b = plnet.NetworkBuilder((2,))\n"
            "net = b.build(b.relu(b.dense(b.input, np.eye(2), np.zeros(2))))\n"
            "x = np.array([1.0, 2.0])\n"
            "for p in (1, 2, np.inf):\n"
            "    plnet.exact.facet_distances(net, x, p)\n"
            "    plnet.exact.exact_margin(net, x, p)\n"
            "    plnet.exact.verify_ball(net, x, 0.5, p)\n"
            "    plnet.exact.chebyshev_center(net, x, p)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (out.stdout, out.stderr) == ("", ""), (
        f"a solver printed into plnet's output: stdout {out.stdout!r}, stderr {out.stderr!r}")


def test_silenced_fds_captures_native_writes_and_restores_the_descriptors(capfd):
    with silenced_fds() as printed:
        os.write(1, b"native out\n")
        os.write(2, b"native err\n")
        print("python out")
    os.write(1, b"after\n")
    out, err = capfd.readouterr()
    assert out == "after\n" and err == ""
    assert "native out" in printed.text and "native err" in printed.text
    assert "python out" in printed.text


def test_a_failing_solver_is_a_plnet_error_that_quotes_what_it_printed(monkeypatch):
    import cvxpy as cp

    def failing_solve(self, *args, **kwargs):
        os.write(1, b"solver diagnostics\n")
        raise cp.error.SolverError("numerical trouble")

    monkeypatch.setattr(cp.Problem, "solve", failing_solve)
    with pytest.raises(PlnetError, match="numerical trouble.*solver diagnostics"):
        exact.verify_ball(_small_network(), np.zeros(3), 0.1, p=1)
