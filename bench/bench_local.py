"""Cost of the local runner, measured side by side in one run (interleaved, medians).

Prints:
- 200 trivial script tasks through `run_locally` at parallelism 1 vs the same 200 scripts
  spawned one by one with `subprocess` (target <= 1.3: the runner's own cost is small);
- 8 CPU-bound tasks at parallelism 2 vs parallelism 1 (target <= 0.6 on 2 cores: tasks
  really run side by side), next to the same ratio for bare processes, which is what the
  machine itself allows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
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


def _workflow(name: str, count: int, source: str) -> dict[str, Any]:
    tasks = [{"name": f"task-{i}", "template": "work"} for i in range(count)]
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": tasks}},
            {"name": "work", "script": {"image": "python:3.11", "command": ["python"],
                                        "source": source}},
        ]},
    }


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


def main() -> None:
    """Print the two ratios."""
    with tempfile.TemporaryDirectory(prefix="bench-local-") as folder:
        base = Path(folder)
        scripts = []
        for i in range(TRIVIAL_TASKS):
            script = base / f"task-{i}.py"
            script.write_text(TRIVIAL_SOURCE)
            scripts.append(script)
        trivial = _workflow("trivial", TRIVIAL_TASKS, TRIVIAL_SOURCE)
        compare(f"{TRIVIAL_TASKS} trivial tasks: run_locally(parallelism=1) vs subprocess loop",
                lambda: _runner_seconds(trivial, base, 1),
                lambda: _subprocess_seconds(scripts, base), runs=RUNS, target=1.3)
        cpu = _workflow("cpu", CPU_TASKS, CPU_SOURCE)
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


if __name__ == "__main__":
    main()
