"""`python -m hera_utils.demo`: generate the example experiment from this repository, run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from template_helpers import REPOSITORY


def demo(dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hera_utils.demo", "--dest", str(dest)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_demo_generates_and_runs_the_example(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    result = demo(dest)
    assert result.returncode == 0, result.stdout + result.stderr
    (summary_path,) = dest.glob("runs/*/summary.json")
    tasks = json.loads(summary_path.read_text())["tasks"]
    assert {task["phase"] for task in tasks} == {"Succeeded"}
    assert str(summary_path) in result.stdout
    assert list((dest / "local-volume").rglob("result.json"))
    requirement = f"hera-utils @ {REPOSITORY.as_uri()}"
    assert requirement in (dest / "pyproject.toml").read_text()


def test_the_demo_replaces_an_older_demo(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    assert demo(dest).returncode == 0
    (dest / "stale.txt").write_text("from an older demo")
    assert demo(dest).returncode == 0
    assert not (dest / "stale.txt").exists()


def test_the_demo_leaves_other_directories_alone(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("not a demo")
    result = demo(tmp_path)
    assert result.returncode == 2
    assert "not a generated experiment" in result.stderr
    assert (tmp_path / "mine.txt").exists()
