"""Time the build of a bundled example profile, stage by stage.

    python benchmarks/build_example.py [examples/synthetic/profile.yaml] [--repeat 3]

Runs ``build_profile`` ``--repeat`` times into a temporary folder, each in a
fresh process (so the catalogue is read each time, as a user's first build
would), and prints wall time per run and the stages' shares measured from the
progress events. The issue's target: the synthetic example under 30 s on a
2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import migprofile
from migprofile.profile import build_profile
t_import = time.perf_counter()
stages = {}
last = [time.perf_counter()]
def progress(event):
    now = time.perf_counter()
    stages[event.stage] = stages.get(event.stage, 0.0) + now - last[0]
    last[0] = now
result = build_profile(sys.argv[1], sys.argv[2], progress=progress)
t_end = time.perf_counter()
print(json.dumps({"import": t_import - t0, "build": t_end - t_import, "total": t_end - t0,
                  "stages": stages, "tables": len(result.tables), "files": len(result.paths)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="examples/synthetic/profile.yaml")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, args.spec, out],
                check=True,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - start
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["wall"] = wall
        runs.append(figures)
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in figures["stages"].items())
        print(
            f"run {n + 1}: wall {wall:.2f} s (import {figures['import']:.2f} s, "
            f"build {figures['build']:.2f} s: {stages}); "
            f"{figures['tables']} tables, {figures['files']} files"
        )
    best = min(r["wall"] for r in runs)
    print(f"best wall time of {len(runs)}: {best:.2f} s ({Path(args.spec)})")


if __name__ == "__main__":
    main()
