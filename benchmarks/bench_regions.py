"""plnet's exact 2-d slice against Regioncam, and its local search against Relucent's BFS.

Both sides run on the same random MLP with the same (float32-rounded) weights, side by side,
repeats interleaved, medians taken: ``plnet.regions.slice2d`` on [-1, 1]^2 against Regioncam
(C++, float32) on the same square, and ``plnet.regions.explore`` (l_inf ball of radius 1) against
Relucent's BFS over the cube [-1, 1]^d (one worker). The script prints each time, the region
counts of both, and plnet / peer (above 1: plnet is slower).

Run: python benchmarks/bench_regions.py [--repeats 3] [--slice-widths 64,64,64,64]
                                        [--explore-widths 8,8]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from plnet.regions import explore, slice2d
from plnet.regions.peers import random_mlp, regioncam_faces, relucent_patterns


def widths(text: str) -> tuple[int, ...]:
    return tuple(int(w) for w in text.split(","))


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slice-widths", type=widths, default=(64, 64, 64, 64),
                        help="hidden widths of the 2-d-input MLP sliced")
    parser.add_argument("--explore-widths", type=widths, default=(8, 8),
                        help="hidden widths of the 2-d-input MLP searched")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def side_by_side(ours, theirs, repeats):
    """Median seconds of each, repeats interleaved; and each one's last result."""
    times = {"ours": [], "theirs": []}
    results = {}
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("theirs", theirs)):
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}, results


def run(args) -> dict:
    """Time the slice against Regioncam and the search against Relucent (numpy, CPU)."""
    table, ratios = [], {}
    net, layers = random_mlp((2, *args.slice_widths, 3), args.seed)
    t, counts = side_by_side(
        lambda: slice2d(net, np.zeros(2), [1.0, 0.0], [0.0, 1.0]).count,
        lambda: len(regioncam_faces(layers)[1]), args.repeats)
    ratios["slice2d / regioncam"] = t["ours"] / t["theirs"]
    table.append({"task": "slice", "widths": list(args.slice_widths), "ours": t["ours"],
                  "theirs": t["theirs"], "regions_ours": counts["ours"],
                  "regions_theirs": counts["theirs"]})
    net, layers = random_mlp((2, *args.explore_widths, 2), args.seed)
    t, found = side_by_side(lambda: explore(net, np.zeros(2), 1.0, p=np.inf).number_of_nodes(),
                            lambda: len(relucent_patterns(layers, 1.0, net)), 1)
    ratios["explore / relucent bfs"] = t["ours"] / t["theirs"]
    table.append({"task": "explore", "widths": list(args.explore_widths), "ours": t["ours"],
                  "theirs": t["theirs"], "regions_ours": found["ours"],
                  "regions_theirs": found["theirs"]})
    return {"device": "cpu (numpy)", "ratios": ratios, "table": table}


def main(argv=None):
    args = build_parser().parse_args(argv)
    r = run(args)
    print(f"regions of random 2-d-input ReLU MLPs (median of {args.repeats}, interleaved)")
    peers = {"slice": "regioncam", "explore": "relucent bfs"}
    for row in r["table"]:
        name = f"{row['task']} 2-{'x'.join(map(str, row['widths']))}"
        print(f"  {name:<22} plnet {row['ours']:8.3f} s ({row['regions_ours']} regions)   "
              f"{peers[row['task']]} {row['theirs']:8.3f} s ({row['regions_theirs']} regions)")
    for ratio, value in r["ratios"].items():
        print(f"  ratio {ratio:<24} {value:7.2f}")


if __name__ == "__main__":
    main()
