"""Run every Vigil benchmark: each ``scripts/bench_<name>.py`` in turn. They print figures and assert nothing.

    python scripts/bench.py            # all
    python scripts/bench.py ingest     # one

A benchmark module has a docstring (what it measures) and ``main(argv)``. Run benchmarks on a quiet
machine: other work on the two cores changes the figures.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _modules() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def main() -> None:
    modules = _modules()
    names = sys.argv[1:] or list(modules)
    unknown = [n for n in names if n not in modules]
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(modules)}")
    for name in names:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", modules[name])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {name}: {module.__doc__.strip().splitlines()[0]}")
        started = time.perf_counter()
        module.main([])
        print(f"(benchmark {name} took {time.perf_counter() - started:.0f} s in all)\n")


if __name__ == "__main__":
    main()
