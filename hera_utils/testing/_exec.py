"""The exec subresource of the emulated pods: a real process, streamed over WebSocket.

A pod that mounts a volume claim sees, at its mount path, a directory of this machine that
stands for the claim's contents (`KubernetesEmulator.set_volume_contents`). The command
runs here as a real process (`tar`, `ls`... as in a small image), its paths under the
mount translated to that directory; stdout and stderr go back on channels 1 and 2, then
the exit status on channel 3, as the kubelet sends them.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import cast

from hera_utils.testing._websocket import STDERR, STDOUT, ChannelWriter, read_frame

# What the small image of a results pod offers (busybox-like).
AVAILABLE_COMMANDS = frozenset({"tar", "ls", "cat", "find", "du", "stat", "test", "true"})
_READ_CHUNK = 64 * 1024

# Replaces the process in tests: (command as the pod sees it) -> (stdout chunks, exit code).
ExecOverride = Callable[[list[str]], tuple[Iterable[bytes], int]]


def translate(command: list[str], mounts: Mapping[str, Path]) -> list[str]:
    """`command` with each path under a mount path rewritten into its local directory."""
    translated = []
    for argument in command:
        for mount_path, directory in sorted(mounts.items(), key=lambda item: -len(item[0])):
            prefix = mount_path.rstrip("/")
            if argument == prefix or argument.startswith(prefix + "/"):
                argument = str(directory) + argument[len(prefix) :]
                break
        translated.append(argument)
    return translated


def serve_exec(
    command: list[str],
    mounts: Mapping[str, Path],
    reader: io.BufferedIOBase,
    writer: io.BufferedIOBase,
    *,
    stopping: threading.Event,
    override: ExecOverride | None = None,
) -> None:
    """Run `command` for an upgraded exec connection and stream its output back."""
    channels = ChannelWriter(writer)
    # The client's close frame, or its hanging up, ends the process early (Ctrl-C).
    hung_up = threading.Event()
    threading.Thread(
        target=_watch_client, args=(reader, hung_up), name="KubernetesEmulator-exec", daemon=True
    ).start()
    try:
        if override is not None:
            chunks, code = override(list(command))
            for chunk in chunks:
                if hung_up.is_set() or stopping.is_set():
                    return
                channels.send(STDOUT, chunk)
            channels.send_status(code)
        else:
            _run_process(command, mounts, channels, hung_up, stopping)
        channels.close()
    except OSError:
        return  # the client went away: nothing more to tell it


def _run_process(
    command: list[str],
    mounts: Mapping[str, Path],
    channels: ChannelWriter,
    hung_up: threading.Event,
    stopping: threading.Event,
) -> None:
    if not command or command[0] not in AVAILABLE_COMMANDS or shutil.which(command[0]) is None:
        executable = command[0] if command else ""
        channels.send_status(
            126,
            "OCI runtime exec failed: exec failed: unable to start container process: "
            f'exec: "{executable}": executable file not found in $PATH: unknown',
        )
        return
    process = subprocess.Popen(
        translate(command, mounts),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    errors: list[bytes] = []
    stderr_thread = threading.Thread(
        target=lambda: errors.append(process.stderr.read() if process.stderr else b""),
        name="KubernetesEmulator-exec-stderr",
        daemon=True,
    )
    stderr_thread.start()
    try:
        stdout = cast(io.BufferedReader, process.stdout)
        while chunk := stdout.read1(_READ_CHUNK):
            if hung_up.is_set() or stopping.is_set():
                return
            channels.send(STDOUT, chunk)
        stderr_thread.join()
        code = process.wait()
        if errors and errors[0]:
            channels.send(STDERR, _hide_local_paths(errors[0], mounts))
        channels.send_status(code)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        with contextlib.suppress(OSError):
            process.stdout.close()


def _hide_local_paths(text: bytes, mounts: Mapping[str, Path]) -> bytes:
    """Error messages name the paths the pod sees, not where they are on this machine."""
    for mount_path, directory in mounts.items():
        text = text.replace(str(directory).encode(), mount_path.rstrip("/").encode())
    return text


def _watch_client(reader: io.BufferedIOBase, hung_up: threading.Event) -> None:
    try:
        while True:
            frame = read_frame(reader)
            if frame is None or frame[0] == 0x8:
                break
    except (OSError, ValueError):
        pass
    hung_up.set()
