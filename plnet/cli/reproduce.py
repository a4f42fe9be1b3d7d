"""``plnet reproduce NAME``: one of the paper's tables or figures, beside the paper's numbers."""

from __future__ import annotations

import json
import sys
import time

from plnet.cli.progress import progress_wanted


def cmd_reproduce(args) -> int:
    from plnet.reproduce import run

    started = time.perf_counter()
    result = run(args.name, quick=args.quick, out=args.out, progress=progress_wanted(args),
                 seed=args.seed)
    table = result.pop("table")
    if args.json:
        # the documented schema first; extra keys (settings, notes) after
        print(json.dumps(result))
        return 0
    beside = " beside the paper's numbers" if result["paper"] else ""
    print(f"plnet reproduce {args.name}{' --quick' if args.quick else ''}: ours ('here')"
          f"{beside}, in raw input units\n")
    print(table)
    print(f"\nwrote {result['json']}" + "".join(f", {f}" for f in result["figures"]))
    print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0
