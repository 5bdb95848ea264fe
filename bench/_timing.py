"""Shared timing helpers for the benchmarks: interleaved runs, medians, ratio lines."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def wall_time(command: Sequence[str], **kwargs: object) -> float:
    """Seconds a command takes to run to completion (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def in_process_import_time(code: str) -> float:
    """Seconds `code` takes inside a fresh interpreter, interpreter start-up excluded."""
    probe = (
        "import time, sys\n"
        "start = time.perf_counter()\n"
        f"exec({code!r})\n"
        "sys.stdout.write(repr(time.perf_counter() - start))\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                            text=True).stdout
    return float(output)


def compare(label: str, candidate: Callable[[], float], baseline: Callable[[], float], *,
            runs: int, target: float | None) -> float:
    """Run both side by side (interleaved), print medians and their ratio against a target."""
    candidate()
    baseline()  # warm the file-system caches for both before measuring
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(candidate())
        theirs.append(baseline())
    a, b = statistics.median(ours), statistics.median(theirs)
    ratio = a / b
    if target is None:
        goal = "(for information, no target)"
    else:
        goal = f"(target <= {target}) " + ("ok" if ratio <= target else "ABOVE TARGET")
    print(f"{label}: {a * 1000:.1f} ms vs {b * 1000:.1f} ms (median of {runs}) "
          f"ratio {ratio:.2f} {goal}")
    return ratio
