"""Files of a volume claim, read from this machine through a short-lived pod.

A finished workflow pod cannot be exec'd into, so reading a claim needs a pod of our own
that mounts it (what `kubectl cp` would need too). `reading_pod` creates one — labelled,
bounded by `activeDeadlineSeconds`, its claim mounted read-only — waits until it runs,
and deletes it when the block ends, however it ends (error, Ctrl-C, SIGTERM). `pull`
streams `tar cf -` over the exec subresource (WebSocket, `v4.channel.k8s.io`) into
`safe_tar.extract_stream`, one frame at a time; `list_path` runs `ls`.
"""

from __future__ import annotations

import contextlib
import io
import json
import posixpath
import re
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .errors import (
    AccessError,
    ConfigurationError,
    ForbiddenError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    UnreachableError,
)
from .safe_tar import ExtractionSummary, extract_stream

if TYPE_CHECKING:
    from .cluster import KubernetesCluster

MOUNT_PATH = "/mnt/claim"  # where the reading pod sees the claim
POD_LABELS = {
    "app.kubernetes.io/name": "hera-utils-results",
    "app.kubernetes.io/managed-by": "hera-utils",
}
DEFAULT_POD_DEADLINE = 3600  # seconds: the pod ends by itself even if never deleted
DEFAULT_START_TIMEOUT = 120.0  # seconds to wait for the pod to run (image pull included)
_POLL_INTERVAL = 0.5
_STDERR_KEPT = 4096  # bytes of the command's stderr kept for the error message
# Reasons a container waits for that will not resolve by waiting longer.
_HOPELESS_WAITS = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
}


@dataclass(frozen=True)
class VolumeSource:
    """Which claim to read, with which image, and how long the reading pod may live."""

    claim: str
    image: str
    deadline_seconds: int = DEFAULT_POD_DEADLINE
    start_timeout: float = DEFAULT_START_TIMEOUT


@dataclass(frozen=True)
class PullSummary:
    """What `pull` copied, and the entries it refused."""

    files: int
    bytes: int
    directories: int
    links: int
    refused: tuple[str, ...]
    destination: Path

    def describe(self) -> str:
        """One line for people: counts, size and destination."""
        extra = f", {self.links} links" if self.links else ""
        files = f"{self.files} file" + ("" if self.files == 1 else "s")
        return f"copied {files} ({format_size(self.bytes)}){extra} into {self.destination}"


class UnsafeArchiveError(ServerError):
    """Entries of the archive read from the volume would have been written outside `--to`."""


def pull(
    cluster: KubernetesCluster,
    source: VolumeSource,
    path: str,
    destination: str | Path,
    *,
    progress: TextIO | None = sys.stderr,
) -> PullSummary:
    """Copy `path` (relative to the claim's root) from the claim into `destination`.

    A directory's contents land directly in `destination`, a single file as
    `destination/<its name>`. A progress line (files, bytes) goes to `progress`. Raises
    `UnsafeArchiveError` after the copy when entries were refused (nothing was written
    for them), `AccessError`s for the cluster's refusals.
    """
    relative = volume_path(path)
    parent, base = posixpath.split(relative)
    command = ["tar", "cf", "-", "-C", posixpath.join(MOUNT_PATH, parent), base or "."]
    meter = _ProgressLine(progress)
    target = Path(destination)
    with reading_pod(cluster, source) as pod, exec_output(cluster, pod, command) as output:
        try:
            extracted = extract_stream(output, target, strip=base, progress=meter.update)
        except (tarfile.TarError, EOFError) as error:
            # tar failing (a missing path) sends no archive at all: its status says why.
            output.raise_for_status(what=f"reading {relative or '/'} on {source.claim}")
            raise ServerError(
                f"the archive of {relative or '/'} sent by the pod is corrupt ({error})",
                hint="retry; if it persists, the claim's files may be changing during the copy",
            ) from error
        output.raise_for_status(what=f"reading {relative or '/'} on {source.claim}")
    meter.finish()
    summary = _summary(extracted, target)
    if summary.refused:
        raise UnsafeArchiveError(
            f"{len(summary.refused)} entries of the archive were refused, nothing written for "
            f"them: {'; '.join(summary.refused[:3])}",
            hint=f"the rest was copied into {target}; look at those names on the volume",
        )
    return summary


def list_path(cluster: KubernetesCluster, source: VolumeSource, path: str) -> str:
    """The `ls -lA` listing of `path` (relative to the claim's root), as the pod prints it."""
    relative = volume_path(path)
    command = ["ls", "-lA", posixpath.join(MOUNT_PATH, relative) if relative else MOUNT_PATH]
    with reading_pod(cluster, source) as pod, exec_output(cluster, pod, command) as output:
        listing = output.read()
        output.raise_for_status(what=f"listing {relative or '/'} on {source.claim}")
    return listing.decode("utf-8", "replace")


def volume_path(path: str) -> str:
    """`path` relative to the claim's root (POSIX), refusing `..`; '' is the root."""
    parts = [part for part in path.strip().split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ConfigurationError(
            f"the path {path!r} climbs out of the volume with '..'",
            hint="give a path relative to the volume's root, e.g. my-experiment/compute",
        )
    return "/".join(parts)


# -- the reading pod ----------------------------------------------------------------------------


@contextlib.contextmanager
def reading_pod(cluster: KubernetesCluster, source: VolumeSource) -> Iterator[str]:
    """A running pod mounting the claim at `MOUNT_PATH`; deleted when the block ends."""
    from kubernetes import client

    cluster.assert_volume_claim(source.claim)
    core = client.CoreV1Api(cluster.api_client)
    try:
        created = cluster.call(
            "a results pod", core.create_namespaced_pod, cluster.namespace, _pod_body(source)
        )
    except ForbiddenError as error:
        raise _missing_right(cluster, "create pods", error) from error
    name = str(cluster.present(created.metadata, "the pod's metadata").name)
    try:
        _wait_running(cluster, core, name, source)
        yield name
    finally:
        _delete_pod(cluster, core, name, source.deadline_seconds)


def _pod_body(source: VolumeSource) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "hera-utils-results-", "labels": dict(POD_LABELS)},
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": source.deadline_seconds,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "reader",
                    "image": source.image,
                    # Ends by itself at the deadline, should the deletion never come.
                    "command": ["sleep", str(source.deadline_seconds)],
                    "volumeMounts": [{"name": "claim", "mountPath": MOUNT_PATH, "readOnly": True}],
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                }
            ],
            "volumes": [
                {
                    "name": "claim",
                    "persistentVolumeClaim": {"claimName": source.claim, "readOnly": True},
                }
            ],
        },
    }


def _wait_running(cluster: KubernetesCluster, core: Any, name: str, source: VolumeSource) -> None:
    """Poll the pod until it runs; raise as soon as it cannot, or after `start_timeout`."""
    ends = time.monotonic() + source.start_timeout
    while True:
        pod = cluster.call(f"pod {name!r}", core.read_namespaced_pod, name, cluster.namespace)
        status = pod.status
        phase = str(status.phase or "Pending")
        if phase == "Running":
            return
        if phase in ("Failed", "Succeeded"):
            reason = status.reason or phase
            raise AccessError(
                f"the results pod {name} ended ({reason}) before it could be read",
                hint=_ended_hint(str(reason), source),
                setting="k8s_volume_claim_name",
            )
        blocked = _blocking_reason(status)
        if blocked:
            raise AccessError(
                f"the results pod {name} cannot start: {blocked}",
                hint=_start_hint(blocked, source),
                setting="k8s_volume_claim_name",
            )
        if time.monotonic() >= ends:
            raise RequestTimeoutError(
                f"the results pod {name} did not start within {source.start_timeout:g} s "
                f"(still {phase})",
                hint=f"kubectl describe pod {name} -n {cluster.namespace} tells why; "
                "raise --start-timeout if the cluster is just slow to pull the image",
            )
        time.sleep(_POLL_INTERVAL)


def _blocking_reason(status: Any) -> str:
    for condition in status.conditions or []:
        if condition.reason == "Unschedulable" and condition.status == "False":
            message = str(condition.message or "")
            if "persistentvolumeclaim" in message:
                return message
    for container in status.container_statuses or []:
        waiting = getattr(container.state, "waiting", None)
        if waiting is not None and waiting.reason in _HOPELESS_WAITS:
            return f"{waiting.reason}: {waiting.message or ''}".strip().rstrip(":")
    return ""


def _start_hint(reason: str, source: VolumeSource) -> str:
    if "persistentvolumeclaim" in reason:
        return f"check that volume claim {source.claim!r} exists (k8s_volume_claim_name)"
    if "Image" in reason:
        return (
            f"the cluster cannot pull {source.image!r}: set PYTHON_IMAGE in environment.py "
            "to an image your cluster can pull (it needs tar and ls)"
        )
    return "kubectl describe pod tells more"


def _ended_hint(reason: str, source: VolumeSource) -> str:
    if reason == "DeadlineExceeded":
        return (
            f"the pod lives at most {source.deadline_seconds} s; raise --pod-deadline for a "
            "longer copy"
        )
    return "kubectl get events tells why"


def _delete_pod(cluster: KubernetesCluster, core: Any, name: str, deadline: int) -> None:
    """Delete the pod now; say how to do it by hand if the cluster refuses."""
    from kubernetes import client

    try:
        cluster.call(
            f"pod {name!r}",
            core.delete_namespaced_pod,
            name,
            cluster.namespace,
            body=client.V1DeleteOptions(grace_period_seconds=0),
        )
    except NotFoundError:
        return  # already gone
    except AccessError as error:
        print(
            f"warning: the results pod {name} could not be deleted ({error.message}); "
            f"it ends by itself within {deadline} s, or: "
            f"kubectl delete pod {name} -n {cluster.namespace}",
            file=sys.stderr,
        )


def _missing_right(cluster: KubernetesCluster, what: str, error: AccessError) -> ForbiddenError:
    ns = cluster.namespace
    return ForbiddenError(
        f"not allowed to {what} in namespace {ns!r}: reading the volume claim needs a "
        "short-lived pod",
        hint=f"ask your cluster admin for a Role granting create, get and delete on pods and "
        f"create on pods/exec in {ns!r} (hera-utils doctor checks it)",
        setting="argo_namespace",
        status=error.status,
        url=error.url,
    )


# -- exec -----------------------------------------------------------------------------------


@contextlib.contextmanager
def exec_output(cluster: KubernetesCluster, pod: str, command: list[str]) -> Iterator[ExecOutput]:
    """The stdout of `command` run in `pod`, as a readable binary stream."""
    import websocket
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    core = client.CoreV1Api(cluster.api_client)
    # The client opens the WebSocket without a timeout of its own: bound the connection.
    previous = websocket.getdefaulttimeout()
    websocket.setdefaulttimeout(cluster.timeout)
    try:
        connection = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            cluster.namespace,
            command=command,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            binary=True,
            _preload_content=False,
        )
    except ApiException as error:
        if not str(error.reason or "").strip():
            # The client turns a Ctrl-C during the handshake into an ApiException without
            # a reason: it is still the user's interrupt.
            raise KeyboardInterrupt from error
        raise _exec_error(cluster, pod, str(error.reason)) from error
    finally:
        websocket.setdefaulttimeout(previous)
    output = ExecOutput(connection, cluster.timeout, pod)
    try:
        yield output
    finally:
        with contextlib.suppress(Exception):
            connection.close()


class ExecOutput(io.RawIOBase):
    """stdout of an exec, read one WebSocket frame at a time (memory stays constant).

    The client's own `update()` keeps a copy of everything received, so frames are read
    here from its socket; stderr is kept (its start) and the final status parsed.
    """

    def __init__(self, connection: Any, timeout: float, pod: str) -> None:
        super().__init__()
        self._socket = connection.sock
        self._socket.settimeout(timeout)
        self._timeout = timeout
        self._pod = pod
        self._pending = memoryview(b"")
        self._ended = False
        self.stderr = bytearray()
        self.status: dict[str, Any] | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._ended:
            self._next_frame()
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _next_frame(self) -> None:
        import websocket

        try:
            opcode, frame = self._socket.recv_data_frame(True)
        except websocket.WebSocketTimeoutException as error:
            raise RequestTimeoutError(
                f"the results pod {self._pod} sent nothing for {self._timeout:g} s",
                hint="check your network/VPN; raise HERA_UTILS_TIMEOUT if the volume is slow",
            ) from error
        except (websocket.WebSocketConnectionClosedException, OSError):
            self._ended = True
            return
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self._ended = True
            return
        if opcode not in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT):
            return  # ping / pong
        data = bytes(frame.data)
        if not data:
            return
        channel, payload = data[0], data[1:]
        if channel == 1:
            self._pending = memoryview(payload)
        elif channel == 2:
            self.stderr += payload[: max(0, _STDERR_KEPT - len(self.stderr))]
        elif channel == 3:
            with contextlib.suppress(ValueError):
                self.status = json.loads(payload)

    def exit_code(self) -> int | None:
        """The command's exit code, once its status arrived (None before)."""
        if self.status is None:
            return None
        if self.status.get("status") == "Success":
            return 0
        for cause in (self.status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
                return int(cause["message"])
        return -1

    def raise_for_status(self, *, what: str) -> None:
        """Read to the end; raise when the command failed or the stream ended without status."""
        while not self._ended:
            self._pending = memoryview(b"")
            self._next_frame()
        code = self.exit_code()
        if code == 0:
            return
        said = " ".join(self.stderr.decode("utf-8", "replace").split())
        if code is None:
            raise UnreachableError(
                f"the connection to the results pod {self._pod} ended before {what} finished",
                hint="retry; a pod past its deadline or a dropped connection ends the copy",
            )
        message = said or str((self.status or {}).get("message") or f"exit status {code}")
        if "No such file" in message or "cannot access" in message:
            raise NotFoundError(
                f"{what}: {message}",
                hint="python main.py results ls shows what the volume holds",
            )
        raise AccessError(
            f"{what} failed in the results pod (exit {code}): {message}",
            hint="the image must provide tar and ls (PYTHON_IMAGE in environment.py)"
            if code in (126, 127)
            else "retry; python main.py results ls shows what the volume holds",
        )


def _exec_error(cluster: KubernetesCluster, pod: str, reason: str) -> AccessError:
    found = re.search(r"Handshake status (\d{3})", reason)
    status = int(found[1]) if found else 0
    first = reason.split(" -+-+- ")[0].strip()
    if status == 403:
        error = ForbiddenError(first, status=403, url=cluster.server)
        return _missing_right(cluster, "exec into pods (pods/exec)", error)
    if status == 401:
        return AccessError(
            f"the Kubernetes API rejected the credentials for exec into {pod} (401)",
            hint="download a fresh kubeconfig from your cluster's UI",
            setting="k8s_config_file",
            status=401,
        )
    if status:
        return ServerError(
            f"exec into the results pod {pod} was refused ({first})",
            hint="retry; kubectl describe pod tells whether it is still running",
            status=status,
            url=cluster.server,
        )
    if "timed out" in reason.lower():
        return RequestTimeoutError(
            f"exec into the results pod {pod} did not answer within {cluster.timeout:g} s",
            hint="check your network/VPN; raise HERA_UTILS_TIMEOUT if the API is just slow",
            url=cluster.server,
        )
    return UnreachableError(
        f"exec into the results pod {pod} failed: {first}",
        hint="check your network and the server in your kubeconfig",
        url=cluster.server,
    )


# -- progress ---------------------------------------------------------------------------------


class _ProgressLine:
    """`N files, X MB` on one rewritten line (a terminal) or a line every few seconds."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._every = 0.2 if self._tty else 5.0
        self._last = float("-inf")  # the first entry shows at once
        self._shown = False

    def update(self, summary: ExtractionSummary) -> None:
        now = time.monotonic()
        if self._stream is None or now - self._last < self._every:
            return
        self._last = now
        files = f"{summary.files} file" + ("" if summary.files == 1 else "s")
        line = f"  {files}, {format_size(summary.bytes)}"
        end = "\r" if self._tty else "\n"
        print(line, end=end, file=self._stream, flush=True)
        self._shown = True

    def finish(self) -> None:
        if self._stream is not None and self._shown and self._tty:
            print(file=self._stream)


def format_size(count: int) -> str:
    """A byte count for people: 1.5 MB, 200.0 MB, 12 bytes."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def _summary(extracted: ExtractionSummary, destination: Path) -> PullSummary:
    return PullSummary(
        files=extracted.files,
        bytes=extracted.bytes,
        directories=extracted.directories,
        links=extracted.links,
        refused=tuple(extracted.refused),
        destination=destination,
    )
