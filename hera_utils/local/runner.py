"""`run_locally`: run an Argo workflow on this machine and record how it went.

The workflow is read (`loader`), checked (`validate`), run (`operator`) on a fresh asyncio loop
that owns Ctrl-C for the duration of the run, then summarised (`summary`).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hera_utils.errors import ConfigurationError

from .loader import load_workflow
from .model import WorkflowModel
from .nodes import SUCCEEDED, utc_now
from .progress import PROGRESS_MODES, make_progress, shown_path
from .reuse import read_reusable
from .run_dirs import claim_run_dir
from .summary import LocalRunResult, task_entries, write_summary
from .values import format_value

if TYPE_CHECKING:
    from .context import RunOptions
    from .operator import WorkflowOperator

__all__ = ["SCRIPT_RUNTIMES", "run_locally"]

# Where script tasks run: on this machine, or in their template's image.
SCRIPT_RUNTIMES = ("host", "container")


def run_locally(
    workflow: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    runs_dir: str | os.PathLike[str] = "runs",
    parallelism: int | None = None,
    stub_containers: bool = False,
    volume_dir: str | os.PathLike[str] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    progress: str = "auto",
    container_runtime: str | None = None,
    templates: Sequence[Any] = (),
    reuse: str | os.PathLike[str] | None = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    resume_with: Mapping[str, Any] | None = None,
    script_runtime: str = "host",
) -> LocalRunResult:
    """Run `workflow` here, as Argo would, and write `runs_dir/<name>/summary.json`.

    `workflow` is a Hera `Workflow`, a built model, a dict, or the path of a rendered YAML
    file (which may also hold the WorkflowTemplates its `templateRef`s use; `templates`
    can give more). `parameters` override the workflow's arguments. At most `parallelism`
    task processes run at once (default: the CPUs, or the workflow's own `parallelism`).
    Script tasks have `work_dir` (default: the current directory) on `PYTHONPATH`, their
    own working directory and HOME under the run and the run's own Python environment
    (`pip` installs stay there); `script_runtime="container"` runs them in their image.
    Container tasks need docker or podman (`container_runtime`: name or path; "none"
    disables them), unless `stub_containers` marks them done without running them. `volume_dir`, if
    given, is created and passed to tasks as `HERA_UTILS_VOLUME_DIR`. `progress` is
    `auto`, `live`, `plain` or `quiet`. `reuse` names an earlier run's directory: its
    tasks that succeeded (same node path and inputs) keep their outputs and are not run.
    `artifacts` gives workflow `arguments.artifacts` as local files or directories, by name;
    `resume_with` the outputs of suspend nodes, which do not wait (as `argo resume` does).

    Returns a `LocalRunResult`; a failed run is not an exception (`succeeded` is False).
    Raises `ConfigurationError` before anything runs if the workflow or the options cannot
    be used, naming the template and the feature.
    """
    # Loaded only when a run starts: importing this package stays cheap.
    from .operator import WorkflowOperator
    from .validate import validate_workflow

    _check_choices(progress=progress, script_runtime=script_runtime)
    workers = _parallelism(parallelism)
    reusable = read_reusable(reuse) if reuse is not None else {}
    model = WorkflowModel(load_workflow(workflow, list(templates)), parameters)
    validate_workflow(model, artifacts=(given := _given_artifacts(artifacts or {})))
    name = _run_name(model)
    workers = min(workers, _positive(model.spec.get("parallelism")) or workers)
    run_dir, claim = claim_run_dir(Path(runs_dir).resolve(), name)
    try:
        options = _run_options(model, run_dir, workers, work_dir=work_dir,
                               volume_dir=volume_dir, stub_containers=stub_containers,
                               container_runtime=container_runtime,
                               script_runtime=script_runtime)
        options = _given(options, given, resume_with, reusable, reuse)
        return _run(WorkflowOperator(model, name, options, make_progress(progress)))
    finally:
        claim.close()


def _given(options: RunOptions, artifacts: Mapping[str, Path],
           resume_with: Mapping[str, Any] | None, reusable: Mapping[str, Any],
           reuse: str | os.PathLike[str] | None) -> RunOptions:
    """`options` with what the caller gives the run: artifacts, resume values, reuse."""
    options = replace(options, artifacts=artifacts, resume_with={
        str(key): format_value(value) for key, value in (resume_with or {}).items()})
    if reuse is not None:
        options = replace(options, reusable=reusable, reused_from=Path(reuse))
    return options


def _run(operator: WorkflowOperator) -> LocalRunResult:
    """Announce the run, drive it to its end and record it."""
    reporter, options, name = operator.progress, operator.options, operator.name
    reporter.begin(name, shown_path(options.run_dir))
    if options.run_dir.name != name:
        busy = shown_path(options.run_dir.parent / name)
        reporter.notice(f"another local run of {name} is using {busy}; this one writes "
                        f"to {shown_path(options.run_dir)}")
    for notice in operator.model.notices:
        reporter.notice(notice)
    if options.runtime_problem:
        reporter.notice(f"container tasks cannot run here: {options.runtime_problem}")
    phase, message = _drive(operator)
    return _record(operator, phase, message)


def _check_choices(**given: str) -> None:
    """Refuse an option given a value outside its choices."""
    choices = {"progress": PROGRESS_MODES, "script_runtime": SCRIPT_RUNTIMES}
    for setting, value in given.items():
        if value not in choices[setting]:
            raise ConfigurationError(f"{setting} must be one of "
                                     f"{', '.join(choices[setting])}, not {value!r}",
                                     setting=setting)


def _run_options(model: WorkflowModel, run_dir: Path, workers: int, *,
                 work_dir: str | os.PathLike[str] | None,
                 volume_dir: str | os.PathLike[str] | None, stub_containers: bool,
                 container_runtime: str | None, script_runtime: str) -> RunOptions:
    """Check the directories and find the container runtime; prepare the run directory."""
    from .context import RunOptions
    from .runtimes import find_container_runtime
    from .validate import uses_containers, uses_kind

    work = Path(work_dir).resolve() if work_dir is not None else Path.cwd()
    if not work.is_dir():
        raise ConfigurationError(f"work_dir {work} is not a directory", setting="work_dir")
    volume = Path(volume_dir).resolve() if volume_dir is not None else None
    runtime, runtime_problem = None, ""
    in_containers = (uses_containers(model) and not stub_containers) or (
        script_runtime == "container" and uses_kind(model, "script"))
    if in_containers:
        runtime, runtime_problem = find_container_runtime(container_runtime)
    _prepare_run_dir(run_dir)
    if volume is not None:
        volume.mkdir(parents=True, exist_ok=True)
    return RunOptions(run_dir=run_dir, parallelism=workers, work_dir=work, volume_dir=volume,
                      stub_containers=stub_containers, script_runtime=script_runtime,
                      runtime=runtime,
                      runtime_problem=runtime_problem)


def _record(operator: WorkflowOperator, phase: str, message: str) -> LocalRunResult:
    """Write summary.json, tell the user how the run ended, and return its result."""
    options, name = operator.options, operator.name
    # A stop that cancelled a group while it cleaned up can leave its node unfinished; the
    # run is over, so every node is: finished as stopped, none stays Running.
    for node in operator.nodes:
        operator.stopped(node)
    tasks = task_entries(operator.nodes, operator.root, options.run_dir)
    summary_path = options.run_dir / "summary.json"
    write_summary(summary_path, workflow=name, phase=phase, started_at=operator.started_at,
                  finished_at=utc_now(), message=message, tasks=tasks, extra={
                      "parameters": dict(operator.model.parameters),
                      "parallelism": options.parallelism,
                      "work_dir": str(options.work_dir),
                      "container_runtime": options.runtime.name if options.runtime else None,
                      "stub_containers": options.stub_containers,
                      "script_runtime": options.script_runtime,
                  })
    operator.progress.end(name, phase, message, shown_path(summary_path))
    return LocalRunResult(name=name, phase=phase, succeeded=phase == SUCCEEDED, tasks=tasks,
                          run_dir=options.run_dir, summary_path=summary_path, message=message,
                          interrupted=operator.interrupted)


def _given_artifacts(artifacts: Mapping[str, str | os.PathLike[str]]) -> dict[str, Path]:
    """The workflow's artifact arguments given as local paths, each checked to exist."""
    given = {}
    for name, path in artifacts.items():
        local = Path(path).resolve()
        if not local.exists():
            raise ConfigurationError(f"artifact {name!r}: {local} does not exist",
                                     setting="artifacts",
                                     hint="give an existing file or directory")
        given[str(name)] = local
    return given


def _run_name(model: WorkflowModel) -> str:
    """The workflow's name, held to the Kubernetes rule Argo applies to it."""
    import argparse

    from hera_utils.validation import dns1123_subdomain

    name = model.generate_name()
    try:
        if name and dns1123_subdomain(name) == name:
            return name
    except argparse.ArgumentTypeError as error:
        raise ConfigurationError(f"the workflow name: {error}", setting="metadata.name",
                                 hint="name it like a Kubernetes object") from error
    raise ConfigurationError(f"the workflow name {name!r} cannot name a run directory",
                             setting="metadata.name", hint="name it like a Kubernetes object")


def _parallelism(value: int | None) -> int:
    if value is None:
        return os.cpu_count() or 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"parallelism must be a positive integer, not {value!r}",
                                 setting="parallelism")
    return value


def _positive(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _prepare_run_dir(run_dir: Path) -> None:
    """Create the run directory; clear what an earlier run of the same name left in it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for entry in run_dir.iterdir():
        if entry.is_dir() and entry.name in ("scripts", "outputs", "artifacts", "fs"):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and (entry.suffix in (".log", ".tmp")
                                  or entry.name in ("summary.json", "internal-error.txt")):
            entry.unlink(missing_ok=True)


def _drive(operator: WorkflowOperator) -> tuple[str, str]:
    """Run the operator on its own event loop: here in the main thread, else in a thread."""
    import asyncio

    try:
        asyncio.get_running_loop()
        inside_loop = True  # e.g. a notebook: its loop is busy, use our own thread
    except RuntimeError:
        inside_loop = False
    if not inside_loop and threading.current_thread() is threading.main_thread():
        return _run_loop(operator, handle_signals=True)
    outcome: list[tuple[str, str]] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(_run_loop(operator, handle_signals=False))
        except BaseException as error:  # re-raised in the caller's thread
            failure.append(error)

    thread = threading.Thread(target=target, name="hera-utils-local-run")
    thread.start()
    while thread.is_alive():
        try:
            thread.join(0.2)
        except KeyboardInterrupt:  # e.g. a notebook's interrupt: stop the tasks cleanly
            operator.interrupt_threadsafe("interrupted (KeyboardInterrupt)")
    if failure:
        raise failure[0]
    return outcome[0]


def _run_loop(operator: WorkflowOperator, *, handle_signals: bool) -> tuple[str, str]:
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    previous: dict[signal.Signals, Any] = {}
    try:
        if handle_signals:
            # Ctrl-C (or a SIGTERM or SIGHUP) stops the tasks cleanly instead of raising in the
            # middle of the loop; the summary is still written.
            for signum, reason in ((signal.SIGINT, "interrupted (SIGINT, Ctrl-C)"),
                                   (signal.SIGTERM, "terminated (SIGTERM)"),
                                   (signal.SIGHUP, "hung up (SIGHUP: the terminal closed)")):
                previous[signum] = signal.getsignal(signum)
                loop.add_signal_handler(signum, operator.interrupt, reason)
        return loop.run_until_complete(operator.run())
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
