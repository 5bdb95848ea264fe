"""Submitting a workflow to an Argo Server, following it to its end, recording provenance.

`submit_workflow` sends a Hera workflow through a `WorkflowsService` (or the Kubernetes
API's equivalent: any `workflow_paths.WorkflowsClient`) and returns its name.
`submit_recorded` does so in a way that can be re-run: each submission carries a unique
label and is recorded under `runs/unconfirmed/` before it is sent; when the reply is lost
(dropped, cut, 502, timeout, SIGTERM) the workflow is looked up by that label, and a later
run of the same workflow looks for it before submitting anything, so it is never created
twice. `follow` polls a workflow with a deadline until a final phase (Hera's own `wait()`
returns as soon as a workflow is not Running, and has no timeout), riding out an outage of
the server with backoff for as long as the deadline allows. `write_provenance` keeps what
was submitted, with which inputs, from which template and experiment commits, under
`runs/<workflow-name>/`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import requests
from hera import exceptions as hera_exceptions
from hera.workflows import Workflow
from hera.workflows import models as m

from hera_utils.errors import (
    AccessError,
    MalformedAnswerError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    UnreachableError,
    WorkflowFailedError,
)
from hera_utils.http import hera_exception_error, translate_request_error
from hera_utils.redaction import scrub_json, write_text
from hera_utils.signals import Terminated
from hera_utils.workflow_paths import WorkflowsClient

FINAL_PHASES = frozenset({"Succeeded", "Failed", "Error"})
# etcd refuses objects over about 1.5 MiB and Argo advises staying under 1 MB; warn early.
SIZE_WARNING_BYTES = 800_000
ANSWERS_FILE = ".copier-answers.yml"
_GIT_TIMEOUT = 10.0
# The label that makes a submission findable when its reply is lost (a valid label key:
# DNS-subdomain prefix, name part; the value is a uuid4 in hex, 32 characters).
SUBMISSION_LABEL = "hera-utils/submission"
UNCONFIRMED_DIR = "unconfirmed"  # runs/unconfirmed/<fingerprint>-<id>/: sent, not confirmed
MAX_POLL_BACKOFF = 60.0  # seconds between two polls of a server that does not answer

T = TypeVar("T")


@dataclass(frozen=True)
class WorkflowState:
    """What one poll saw: the phase, the node progress (`done/total`) and any message."""

    phase: str
    progress: str = ""
    message: str = ""

    @property
    def final(self) -> bool:
        """Whether the workflow has ended."""
        return self.phase in FINAL_PHASES

    def __str__(self) -> str:
        return " ".join(part for part in (self.phase, self.progress) if part)


def size_warning(rendered_yaml: str) -> str | None:
    """A warning when a rendered workflow nears the 1 MB an Argo workflow object may take."""
    size = len(rendered_yaml.encode("utf-8"))
    if size < SIZE_WARNING_BYTES:
        return None
    return (
        f"the rendered workflow is {size / 1_000_000:.2f} MB, near the 1 MB limit of a "
        "workflow object: pass large data through the volume, or fan out with "
        "withItems/withParam rather than one task per parameter"
    )


def submit_workflow(
    service: WorkflowsClient, workflow: Workflow, namespace: str, *, timeout: float
) -> str:
    """Create `workflow` in `namespace` through `service`; return the name the server gave it.

    `timeout` is the session's bound on each request, used in the error message.
    """
    return _create(service, _built(workflow), namespace, timeout=timeout)[0]


def _built(workflow: Workflow) -> m.Workflow:
    built = workflow.build()
    if not isinstance(built, m.Workflow):  # a WorkflowTemplate or CronWorkflow subclass
        raise TypeError(f"expected a Workflow to submit, not a {type(built).__name__}")
    return built


def _create(
    service: WorkflowsClient, built: m.Workflow, namespace: str, *, timeout: float
) -> tuple[str, bool]:
    """Create `built`; return its name. On failure, the error says whether it was sent."""
    sent = True

    def attempt() -> m.Workflow:
        nonlocal sent
        try:
            return service.create_workflow(
                m.WorkflowCreateRequest(workflow=built), namespace=namespace
            )
        except requests.RequestException as error:
            sent = _request_was_sent(error)
            raise

    try:
        created = call_server(attempt, service.host or "", timeout=timeout, namespace=namespace)
    except AccessError as error:
        error.request_sent = sent
        raise
    name = created.metadata.name if created.metadata is not None else None
    if not name:
        raise MalformedAnswerError(
            f"the Argo Server at {service.host} accepted the workflow but returned no name",
            setting="argo_server",
            url=service.host or "",
        )
    return name, sent


def _request_was_sent(error: requests.RequestException) -> bool:
    """False when the connection never got as far as sending (refused, DNS, TLS, connect
    timeout): then the server cannot have acted on the request."""
    if isinstance(error, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return False
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ in ("NewConnectionError", "NameResolutionError"):
            return False
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException) and id(reason) not in seen:
            current = reason
            continue
        args = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        current = args[0] if args else current.__cause__ or current.__context__
    return True


@dataclass(frozen=True)
class Submitted:
    """A submission the Argo Server holds: its name and where it is recorded."""

    name: str
    provenance: Path  # runs/<name>/provenance.json
    reply_lost: bool = False  # created, although its reply never came
    resumed: bool = False  # found from an earlier run, not submitted again


def submit_recorded(
    service: WorkflowsClient,
    workflow: Workflow,
    namespace: str,
    *,
    timeout: float,
    runs_dir: Path,
    rendered_yaml: str,
    inputs: Any,
    project_dir: Path,
    record: dict[str, Any],
    ui_url: Callable[[str], str],
    say: Callable[[str], None] = lambda message: None,
) -> Submitted:
    """Submit `workflow` so that no reply lost on the way can cause a duplicate.

    The submission is recorded under `runs/unconfirmed/` and labelled before it is sent.
    When the answer does not arrive (or is not a workflow), the workflow is looked up by
    its label: found, it is recorded as usual under `runs/<name>/`; not found (or the
    server cannot be asked), the error says so and the record stays, so that the next run
    of the same workflow looks for it first instead of submitting it again. `say` receives
    what the user should know as it happens. Raises `AccessError` (or `Terminated`).
    """
    built = _built(workflow)
    fingerprint = _fingerprint(built, namespace, service.host or "")
    unconfirmed = runs_dir / UNCONFIRMED_DIR
    earlier = _earlier_attempt(unconfirmed, fingerprint)
    if earlier is not None:
        attempt_dir, submission = earlier
        say(
            f"an earlier submission of this workflow got no answer; looking for it "
            f"({SUBMISSION_LABEL}={submission})"
        )
        name = find_submission(service, namespace, submission, timeout=timeout)
        if name is not None:
            say(f"it exists: workflow {name}; not submitting it again")
            return _confirm(
                attempt_dir, runs_dir, name, ui_url, reply_lost=True, resumed=True
            )
        say("it was never created: submitting it now")
        _update_attempt(attempt_dir, state="sending", pid=os.getpid())
    else:
        submission = uuid.uuid4().hex
        attempt_dir = unconfirmed / f"{fingerprint[:16]}-{submission[:12]}"
        write_provenance(
            attempt_dir,
            rendered_yaml=rendered_yaml,
            inputs=inputs,
            project_dir=project_dir,
            record={
                **record,
                "phase": "Unconfirmed",
                "submission": submission,
                "fingerprint": fingerprint,
                "state": "sending",
                "pid": os.getpid(),
            },
        )
    built.metadata.labels = {**(built.metadata.labels or {}), SUBMISSION_LABEL: submission}
    try:
        name, _ = _create(service, built, namespace, timeout=timeout)
    except AccessError as error:
        if not error.request_sent or _refused(error):
            shutil.rmtree(attempt_dir, ignore_errors=True)  # certainly not created
            with contextlib.suppress(OSError):
                attempt_dir.parent.rmdir()
            raise
        return _after_lost_reply(
            error, service, namespace, submission, attempt_dir, runs_dir, ui_url, say, timeout
        )
    except Terminated as stop:
        _update_attempt(attempt_dir, state="reply-lost", pid=None)
        raise Terminated(
            stop.signum,
            detail="while the workflow was being submitted: it may exist; run submit again "
            "to find it (it will not be submitted twice)",
        ) from stop
    return _confirm(attempt_dir, runs_dir, name, ui_url)


def find_submission(
    service: WorkflowsClient, namespace: str, submission: str, *, timeout: float
) -> str | None:
    """The name of the workflow labelled with `submission`, or None if there is none."""
    listed = call_server(
        lambda: service.list_workflows(
            namespace=namespace, label_selector=f"{SUBMISSION_LABEL}={submission}"
        ),
        service.host or "",
        timeout=timeout,
        namespace=namespace,
    )
    names = sorted(
        item.metadata.name for item in listed.items or [] if item.metadata and item.metadata.name
    )
    return names[0] if names else None


def _refused(error: AccessError) -> bool:
    """An answer that says the server did not create the workflow (any 4xx)."""
    return error.status is not None and 400 <= error.status < 500


def _after_lost_reply(
    error: AccessError,
    service: WorkflowsClient,
    namespace: str,
    submission: str,
    attempt_dir: Path,
    runs_dir: Path,
    ui_url: Callable[[str], str],
    say: Callable[[str], None],
    timeout: float,
) -> Submitted:
    _update_attempt(attempt_dir, state="reply-lost", pid=None)
    say(
        f"no usable answer to the submission ({error.message}); looking the workflow up "
        f"by its label {SUBMISSION_LABEL}={submission}"
    )
    again = "run submit again: it looks for this submission first and does not submit it twice"
    try:
        name = find_submission(service, namespace, submission, timeout=timeout)
    except AccessError as lookup:
        raise _restated(
            error,
            f"the workflow may or may not have been created ({error.message}), and looking "
            f"it up failed too ({lookup.message})",
            hint=f"once the Argo Server answers, {again}; recorded in {attempt_dir}",
        ) from lookup
    if name is None:
        raise _restated(
            error,
            f"the workflow was not created ({error.message}; no workflow carries its label)",
            hint=again,
        )
    say(f"the workflow was created nevertheless: {name}")
    return _confirm(attempt_dir, runs_dir, name, ui_url, reply_lost=True)


def _restated(error: AccessError, message: str, *, hint: str) -> AccessError:
    """An error of the same class (same exit code) with a new message and hint."""
    return type(error)(
        message, hint=hint, setting=error.setting, status=error.status, url=error.url
    )


def _confirm(
    attempt_dir: Path,
    runs_dir: Path,
    name: str,
    ui_url: Callable[[str], str],
    *,
    reply_lost: bool = False,
    resumed: bool = False,
) -> Submitted:
    """Move an attempt's record to `runs/<name>/` and complete it."""
    final = runs_dir / name
    if final.exists():  # already recorded (should not happen): keep both
        final = runs_dir / f"{name}-{attempt_dir.name}"
    os.replace(attempt_dir, final)
    with contextlib.suppress(OSError):  # runs/ shows only runs when nothing is unconfirmed
        attempt_dir.parent.rmdir()
    provenance = final / "provenance.json"
    document = json.loads(provenance.read_text(encoding="utf-8"))
    for transient in ("state", "pid", "fingerprint"):
        document.pop(transient, None)
    document.update(workflow=name, ui_url=ui_url(name), phase="Submitted")
    if reply_lost:
        document["reply_lost"] = True
    _write_json(provenance, document)
    return Submitted(name, provenance, reply_lost=reply_lost, resumed=resumed)


def _fingerprint(built: m.Workflow, namespace: str, host: str) -> str:
    """What makes two submissions the same: the workflow, its namespace and its server."""
    body = json.loads(built.json(exclude_none=True, by_alias=True))
    text = json.dumps({"workflow": body, "namespace": namespace, "host": host}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _earlier_attempt(unconfirmed: Path, fingerprint: str) -> tuple[Path, str] | None:
    """An unconfirmed submission of the same workflow whose reply was lost, if any.

    One still being sent by a live process (a concurrent submit) is left alone.
    """
    if not unconfirmed.is_dir():
        return None
    for attempt_dir in sorted(unconfirmed.glob(f"{fingerprint[:16]}-*")):
        try:
            document = json.loads((attempt_dir / "provenance.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if document.get("fingerprint") != fingerprint or not document.get("submission"):
            continue
        state, pid = document.get("state"), document.get("pid")
        if state == "reply-lost" or (state == "sending" and not _alive(pid)):
            return attempt_dir, str(document["submission"])
    return None


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _update_attempt(attempt_dir: Path, **fields: Any) -> None:
    path = attempt_dir / "provenance.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    document.update(fields)
    _write_json(path, document)


def follow(
    service: WorkflowsClient,
    name: str,
    namespace: str,
    *,
    timeout: float,
    request_timeout: float,
    poll_interval: float = 5.0,
    report: Callable[[WorkflowState], None] = lambda state: None,
    notice: Callable[[str], None] = lambda message: None,
    watch: Callable[[dict[str, Any]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkflowState:
    """Poll the workflow until it reaches a final phase; return its last state.

    `report` is called each time the phase or progress changes; `notice` with what is seen
    of the server (not answering, answering again); `watch` with every polled workflow, as
    the Argo Server's JSON (to look at its nodes). While the server does not answer (or
    answers 5xx), polls go on with backoff (up to `MAX_POLL_BACKOFF` s apart) for as long as
    `timeout` allows; then the last such error is raised, restated. `request_timeout` is
    the session's bound on each request (for error messages). Raises `WorkflowFailedError`
    when the workflow is deleted, or when `timeout` seconds pass while it runs: it goes on
    on the cluster, only the wait ends.
    """
    deadline = clock() + timeout
    last: WorkflowState | None = None
    failures = 0
    outage_error: AccessError | None = None
    while True:
        try:
            workflow = call_server(
                lambda: service.get_workflow(name, namespace=namespace),
                service.host or "",
                timeout=request_timeout,
                namespace=namespace,
            )
        except NotFoundError as error:
            seen = last.phase if last else "Pending"
            raise WorkflowFailedError(
                f"workflow {name} was deleted while it was followed (last phase: {seen})",
                hint="someone deleted it (argo delete, the UI) or a TTL/garbage collection "
                "removed it; what was submitted stays recorded under runs/",
            ) from error
        except MalformedAnswerError:
            raise
        except (UnreachableError, RequestTimeoutError, ServerError) as error:
            failures += 1
            outage_error = error
            delay = min(poll_interval * 2 ** (failures - 1), MAX_POLL_BACKOFF)
            remaining = deadline - clock()
            if remaining <= 0:
                raise _restated(
                    error,
                    f"stopped waiting for workflow {name} after {timeout:g} s: {error.message} "
                    f"({failures} polls in a row failed)",
                    hint="the workflow goes on on the cluster; follow it in the Argo UI, or "
                    "raise --wait-timeout",
                ) from error
            delay = min(delay, remaining)
            said = " ".join(error.message.split())
            notice(f"no answer from the Argo Server ({said}); next try in {delay:.3g} s")
            sleep(delay)
            continue
        if outage_error is not None:
            notice(f"the Argo Server answers again (after {failures} failed polls)")
            failures, outage_error = 0, None
        state = workflow_state(workflow)
        if watch is not None:
            watch(workflow.model_dump(by_alias=True, exclude_none=True, mode="json"))
        if state != last:
            report(state)
            last = state
        if state.final:
            return state
        if clock() + poll_interval > deadline:
            seen = last.phase if last else "unknown"
            raise WorkflowFailedError(
                f"workflow {name} did not finish within {timeout:g} s (last phase: {seen})",
                hint="it goes on on the cluster; follow it in the Argo UI",
            )
        sleep(poll_interval)


def workflow_state(workflow: m.Workflow) -> WorkflowState:
    """The phase and node progress of a workflow as the Argo Server returned it."""
    status = workflow.status
    if status is None:
        return WorkflowState("Pending")
    progress = status.progress or _progress_from_nodes(status.nodes or {})
    return WorkflowState(status.phase or "Pending", progress or "", status.message or "")


def _progress_from_nodes(nodes: dict[str, m.NodeStatus]) -> str:
    """`done/total` over the pod nodes, as Argo computes `status.progress`."""
    pods = [node for node in nodes.values() if node.type == "Pod"]
    if not pods:
        return ""
    done = sum(1 for node in pods if node.phase in FINAL_PHASES | {"Skipped", "Omitted"})
    return f"{done}/{len(pods)}"


def call_server(request: Callable[[], T], url: str, *, timeout: float, namespace: str = "") -> T:
    """Run one request of a Hera service, turning its failures into hera_utils errors."""
    try:
        return request()
    except hera_exceptions.HeraException as error:
        raise hera_exception_error(
            error, what="the Argo Server", url=url, namespace=namespace
        ) from error
    except (ValueError, TypeError) as error:
        # A 200 whose body is not JSON (requests' JSONDecodeError is a ValueError), or is
        # JSON of another shape (Hera's models raise ValidationError, a ValueError).
        what = "something that is not JSON" if isinstance(error, json.JSONDecodeError) else (
            "JSON that is not what its API returns"
        )
        raise MalformedAnswerError(
            f"the Argo Server at {url} answered with {what}",
            hint="argo_server (or argo_base_href) may point at another service, such as a "
            "proxy or a login page; check the address",
            setting="argo_server",
            url=url,
        ) from error
    except requests.RequestException as error:
        raise translate_request_error(
            error, url=url, what="the Argo Server", setting="argo_server", timeout=timeout
        ) from error


def write_provenance(
    run_dir: Path,
    *,
    rendered_yaml: str,
    inputs: Any,
    project_dir: Path,
    record: dict[str, Any],
) -> Path:
    """Write `workflow.yaml`, `inputs.json` and `provenance.json` into `run_dir`.

    `provenance.json` holds `record` (what was submitted where) plus the template version
    the experiment was generated from (`.copier-answers.yml`) and the experiment's git
    commit, when there is one. Returns the path of `provenance.json`.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "workflow.yaml", rendered_yaml)
    _write_json(run_dir / "inputs.json", describe_inputs(inputs))
    provenance = {
        **record,
        "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "template": template_version(project_dir),
        "experiment": git_revision(project_dir),
        "python": sys.version.split()[0],
    }
    path = run_dir / "provenance.json"
    _write_json(path, provenance)
    return path


def update_provenance(path: Path, **fields: Any) -> None:
    """Add or replace fields of a `provenance.json` (e.g. the final phase after a wait)."""
    provenance = json.loads(path.read_text(encoding="utf-8"))
    provenance.update(fields)
    _write_json(path, provenance)


def _write_json(path: Path, value: Any) -> None:
    # Through JSON first, so that `default=str` values are scrubbed too.
    plain = json.loads(json.dumps(value, default=str))
    write_text(path, json.dumps(scrub_json(plain), indent=2) + "\n")


def describe_inputs(inputs: Any) -> Any:
    """A JSON-ready view of an experiment's inputs (a module, dataclasses, plain values)."""
    if isinstance(inputs, ModuleType):
        return {
            name: describe_inputs(value)
            for name, value in vars(inputs).items()
            if not name.startswith("_")
            and not isinstance(value, (ModuleType, type))
            and not callable(value)
        }
    if dataclasses.is_dataclass(inputs) and not isinstance(inputs, type):
        return {
            field.name: describe_inputs(getattr(inputs, field.name))
            for field in dataclasses.fields(inputs)
        }
    if isinstance(inputs, dict):
        return {str(key): describe_inputs(value) for key, value in inputs.items()}
    if isinstance(inputs, (list, tuple, set, frozenset)):
        return [describe_inputs(value) for value in inputs]
    return inputs


def template_version(project_dir: Path) -> dict[str, str | None]:
    """The template source and commit recorded by Copier in `.copier-answers.yml`."""
    answers_path = project_dir / ANSWERS_FILE
    import yaml  # loaded only when a provenance record is written

    try:
        answers = yaml.safe_load(answers_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {"src_path": None, "commit": None}
    return {"src_path": answers.get("_src_path"), "commit": answers.get("_commit")}


def git_revision(project_dir: Path) -> dict[str, Any]:
    """The experiment's git commit and whether its work tree had changes (None outside git)."""
    commit = _git(project_dir, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git(project_dir, "status", "--porcelain")
    return {"commit": commit, "dirty": bool(status)}


def _git(directory: Path, *arguments: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *arguments],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None
