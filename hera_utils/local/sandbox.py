"""The Python a run's script tasks use: a virtual environment layered on the runner's own.

On Argo a script runs in its image, so `pip install` in a script changes nothing outside
its pod. Here a script runs on this machine: given the runner's interpreter it would
install into the researcher's environment. Each run therefore gets a virtual environment
of its own (`runs/<run>/python/`, made in milliseconds: no pip is copied into it) whose
site-packages come first and which sees the runner's packages after them, through a
`.pth` file. pip run in it (`python -m pip`, or `pip` on the task's PATH) installs into
the run's environment, and refuses to uninstall or upgrade in place what lies outside it
("Not uninstalling ... outside environment"), so the runner's packages stay as they were.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PythonSandbox", "make_sandbox"]

_PTH_NAME = "_hera_utils_runner_packages.pth"
# Variables that would send pip's installs (or Python's user site) elsewhere: out of the
# run's environment, perhaps into the user's.
_REDIRECTING = ("PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER", "PYTHONUSERBASE",
                "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")
_PIP_LAUNCHER = """#!{python}
# pip of this run's own environment: what it installs stays in the run directory.
import sys
from pip._internal.cli.main import main
sys.exit(main())
"""


@dataclass(frozen=True)
class PythonSandbox:
    """A run's own virtual environment: its interpreter and its `bin` directory."""

    root: Path
    python: str
    bin_dir: str

    def apply(self, env: dict[str, str]) -> None:
        """Make `python` and `pip` of the task environment `env` the run's own."""
        for name in _REDIRECTING:
            env.pop(name, None)
        path = env.get("PATH", "")
        env["PATH"] = self.bin_dir + (os.pathsep + path if path else "")
        env["VIRTUAL_ENV"] = str(self.root)


def make_sandbox(root: Path) -> PythonSandbox:
    """Create the run's environment at `root` (or reuse the one there); its description."""
    python = root / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=True).create(root)
    site_packages = _site_packages(root)
    site_packages.mkdir(parents=True, exist_ok=True)
    (site_packages / _PTH_NAME).write_text(_pth_text(_runner_site_directories()),
                                           encoding="utf-8")
    for name in ("pip", "pip3", f"pip{sys.version_info.major}.{sys.version_info.minor}"):
        launcher = root / "bin" / name
        launcher.write_text(_PIP_LAUNCHER.format(python=python), encoding="utf-8")
        launcher.chmod(0o755)
    return PythonSandbox(root=root, python=str(python), bin_dir=str(root / "bin"))


def _site_packages(root: Path) -> Path:
    """Where `venv` puts an environment's packages (its own scheme since Python 3.11)."""
    if "venv" in sysconfig.get_scheme_names():
        return Path(sysconfig.get_path("purelib", "venv",
                                       vars={"base": str(root), "platbase": str(root)}))
    if os.name == "nt":
        return root / "Lib" / "site-packages"
    return root / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages"


def _runner_site_directories() -> list[str]:
    """The runner's site directories: its environment's, the system's if it sees them, the
    user's own if it uses them (a task's HOME is not the user's, so name it here)."""
    directories = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        directories.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(directories) if os.path.isdir(d)]


def _pth_text(directories: list[str]) -> str:
    # `addsitedir`, not a bare path: the runner's own .pth files (editable installs) apply.
    lines = [f"import site; site.addsitedir({directory!r})" for directory in directories]
    return "\n".join(lines) + "\n"
