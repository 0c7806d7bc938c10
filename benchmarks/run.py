"""Run every benchmark (benchmarks/bench_*.py), each in its own process, and print
their figures. Usage: python -m benchmarks.run [name-fragment ...]"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    selected = [
        path
        for path in sorted(HERE.glob("bench_*.py"))
        if not argv or any(fragment in path.stem for fragment in argv)
    ]
    failures = 0
    for path in selected:
        print(f"== {path.stem}", flush=True)
        result = subprocess.run(  # noqa: S603 - runs our own benchmark modules
            [sys.executable, "-m", f"benchmarks.{path.stem}"], cwd=HERE.parent, check=False
        )
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
