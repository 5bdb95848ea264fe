"""Import cost of hera_utils and start-up cost of the `hera-utils` command line.

Prints, measured side by side in one run (interleaved, medians):
- `import hera_utils` vs `import hera.workflows` (target <= 1.10);
- for information, every public name of hera_utils resolved (the local runner's
  interpreter included) plus Hera, vs `import hera.workflows` alone;
- `hera-utils --help` vs `python -c "import argparse"`, whole processes (target <= 4:
  the help imports neither Hera nor the Kubernetes client).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import compare, in_process_import_time, wall_time

RUNS = 11
EVERY_NAME = (
    "import hera_utils, hera.workflows\nfor n in hera_utils.__all__: getattr(hera_utils, n)"
)


def main() -> None:
    """Print the three ratios."""
    compare("import hera_utils vs import hera.workflows",
            lambda: in_process_import_time("import hera_utils"),
            lambda: in_process_import_time("import hera.workflows"), runs=RUNS, target=1.10)
    compare("hera_utils (all public names) + hera.workflows vs import hera.workflows",
            lambda: in_process_import_time(EVERY_NAME),
            lambda: in_process_import_time("import hera.workflows"), runs=RUNS, target=None)
    script = shutil.which("hera-utils", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "hera_utils.cli"]
    compare("hera-utils --help vs python -c 'import argparse'",
            lambda: wall_time([*command, "--help"]),
            lambda: wall_time([sys.executable, "-c", "import argparse"]), runs=RUNS, target=4.0)


if __name__ == "__main__":
    main()
