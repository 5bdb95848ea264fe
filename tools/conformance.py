"""Run Argo's own examples through `run_locally` and say how many end as Argo's CI expects.

    python tools/conformance.py [EXAMPLES_DIR] [--jobs N] [--timeout SECONDS] [--table]

Argo's CI (`test/e2e/examples_test.go`) submits every example Workflow without the label
`workflows.argoproj.io/no-test` and requires it to succeed: that is "expected" here. Each
example runs in a process of its own, with container tasks stubbed, in a throwaway working
directory and HOME, with pip kept off the network; it ends as one of:

    ok        Succeeded (or, for a `no-test` example, any phase)
    refused   refused before running (a feature the local runner lacks)
    failed    ended in another phase than expected, or timed out, or crashed

The last line reads `examples: N ran as expected, R refused (features...), F failed`.
Not part of the test suite (it reads data outside the project and takes minutes).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

DEFAULT_EXAMPLES = (
    Path(__file__).resolve().parents[2] / "shared/reference/argo-workflows-v4.1.2/examples"
)
NO_TEST = "workflows.argoproj.io/no-test"

_CHILD = r"""
import json, sys
from hera_utils.errors import HeraUtilsError
from hera_utils.local import run_locally
path, runs = sys.argv[1], sys.argv[2]
try:
    result = run_locally(path, runs_dir=runs, stub_containers=True, progress="quiet",
                         parallelism=4)
except HeraUtilsError as error:
    print(json.dumps({"refused": error.message}))
else:
    print(json.dumps({"phase": result.phase, "message": result.message}))
"""


def workflows_in(examples: Path) -> list[tuple[Path, bool]]:
    """(file, tested by Argo's CI) for every example file holding a Workflow."""
    found = []
    for path in sorted(examples.rglob("*.yaml")):
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        for document in documents:
            if document.get("kind") == "Workflow":
                labels = (document.get("metadata") or {}).get("labels") or {}
                found.append((path, NO_TEST not in labels))
                break
    return found


def run_one(path: Path, timeout: float) -> dict:
    """Run one example in a child process of its own; return what it printed."""
    with tempfile.TemporaryDirectory(prefix="conformance-") as scratch:
        env = dict(os.environ, HOME=scratch, PIP_NO_INDEX="1", PIP_FIND_LINKS="",
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD, str(path), f"{scratch}/runs"],
                                  cwd=scratch, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"crash": f"no end within {timeout:g} s"}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"crash": tail[:200]}


_FEATURES = (
    ("artifacts", r"artifacts"), ("resource templates", r"resource template"),
    ("expression tags", r"expression tags|valueFrom\.expression|\.expression"),
    ("container sets", r"container set"), ("lifecycle hooks", r"lifecycle hooks"),
    ("daemons", r"daemon"), ("sidecars", r"sidecar"),
    ("WorkflowTemplates not given", r"WorkflowTemplate"),
    ("values from the cluster", r"comes from|takes its value|from the cluster"),
)


def feature_of(message: str) -> str:
    """A short name for the first feature a refusal names (what the runner lacks)."""
    lowered = message.lower()
    found = [(lowered.find(m.group(0).lower()), name) for name, pattern in _FEATURES
             for m in [re.search(pattern, message, re.IGNORECASE)] if m]
    if found:
        return min(found)[1]
    return " ".join(message.split())[:40]


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("examples", nargs="?", type=Path, default=DEFAULT_EXAMPLES)
    cli.add_argument("--jobs", type=int, default=2)
    cli.add_argument("--timeout", type=float, default=90.0)
    cli.add_argument("--table", action="store_true", help="print one line per example")
    args = cli.parse_args(argv)
    if not args.examples.is_dir():
        print(f"conformance: {args.examples} is not a directory of Argo examples", file=sys.stderr)
        return 2
    examples = workflows_in(args.examples)
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(lambda item: run_one(item[0], args.timeout), examples))
    counts: collections.Counter[str] = collections.Counter()
    features: collections.Counter[str] = collections.Counter()
    for (path, tested), outcome in zip(examples, outcomes, strict=True):
        if "refused" in outcome:
            verdict, detail = "refused", outcome["refused"]
            features[feature_of(detail)] += 1
        elif "crash" in outcome:
            verdict, detail = "failed", outcome["crash"]
        elif outcome["phase"] == "Succeeded" or not tested:
            verdict, detail = "ok", outcome["phase"]
        else:
            verdict, detail = "failed", f"{outcome['phase']}: {outcome['message']}"
        counts[verdict] += 1
        if args.table:
            name = path.relative_to(args.examples)
            said = " ".join(detail.split())[:110]
            print(f"{verdict:8} {'ci ' if tested else '   '}{name}  {said}")
    top = ", ".join(f"{name} {n}" for name, n in features.most_common(6))
    print(f"examples: {counts['ok']} ran as expected, {counts['refused']} refused ({top}), "
          f"{counts['failed']} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
