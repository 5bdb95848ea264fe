"""Reading a workflow in any of the forms a user has: Hera object, model, dict or YAML file.

Everything becomes the Argo manifest as a plain dict (camelCase keys, as `argo submit`
would send it), so that the runner interprets what Argo would see, not the Python objects.
A YAML file may hold several documents: WorkflowTemplates beside the Workflow serve to
resolve its `templateRef`s. Hera and PyYAML are imported only when needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hera_utils.errors import ConfigurationError

from .limits import MAX_WORKFLOW_FILE_BYTES, LimitError, expanded_size, read_bounded
from .shape import shape_problems

__all__ = ["LoadedWorkflow", "load_workflow"]

_RUNNABLE_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate")


@dataclass
class LoadedWorkflow:
    """The manifest to run and the WorkflowTemplates available to its `templateRef`s."""

    manifest: dict[str, Any]
    library: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: str = "workflow"


def load_workflow(source: Any,
                  templates: list[Any] | None = None) -> LoadedWorkflow:
    """Turn `source` into a `LoadedWorkflow`.

    `source` is a Hera `Workflow` (anything with `build()`), a built model (anything with
    `model_dump()`/`dict()`), a dict, or the path of a YAML/JSON file. `templates` adds
    WorkflowTemplates (same forms) for `templateRef`. Raises `ConfigurationError` when the
    source cannot be read or holds no workflow.
    """
    documents, origin = _documents(source)
    for extra in templates or []:
        documents.extend(_documents(extra)[0])
    documents = [_from_cron(doc) for doc in documents]
    runnable = [doc for doc in documents if isinstance(doc, dict)
                and doc.get("kind", "Workflow") in _RUNNABLE_KINDS and "spec" in doc]
    workflows = [doc for doc in runnable if doc.get("kind", "Workflow") == "Workflow"]
    if not runnable:
        raise ConfigurationError(
            f"{origin} holds no Argo Workflow (a document with kind: Workflow and a spec)",
            hint="render the workflow first, e.g. `python main.py render -o workflow.yaml`",
        )
    manifest = workflows[0] if workflows else runnable[0]
    _check_shapes(runnable, origin)
    library = {}
    for doc in runnable:
        if doc is manifest or doc.get("kind") == "Workflow":
            continue
        name = (doc.get("metadata") or {}).get("name")
        if name:
            library[name] = doc
    return LoadedWorkflow(manifest=manifest, library=library, origin=origin)


def _from_cron(document: Any) -> Any:
    """The Workflow a CronWorkflow starts: its `workflowSpec`, named after it (as the
    controller names the workflows it creates, with a suffix)."""
    if not isinstance(document, dict) or document.get("kind") != "CronWorkflow":
        return document
    spec: dict[str, Any] = document["spec"] if isinstance(document.get("spec"), dict) else {}
    workflow_spec = spec.get("workflowSpec")
    if not isinstance(workflow_spec, dict):
        raise ConfigurationError("the CronWorkflow has no spec.workflowSpec to run",
                                 hint="a CronWorkflow's spec.workflowSpec holds the workflow")
    name = str((document.get("metadata") or {}).get("name") or "cron")
    metadata = dict(spec.get("workflowMetadata") or {})
    metadata.setdefault("generateName", f"{name}-")
    return {"apiVersion": document.get("apiVersion", "argoproj.io/v1alpha1"),
            "kind": "Workflow", "metadata": metadata, "spec": workflow_spec}


def _check_shapes(documents: list[dict[str, Any]], origin: str) -> None:
    problems = [problem for doc in documents for problem in shape_problems(doc)]
    if problems:
        raise ConfigurationError(
            f"{origin} is not shaped like an Argo workflow: " + "; ".join(problems[:5]),
            hint="compare it with the Argo field reference, or render it with Hera")


def _documents(source: Any) -> tuple[list[Any], str]:
    if isinstance(source, dict):
        _check_size(source, "the workflow")
        return [_plain(source)], "the workflow"
    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source)), str(source)
    if hasattr(source, "build") and callable(source.build):
        # A Hera Workflow/WorkflowTemplate: what Argo receives is its built model.
        built = source.build()
        name = getattr(source, "name", None) or getattr(source, "generate_name", None)
        return [_model_to_dict(built)], f"workflow {name or ''}".strip()
    if hasattr(source, "model_dump") or hasattr(source, "dict"):
        return [_model_to_dict(source)], "the workflow model"
    raise ConfigurationError(
        f"cannot run a {type(source).__name__}: give a Hera Workflow, a dict or a YAML file path"
    )


def _model_to_dict(model: Any) -> dict[str, Any]:
    if hasattr(model, "model_dump"):
        data = model.model_dump(exclude_none=True, by_alias=True, mode="json")
    else:  # pydantic v1 models
        data = json.loads(model.json(exclude_none=True, by_alias=True))
    plain: dict[str, Any] = _plain(data)
    return plain


def _plain(data: Any) -> Any:
    """A deep copy made of plain JSON types (the runner never mutates the caller's dict)."""
    return json.loads(json.dumps(data, default=str))


def _check_size(document: Any, origin: str) -> None:
    try:
        expanded_size(document)
    except LimitError as error:
        raise ConfigurationError(f"{origin} {error}",
                                 hint="write the values out instead of repeating aliases"
                                 ) from error


def _read_file(path: Path) -> list[Any]:
    text = _read_text(path)
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            documents = data if isinstance(data, list) else [data]
        else:
            documents = _yaml_documents(text, path)
    except RecursionError as error:  # nesting deeper than the parser's stack
        raise ConfigurationError(f"{path} nests its values too deeply to be a workflow"
                                 ) from error
    except ValueError as error:
        raise ConfigurationError(f"{path} is not valid JSON: {error}") from error
    for document in documents:
        _check_size(document, str(path))
    return documents


def _read_text(path: Path) -> str:
    try:
        data = read_bounded(path, MAX_WORKFLOW_FILE_BYTES)
    except FileNotFoundError:
        raise ConfigurationError(f"workflow file {path} does not exist") from None
    except LimitError as error:
        raise ConfigurationError(f"workflow file {error}: no workflow is that large",
                                 hint="give the rendered workflow file") from error
    except OSError as error:
        raise ConfigurationError(f"cannot read workflow file {path}: {error.strerror}"
                                 ) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigurationError(
            f"workflow file {path} is not UTF-8 text (byte {error.start} is not)",
            hint="save it as UTF-8") from error


def _yaml_documents(text: str, path: Path) -> list[Any]:
    import yaml  # only YAML input needs it

    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{path} is not valid YAML: {error}") from error
