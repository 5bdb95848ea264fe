"""The layout of an experiment: where its tasks write, and what its tasks are called.

An experiment's `layout.py` subclasses `Layout` with one method per stage (`compute_dir`,
`compute_task`...). Paths are kept relative to the volume, so the same layout serves the
cluster (under the volume claim's mount path) and a local run (under a local directory).
Task names go through `k8s_name`, because Argo turns them into pod names, which must be
DNS-1123 labels.
"""

from __future__ import annotations

import hashlib
import posixpath
import re

from hera_utils.errors import ConfigurationError

MAX_NAME_LENGTH = 63  # a DNS-1123 label, as pod and task names must be
_HASH_LENGTH = 8
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_NAME_CHARACTERS = re.compile(r"[^a-z0-9]+")


def k8s_name(*parts: object, max_length: int = MAX_NAME_LENGTH) -> str:
    """A valid DNS-1123 label made of `parts` joined with '-', unique per joined text.

    A text that already is a valid label (lowercase alphanumerics and '-', starting and
    ending alphanumeric, at most `max_length` characters) is returned unchanged. Any other
    is lowercased, its other characters turned into '-', truncated, and suffixed with a short
    hash of the original text: `Lyon_1er` and `lyon-1er` then get different names.
    """
    if not parts:
        raise ConfigurationError("k8s_name() needs at least one part")
    if max_length <= _HASH_LENGTH:
        raise ConfigurationError(f"k8s_name(): max_length must exceed {_HASH_LENGTH}")
    original = "-".join(str(part) for part in parts)
    if len(original) <= max_length and is_dns1123_label(original):
        return original
    digest = hashlib.sha256(original.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    cleaned = _NOT_NAME_CHARACTERS.sub("-", original.lower()).strip("-")
    cleaned = cleaned[: max_length - _HASH_LENGTH - 1].rstrip("-")
    return f"{cleaned}-{digest}" if cleaned else digest


def is_dns1123_label(text: str) -> bool:
    """Whether `text` is a DNS-1123 label (the rule for pod, task and claim names)."""
    return len(text) <= MAX_NAME_LENGTH and bool(_DNS1123_LABEL.match(text))


class Layout:
    """Where an experiment's files go (relative to the volume) and what its tasks are called.

    `root` is the experiment's own directory on the volume, so that several experiments can
    share one volume claim. Subclasses add one method per stage, built on `directory`,
    `path` and `task_name`.
    """

    def __init__(self, root: str = "") -> None:
        self.root = _join("", *root.split("/")) if root else ""

    def path(self, *parts: object) -> str:
        """A path relative to the volume: `root/part/part...` (POSIX separators)."""
        return _join(self.root, *parts)

    def directory(self, stage: str, *parameters: object) -> str:
        """The output directory of `stage` for one combination of `parameters`."""
        return self.path(stage, *parameters)

    def task_name(self, stage: str, *parameters: object) -> str:
        """The DAG task name of `stage` for `parameters` (a valid, unique DNS-1123 label)."""
        return k8s_name(stage, *parameters)

    @staticmethod
    def on_volume(mount_path: str, relative: str) -> str:
        """Where a relative layout path is seen by a task that mounts the volume at `mount_path`."""
        return posixpath.join(mount_path, relative)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root!r})"


def _join(base: str, *parts: object) -> str:
    """Join path components, refusing ones that would escape or restructure the layout."""
    components = [base] if base else []
    for part in parts:
        text = str(part)
        if text in ("", ".", "..") or "/" in text or "\0" in text:
            raise ConfigurationError(
                f"invalid path component {text!r} in the layout",
                hint="each parameter must be a plain name: no '/', not empty, not '.' or '..'",
            )
        components.append(text)
    return posixpath.join(*components) if components else ""
