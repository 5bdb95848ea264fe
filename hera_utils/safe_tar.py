"""Extract a tar stream under one directory, never writing outside it.

The archive comes from a volume that many hands write to, so its entries are not trusted:
an absolute name, a `..` component, a symbolic or hard link leading out of the
destination, a device or FIFO is refused (reported, not written), and a file is never
written through a link. The archive is read once, front to back (`tarfile`'s stream
mode), in chunks: memory stays constant whatever the size of the files.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

CHUNK = 1024 * 1024
# A summary is also reported every this many bytes inside a large file.
PROGRESS_EVERY = 8 * CHUNK


@dataclass
class ExtractionSummary:
    """What an extraction wrote: regular files and their bytes, directories, links, refusals."""

    files: int = 0
    bytes: int = 0
    directories: int = 0
    links: int = 0
    refused: list[str] = field(default_factory=list)


class _Refused(Exception):
    """An entry that must not be written (the message says why)."""


def extract_stream(
    stream: IO[bytes] | io.RawIOBase,
    destination: str | os.PathLike[str],
    *,
    strip: str = "",
    progress: Callable[[ExtractionSummary], None] | None = None,
) -> ExtractionSummary:
    """Extract the tar read from `stream` under `destination`; return what was written.

    `strip` is the archive's top-level name standing for `destination` itself (what
    `tar -C parent base` produces): `base/x` is written as `destination/x`, and a single
    file named `base` as `destination/base`. Refused entries are listed in the summary.
    """
    root = Path(destination)
    root.mkdir(parents=True, exist_ok=True)
    real_root = os.path.realpath(root)
    summary = ExtractionSummary()
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            try:
                _extract_member(archive, member, root, real_root, strip, summary, progress)
            except _Refused as refusal:
                summary.refused.append(f"{member.name!r}: {refusal}")
            if progress is not None:
                progress(summary)
    return summary


def _extract_member(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    root: Path,
    real_root: str,
    strip: str,
    summary: ExtractionSummary,
    progress: Callable[[ExtractionSummary], None] | None,
) -> None:
    parts = _relative_parts(member.name, strip, keep_single=not member.isdir())
    if not parts:  # the top directory itself: it is `root`
        return
    target = root.joinpath(*parts)
    _assert_inside(os.path.realpath(target.parent), real_root, "its directory is a link out")
    if member.isdir():
        if target.is_symlink():
            raise _Refused("a directory where a link was extracted")
        target.mkdir(parents=True, exist_ok=True)
        _assert_inside(os.path.realpath(target), real_root, "its directory is a link out")
        summary.directories += 1
    elif member.isreg():
        target.parent.mkdir(parents=True, exist_ok=True)
        _assert_inside(os.path.realpath(target.parent), real_root, "its directory is a link out")
        source = archive.extractfile(member)
        assert source is not None  # a regular member always has a body
        _write_file(source, target, member.mode, summary, progress)
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
        summary.files += 1
    elif member.issym():
        _make_symlink(member.linkname, target, real_root)
        summary.links += 1
    elif member.islnk():
        linked = _relative_parts(member.linkname, strip, keep_single=True)
        if not linked:
            raise _Refused("a hard link to the top directory")
        source_path = root.joinpath(*linked)
        _assert_inside(os.path.realpath(source_path), real_root, "a hard link out of the copy")
        if source_path.is_symlink() or not source_path.is_file():
            raise _Refused("a hard link to nothing extracted")
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_existing(target)
        os.link(source_path, target)
        summary.links += 1
    else:
        raise _Refused("a device, FIFO or other special file")


def _relative_parts(name: str, strip: str, *, keep_single: bool) -> list[str]:
    """The path components of an archive name below `strip`; refuse names that escape."""
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _Refused("an absolute name")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts or any("\\" in part or "\0" in part for part in parts):
        raise _Refused("a name that climbs out with '..'")
    if strip:
        if not parts or parts[0] != strip:
            raise _Refused(f"a name outside {strip!r}")
        if not (keep_single and len(parts) == 1):
            parts = parts[1:]
    return parts


def _assert_inside(real_path: str, real_root: str, reason: str) -> None:
    if real_path != real_root and not real_path.startswith(real_root.rstrip(os.sep) + os.sep):
        raise _Refused(reason)


def _make_symlink(link_target: str, target: Path, real_root: str) -> None:
    """A symbolic link whose target, resolved from where it stands, stays inside."""
    if posixpath.isabs(link_target):
        raise _Refused(f"a link to the absolute path {link_target!r}")
    resolved = os.path.realpath(os.path.join(target.parent, link_target))
    _assert_inside(resolved, real_root, f"a link out of the copy ({link_target!r})")
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_existing(target)
    os.symlink(link_target, target)


def _remove_existing(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        raise _Refused("a file where a directory was extracted")


def _write_file(
    source: IO[bytes],
    target: Path,
    mode: int,
    summary: ExtractionSummary,
    progress: Callable[[ExtractionSummary], None] | None,
) -> None:
    """Copy `source` to `target` in chunks, never following a link at `target`."""
    _remove_existing(target)
    # O_NOFOLLOW | O_EXCL: the name was just cleared, so a link appearing there is refused.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(target, flags, (mode & 0o777) | 0o600)
    since_progress = 0
    with os.fdopen(descriptor, "wb") as out:
        while chunk := source.read(CHUNK):
            out.write(chunk)
            summary.bytes += len(chunk)
            since_progress += len(chunk)
            if progress is not None and since_progress >= PROGRESS_EVERY:
                since_progress = 0
                progress(summary)
