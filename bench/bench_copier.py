"""Benchmark: `copier copy` of this template vs of a one-file template, side by side.

Both templates are snapshots in temporary git repositories, copied with the same options
(defaults, `vcs_ref="HEAD"`), alternating, several times; the medians and their ratio are
printed. Target: this template costs at most twice a one-file template.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import copier

REPOSITORY = Path(__file__).resolve().parents[1]
REPETITIONS = 15
TARGET_RATIO = 2.0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-copier-") as scratch:
        root = Path(scratch)
        ours = this_template(root / "ours")
        minimal = one_file_template(root / "minimal")
        data = {"hera_utils_requirement": f"hera-utils @ {REPOSITORY.as_uri()}"}
        copy(ours, root / "warm-ours", data)  # first runs pay for imports and caches
        copy(minimal, root / "warm-minimal", {})
        ours_times, minimal_times = [], []
        for index in range(REPETITIONS):
            ours_times.append(copy(ours, root / f"ours-{index}", data))
            minimal_times.append(copy(minimal, root / f"minimal-{index}", {}))
    ours_median = statistics.median(ours_times)
    minimal_median = statistics.median(minimal_times)
    ratio = ours_median / minimal_median
    print(f"copier copy, median of {REPETITIONS} alternating runs:")
    print(f"  this template      {ours_median * 1000:8.1f} ms")
    print(f"  one-file template  {minimal_median * 1000:8.1f} ms")
    print(f"  ratio              {ratio:8.2f}  (target <= {TARGET_RATIO:g})")
    return 0 if ratio <= TARGET_RATIO else 1


def copy(template: Path, destination: Path, data: dict[str, str]) -> float:
    """Seconds taken by one `copier copy` of `template` into `destination`."""
    start = time.perf_counter()
    copier.run_copy(
        str(template), str(destination), data=data, defaults=True, vcs_ref="HEAD", quiet=True
    )
    elapsed = time.perf_counter() - start
    shutil.rmtree(destination)
    return elapsed


def this_template(destination: Path) -> Path:
    destination.mkdir()
    shutil.copy2(REPOSITORY / "copier.yml", destination / "copier.yml")
    shutil.copytree(
        REPOSITORY / "template",
        destination / "template",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return commit(destination)


def one_file_template(destination: Path) -> Path:
    (destination / "template").mkdir(parents=True)
    (destination / "copier.yml").write_text(
        "_subdirectory: template\nname:\n  type: str\n  default: demo\n"
    )
    (destination / "template" / "README.md.jinja").write_text("# {{ name }}\n")
    return commit(destination)


def commit(directory: Path) -> Path:
    for arguments in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", *arguments],
            cwd=directory, check=True, capture_output=True, timeout=60,
        )
    return directory


if __name__ == "__main__":
    sys.exit(main())
