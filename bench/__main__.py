"""Run every benchmark, or the one named: ``python -m bench [name [args...]]``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def _names() -> list[str]:
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    names = _names()
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(names))
        return 0
    if argv:
        if argv[0] not in names:
            print(f"no benchmark named {argv[0]!r}; there are: {', '.join(names)}")
            return 2
        importlib.import_module(f"bench.bench_{argv[0]}").main(argv[1:])
        return 0
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.bench_{name}").main([])
        print(f"== {name} done in {time.perf_counter() - started:.1f} s\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
