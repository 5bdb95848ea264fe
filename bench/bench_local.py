"""Cost of the local runner, measured side by side in one run (interleaved, medians).

Prints, each as a ratio to a floor measured in the same run:
- 200 trivial script tasks through `run_locally` at parallelism 1 vs the same 200 scripts
  spawned one by one with `subprocess` (target <= 1.3: the runner's own cost is small);
- 8 CPU-bound tasks at parallelism 2 vs parallelism 1 (target <= 0.6 on 2 cores: tasks
  really run side by side), next to the same ratio for bare processes, which is what the
  machine itself allows;
- DAG shapes at parallelism 2 against the same number of bare `subprocess.run` calls on a
  two-thread pool (one at a time for a chain): N independent named tasks (N = 100, 2,000),
  a chain of 500, a fan-in task with 1,000 dependencies; 500 tasks against `make -j2`
  running the same scripts (where make is installed);
- in a fresh interpreter: the peak RSS of a 5,000-task run, and the runner's own CPU time
  per task (its process, threads included, children excluded) at 100 tasks (median of
  three) and 5,000 tasks.

The CPU per task is that of `run_locally` itself, with the modules it loads on its first
call (asyncio, the operator, validation) imported beforehand: importing them is paid once
per interpreter, not per run nor per task, and at 100 tasks it alone would add about 1 ms
to each task. That one-time import is measured and printed on its own line, next to the
per-task figures; everything a run does (loading, validation, thread pool, event loop, run
directory, summary) stays inside the per-task figure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _timing import compare

from hera_utils.local import run_locally

RUNS = 3
TRIVIAL_TASKS = 200
CPU_TASKS = 8
TRIVIAL_SOURCE = "print('done')\n"
CPU_SOURCE = "total = 0\nfor i in range(3_000_000):\n    total += i * i\nprint(total)\n"
SHAPE_SOURCE = "print(1)\n"
WIDTH = 2


def _workflow(name: str, tasks: list[dict[str, Any]], source: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": tasks}},
            {"name": "work", "script": {"image": "python:3.11", "command": ["python"],
                                        "source": source}},
        ]},
    }


def independent(count: int) -> list[dict[str, Any]]:
    """`count` named tasks that depend on nothing."""
    return [{"name": f"task-{i}", "template": "work"} for i in range(count)]


def chain(count: int) -> list[dict[str, Any]]:
    """`count` tasks, each depending on the one before."""
    return [{"name": "task-0", "template": "work"}] + [
        {"name": f"task-{i}", "template": "work", "depends": f"task-{i - 1}"}
        for i in range(1, count)]


def fan_in(count: int) -> list[dict[str, Any]]:
    """`count` independent tasks and one that lists them all as `dependencies`."""
    tasks = independent(count)
    return [*tasks, {"name": "last", "template": "work",
                     "dependencies": [task["name"] for task in tasks]}]


def _runner_seconds(workflow: dict[str, Any], runs_dir: Path, parallelism: int) -> float:
    start = time.perf_counter()
    result = run_locally(workflow, runs_dir=runs_dir, parallelism=parallelism,
                         progress="quiet", work_dir=runs_dir)
    elapsed = time.perf_counter() - start
    assert result.succeeded, result.message
    return elapsed


def _subprocess_seconds(scripts: list[Path], cwd: Path) -> float:
    start = time.perf_counter()
    for script in scripts:
        subprocess.run([sys.executable, str(script)], check=True, cwd=cwd,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    return time.perf_counter() - start


def _pool_seconds(script: Path, count: int, width: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=width) as pool:
        list(pool.map(lambda _: subprocess.run([sys.executable, str(script)], check=True,
                                               stdout=subprocess.DEVNULL), range(count)))
    return time.perf_counter() - start


def _make_seconds(folder: Path, script: Path, count: int) -> float:
    names = [f"task-{i}" for i in range(count)]
    rules = "".join(f"{name}:\n\t@{sys.executable} {script} > {name}.log 2>&1\n"
                    for name in names)
    makefile = folder / "Makefile"
    makefile.write_text(f".PHONY: all {' '.join(names)}\nall: {' '.join(names)}\n{rules}")
    start = time.perf_counter()
    subprocess.run(["make", "-s", f"-j{WIDTH}", "-f", str(makefile)], check=True, cwd=folder,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _shape(label: str, tasks: list[dict[str, Any]], base: Path, floor: Callable[[], float],
           target: float, runs: int) -> None:
    workflow = _workflow("shape", tasks, SHAPE_SOURCE)
    compare(label, lambda: _runner_seconds(workflow, base, WIDTH), floor, runs=runs,
            target=target)


def _shapes(base: Path) -> None:
    script = base / "shape.py"
    script.write_text(SHAPE_SOURCE)
    for count, target, runs in ((100, 1.1, RUNS), (2_000, 1.15, 1)):
        _shape(f"{count} independent named tasks (parallelism {WIDTH}) vs bare pool",
               independent(count), base, lambda c=count: _pool_seconds(script, c, WIDTH),
               target, runs)
    # A shared machine's load drifts over seconds: three interleaved runs, not one.
    _shape("chain of 500 tasks vs 500 bare processes in turn", chain(500), base,
           lambda: _subprocess_seconds([script] * 500, base), 1.1, RUNS)
    _shape(f"fan-in of 1,000 dependencies (parallelism {WIDTH}) vs bare pool", fan_in(1_000),
           base, lambda: _pool_seconds(script, 1_001, WIDTH), 1.2, 1)
    if shutil.which("make"):
        folder = base / "make"
        folder.mkdir(exist_ok=True)
        _shape(f"500 independent tasks vs make -j{WIDTH}", independent(500), base,
               lambda: _make_seconds(folder, script, 500), 1.0, RUNS)
    else:
        print("make is not installed: no comparison with make")


_PROBE = """
import json, sys, time
sys.path.insert(0, {bench!r})
from bench_local import _workflow, independent, SHAPE_SOURCE, WIDTH
from hera_utils.local import run_locally
count = int(sys.argv[1])
cpu = time.process_time()
import hera_utils.local.operator, hera_utils.local.validate  # what the first run loads
import_ms = (time.process_time() - cpu) * 1000
cpu = time.process_time()
result = run_locally(_workflow("memory", independent(count), SHAPE_SOURCE), runs_dir={runs!r},
                     parallelism=WIDTH, progress="quiet", work_dir={runs!r})
cpu = time.process_time() - cpu
assert result.succeeded, result.message
# VmHWM is this process's own peak; ru_maxrss would count the forking parent's.
status = open("/proc/self/status").read()
print(json.dumps({{"rss_mb": int(status.split("VmHWM:")[1].split()[0]) / 1024,
                  "cpu_ms_per_task": cpu * 1000 / count, "import_ms": import_ms}}))
"""


def _probe(base: Path, count: int) -> dict[str, float]:
    (base / "probe").mkdir(exist_ok=True)
    code = _PROBE.format(bench=str(Path(__file__).parent), runs=str(base / "probe"))
    output = subprocess.run([sys.executable, "-c", code, str(count)], check=True,
                            capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(output)
    return figures


def _memory_and_cpu(base: Path) -> None:
    # The small run is over in about a second, inside one of this machine's slow spells
    # or not: its median of three. The large one lasts long enough to average them out.
    smalls = sorted((_probe(base, 100) for _ in range(RUNS)),
                    key=lambda figures: figures["cpu_ms_per_task"])
    small, large = smalls[len(smalls) // 2], _probe(base, 5_000)
    rss = large["rss_mb"]
    print(f"peak RSS of a 5,000-task run: {rss:.0f} MB (target <= 60) "
          + ("ok" if rss <= 60 else "ABOVE TARGET"))
    ratio = large["cpu_ms_per_task"] / small["cpu_ms_per_task"]
    print(f"runner CPU per task: {small['cpu_ms_per_task']:.2f} ms at 100 tasks, "
          f"{large['cpu_ms_per_task']:.2f} ms at 5,000: ratio {ratio:.2f} "
          "(target 0.75..1.25) " + ("ok" if 0.75 <= ratio <= 1.25 else "ABOVE TARGET"))
    print(f"  one-time import of the runner's modules (not in the figures above): "
          f"{small['import_ms']:.0f} ms of CPU")


def main() -> None:
    """Print every ratio and figure."""
    with tempfile.TemporaryDirectory(prefix="bench-local-") as folder:
        base = Path(folder)
        scripts = []
        for i in range(TRIVIAL_TASKS):
            script = base / f"task-{i}.py"
            script.write_text(TRIVIAL_SOURCE)
            scripts.append(script)
        trivial = _workflow("trivial", independent(TRIVIAL_TASKS), TRIVIAL_SOURCE)
        compare(f"{TRIVIAL_TASKS} trivial tasks: run_locally(parallelism=1) vs subprocess loop",
                lambda: _runner_seconds(trivial, base, 1),
                lambda: _subprocess_seconds(scripts, base), runs=RUNS, target=1.3)
        cpu = _workflow("cpu", independent(CPU_TASKS), CPU_SOURCE)
        compare(f"{CPU_TASKS} CPU-bound tasks: parallelism 2 vs parallelism 1",
                lambda: _runner_seconds(cpu, base, 2),
                lambda: _runner_seconds(cpu, base, 1), runs=RUNS, target=0.6)
        # What the machine itself gives: the same scripts as bare processes, two at a time
        # vs one at a time. Two hyper-threads or a CPU quota give far less than two cores.
        cpu_script = base / "cpu.py"
        cpu_script.write_text(CPU_SOURCE)
        compare(f"  reference, bare processes ({os.cpu_count()} CPUs): 2 at a time vs 1",
                lambda: _pool_seconds(cpu_script, CPU_TASKS, 2),
                lambda: _pool_seconds(cpu_script, CPU_TASKS, 1), runs=RUNS, target=0.6)
        _shapes(base)
        _memory_and_cpu(base)


if __name__ == "__main__":
    main()
