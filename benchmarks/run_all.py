"""`make bench`: run every benchmark module in this folder at a small scale, one process each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    extra = sys.argv[1:] or ["--small"]
    names = sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "run_all")
    failed = []
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *extra], cwd=HERE.parent)
        if result.returncode:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
