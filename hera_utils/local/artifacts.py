"""Artifacts in a local run: the run's own artifact repository, `runs/<run>/artifacts/`.

It stands for the cluster's artifact repository. Its layout:

    artifacts/<task>/<name>/<file>    a file output artifact, under its own file name
    artifacts/<task>/<name>/          a directory output artifact: the directory itself
    artifacts/keys/<key>              a key-only artifact (`s3: {key: ...}`), at its key
    artifacts/raw/<digest>            the data of a `raw` input artifact

`<task>` is named like the task's log (`runs/<run>/<task>.log`). Argo packs an output into
a tar.gz (or not, with `archive: {none: {}}`) and unpacks it for the consumer; locally the
files are kept as they are, which is what the consumer sees either way.

A task's input artifacts are resolved before it starts (`resolve_inputs`: from another
task's or step's outputs, `raw` data, a key, or the workflow's `arguments.artifacts`);
`task_files` puts them in the task's own file system and stores its outputs here, where
`{{tasks.X.outputs.artifacts.Y}}` names the stored copy. What a local run cannot honour
(remote sources, artifactGC) is listed by `artifact_problems` for `validate`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .context import NodeError, Operator
from .expr_lang import ExprError, evaluate
from .expr_tags import Variables
from .nodes import Node
from .templating import substitute

__all__ = [
    "LOCAL_SOURCE",
    "STUB_MARKER",
    "LocalRepository",
    "artifact_problems",
    "group_output_artifacts",
    "has_artifacts",
    "key_of",
    "location_of",
    "published_artifacts",
    "resolve_inputs",
    "root_call",
    "template_artifact_problems",
    "unresolved_reason",
    ]

# The resolved source of an input artifact, set on the template the operator runs (a key of
# this runner's own, never sent to Argo).
LOCAL_SOURCE = "localSource"

# Beside the placeholder of a stubbed container's output artifact.
STUB_MARKER = ".stubbed-placeholder"

# Where Argo can fetch from or store to, and the key field of a key-only artifact of each.
_LOCATIONS = ("s3", "gcs", "oss", "azure", "http", "git", "hdfs", "artifactory",
              "huggingface", "plugin")
_KEY_FIELDS = {"s3": "key", "gcs": "key", "oss": "key", "azure": "blob"}


def has_artifacts(template: Mapping[str, Any]) -> bool:
    """Whether a template declares input or output artifacts."""
    return any((template.get(section) or {}).get("artifacts")
               for section in ("inputs", "outputs"))


# ---------------------------------------------------------------------------- validation

def artifact_problems(artifact: Mapping[str, Any], label: str, *, role: str) -> list[str]:
    """What a local run cannot honour in one artifact declaration (empty when all is fine).

    `role` is `input` (a template's input), `output` (a pod's output), `group-output` (a DAG
    or steps template's output) or `argument` (a call's or the workflow's argument).
    """
    name = artifact.get("name")
    where = f"{label}: {role.replace('group-', '')} artifact '{name}'"
    problems = []
    if artifact.get("artifactGC"):
        problems.append(f"{where} uses artifactGC, which a local run does not do (its "
                        "artifacts stay under runs/<workflow>/artifacts/; remove artifactGC)")
    if artifact.get("fromExpression") and role != "group-output":
        problems.append(f"{where} uses fromExpression, which is not supported locally "
                        "(from: \"{{tasks.X.outputs.artifacts.Y}}\" is, and a DAG's or "
                        "steps' own outputs take one)")
    location = location_of(artifact)
    if location is not None and key_of(artifact, location) is None:
        if role in ("output", "group-output"):
            stored = "uploaded over http" if location == "http" else \
                f"stored in {location} with its own location"
            problems.append(f"{where} is {stored}, which a local run cannot reach; drop the "
                            "location (a key-only artifact, or none: the run's repository "
                            "under runs/<workflow>/artifacts/ keeps it)")
        elif location == "http":
            problems.append(f"{where} is fetched over http, which a local run does not do; "
                            "download the file and give it with run_locally(artifacts=...) "
                            "or pass it from a task")
        else:
            problems.append(f"{where} comes from {location}, which a local run cannot reach; "
                            "give the file with run_locally(artifacts=...) at the workflow "
                            "level, pass it from a task (from:), or use raw data")
    if role in ("input", "output") and not artifact.get("path"):
        problems.append(f"{where} has no path (a pod template's artifacts need one)")
    return problems


def template_artifact_problems(template: Mapping[str, Any], where: str,
                               notices: list[str]) -> list[str]:
    """What a local run cannot honour in a template's artifacts (notices for what it
    ignores)."""
    pod = any(template.get(kind) is not None for kind in ("script", "container", "containerSet"))
    problems = [problem for section in ("inputs", "outputs")
                for artifact in (template.get(section) or {}).get("artifacts") or []
                for problem in artifact_problems(
                    artifact, where, role=("" if pod else "group-") + section.rstrip("s"))]
    args = [str(word) for word in (template.get("script") or {}).get("args") or []]
    if has_artifacts(template) and "hera.workflows.runner" in args:
        # Hera's runner reads and writes artifacts at fixed paths (/tmp/hera-inputs/...)
        # that its own code names: they cannot be made the task's own here.
        problems.append(f"{where} is a Hera runner script (constructor=\"runner\") with "
                        "artifacts, which the runner reads and writes at fixed paths of this "
                        "machine; use an inline script (the default constructor) with "
                        "artifact paths, or run it on the cluster")
    archive = template.get("archiveLocation") or {}
    if set(archive) - {"archiveLogs"}:
        problems.append(f"{where} sets an archiveLocation, which a local run cannot reach "
                        "(its artifacts stay under runs/<workflow>/artifacts/)")
    elif archive.get("archiveLogs"):
        notices.append(f"{where}: archiveLogs is ignored: the logs are in the run directory")
    return problems


def location_of(artifact: Mapping[str, Any]) -> str | None:
    """Which storage (s3, gcs, http...) an artifact names, if any."""
    return next((key for key in _LOCATIONS if artifact.get(key) is not None), None)


def key_of(artifact: Mapping[str, Any], location: str) -> str | None:
    """The key of a key-only artifact (only the key given: the repository holds it)."""
    fields = artifact.get(location)
    key_field = _KEY_FIELDS.get(location)
    if key_field is None or not isinstance(fields, Mapping) or set(fields) != {key_field}:
        return None
    return str(fields[key_field])


# ---------------------------------------------------------------------------- repository

class LocalRepository:
    """The artifact repository of one run, a directory of the run."""

    def __init__(self, run_dir: Path) -> None:
        self.root = run_dir / "artifacts"
        self.files_root = run_dir / "fs"

    def key_path(self, key: str) -> Path:
        """Where a key-only artifact is kept; `NodeError` for a key leaving the repository."""
        keys = self.root / "keys"
        path = Path(os.path.normpath(keys / key.strip("/")))
        if path != keys and keys not in path.parents:
            raise NodeError(f"artifact key {key!r} leaves the artifact repository")
        return path

    def raw(self, data: str) -> Path:
        """A file holding `data` (a `raw` artifact), stored once per content."""
        path = self.root / "raw" / hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data, encoding="utf-8")
        return path

    def holds(self, path: Path) -> bool:
        """Whether `path` is an artifact of this repository (what a `from:` may name)."""
        resolved = Path(os.path.normpath(path))
        return self.root in resolved.parents and resolved.exists()


# ---------------------------------------------------------------------------- inputs

def resolve_inputs(op: Operator, template: dict[str, Any], holder: Mapping[str, Any],
                   parameters: Mapping[str, str]) -> dict[str, Any]:
    """`template` with each declared input artifact's source resolved (`LOCAL_SOURCE`).

    The caller's argument of the same name wins over the declaration's own source (raw
    data, a key, `from`), in which the workflow's variables and the template's input
    `parameters` are replaced. A missing artifact is an error unless it is `optional`;
    raises `NodeError` with Argo's wording.
    """
    declared = (template.get("inputs") or {}).get("artifacts") or []
    if not declared:
        return template
    repository = LocalRepository(op.options.run_dir)
    declared = substitute(declared, op.lookup(
        {f"inputs.parameters.{name}": value for name, value in parameters.items()}))
    supplied = {str(a.get("name")): a for a in
                (holder.get("arguments") or {}).get("artifacts") or [] if isinstance(a, dict)}
    resolved = []
    for artifact in declared:
        name = str(artifact.get("name"))
        source, unresolved = None, None
        for candidate in (supplied.get(name), artifact):
            if candidate is None:
                continue
            source, unresolved = _source_of(candidate, repository, op.options.artifacts)
            if source is not None or unresolved is not None:
                break
        if source is None and not artifact.get("optional"):
            if unresolved:
                raise NodeError(f"inputs.artifacts.{name}: {unresolved}")
            raise NodeError(f"inputs.artifacts.{name} was not supplied")
        entry = dict(artifact)
        if source is not None:
            entry[LOCAL_SOURCE] = str(source)
        resolved.append(entry)
    inputs = dict(template.get("inputs") or {})
    inputs["artifacts"] = resolved
    return {**template, "inputs": inputs}


def _source_of(artifact: Mapping[str, Any], repository: LocalRepository,
               given: Mapping[str, Path]) -> tuple[Path | None, str | None]:
    """(local source, None), or (None, why it is missing), or (None, None) if none given.

    A `from:` names an artifact of the repository or a workflow argument given as a local
    file (`given`)."""
    if artifact.get(LOCAL_SOURCE):
        local = Path(str(artifact[LOCAL_SOURCE]))
        # Only this runner sets it: a manifest cannot name a file of this machine with it.
        if local in given.values() or repository.holds(local):
            return _sub_path(local, artifact)
    if "from" in artifact:
        text = str(artifact.get("from") or "")
        tag = re.search(r"\{\{\s*(.*?)\s*\}\}", text)
        if tag:
            return None, unresolved_reason(tag.group(1))
        path = Path(text)
        if not repository.holds(path) and path not in given.values():
            return None, (f"from {text!r} does not name an artifact (give "
                          "\"{{tasks.X.outputs.artifacts.Y}}\" or "
                          "\"{{steps.X.outputs.artifacts.Y}}\")")
        return _sub_path(path, artifact)
    raw = artifact.get("raw")
    if isinstance(raw, Mapping):
        return _sub_path(repository.raw(str(raw.get("data", ""))), artifact)
    location = location_of(artifact)
    key = key_of(artifact, location) if location else None
    if key is not None:
        path = repository.key_path(key)
        if not path.exists():
            return None, (f"key {key!r} is not in the local artifact repository "
                          f"({repository.root / 'keys'}): no task of this run stored it")
        return _sub_path(path, artifact)
    return None, None


def _sub_path(path: Path, artifact: Mapping[str, Any]) -> tuple[Path | None, str | None]:
    sub = str(artifact.get("subPath") or "").strip("/")
    if not sub:
        return path, None
    inner = Path(os.path.normpath(path / sub))
    if (path.parent / STUB_MARKER).exists():
        return path, None  # a stub's placeholder has no parts: it stands for each
    if path not in inner.parents or not inner.exists():
        return None, f"subPath {sub!r} is not in the artifact"
    return inner, None


def unresolved_reason(tag: str) -> str:
    """Why a `{{tag}}` naming an artifact did not resolve, with a hint for loops."""
    reason = f"failed to resolve {{{{{tag}}}}}"
    if re.match(r"(tasks|steps)\.[^.]+\.outputs\.artifacts\.", tag):
        # Argo aggregates a loop's parameters and results, never its artifacts.
        reason += (" (a task or step with a loop has no outputs.artifacts: store each "
                   "iteration's output under a key, s3: {key: ...}, and read the key's "
                   "directory)")
    return reason


# ---------------------------------------------------------------------------- outputs

def root_call(template: str, spec: Mapping[str, Any], given: Mapping[str, Path]
              ) -> dict[str, Any]:
    """The call of the entrypoint: the workflow's `arguments.artifacts`, those given as
    local files (`run_locally(artifacts=)`) replaced or added."""
    supplied = {name: {"name": name, LOCAL_SOURCE: str(path)} for name, path in given.items()}
    declared = [supplied.pop(str(a.get("name")), a)
                for a in (spec.get("arguments") or {}).get("artifacts") or []]
    return {"template": template, "arguments": {"artifacts": [*declared, *supplied.values()]}}


def group_output_artifacts(node: Node, body: Mapping[str, Any],
                           lookup: Callable[[str], str | None]) -> str:
    """Set a DAG or steps template's output artifacts (`from:`, `fromExpression:`); ''
    or the problem."""
    for artifact in (body.get("outputs") or {}).get("artifacts") or []:
        name, text = str(artifact.get("name")), str(artifact.get("from") or "")
        tag = re.fullmatch(r"\{\{\s*(.*?)\s*\}\}", text)
        found = lookup(tag.group(1)) if tag else None
        if artifact.get("fromExpression"):
            try:
                value = evaluate(str(artifact["fromExpression"]), Variables(lookup))
            except ExprError as error:
                return f"output artifact '{name}': fromExpression: {error}"
            found = value if isinstance(value, str) else None
            tag = None
        if found:
            node.artifacts[name] = found
        elif not artifact.get("optional"):
            return f"output artifact '{name}': " + (
                unresolved_reason(tag.group(1)) if tag else "names no artifact")
    return ""


def published_artifacts(template: Mapping[str, Any], node: Node) -> dict[str, str]:
    """The `workflow.outputs.artifacts.*` a finished node of `template` publishes
    (`globalName`)."""
    outputs = (template.get("outputs") or {}).get("artifacts") or []
    return {f"workflow.outputs.artifacts.{artifact['globalName']}": node.artifacts[name]
            for artifact in outputs
            if artifact.get("globalName") and (name := str(artifact.get("name"))) in node.artifacts}
