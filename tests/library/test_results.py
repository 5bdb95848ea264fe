"""Specification of hera_utils.results: files of a volume claim, through a short-lived pod.

Against the Kubernetes emulator: its pods mount the claim, and exec runs a real `tar` or
`ls` over the WebSocket protocol the official client speaks.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from hera_utils.cluster import KubernetesCluster
from hera_utils.errors import AccessError, ForbiddenError, NotFoundError, RequestTimeoutError
from hera_utils.results import (
    POD_LABELS,
    UnsafeArchiveError,
    VolumeSource,
    list_path,
    pull,
    volume_path,
)
from hera_utils.settings import parse_arguments

NS = "experiments"
SOURCE = VolumeSource(claim="data", image="python:3.12-slim")


@pytest.fixture
def cluster(emulated_env) -> KubernetesCluster:
    return KubernetesCluster.from_settings(parse_arguments([]))


@pytest.fixture
def volume(emulated_env, tmp_path: Path) -> Path:
    contents = tmp_path / "claim-contents"
    contents.mkdir()
    emulated_env.k8s.set_volume_contents(NS, "data", contents)
    return contents


def no_pod_left(emulated_env) -> bool:
    return emulated_env.k8s.pods(NS) == [] and len(emulated_env.k8s.deleted_pods) >= 1


def tar_of(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for info, data in entries:
            info.size = len(data) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


# -- pull ---------------------------------------------------------------------------------------


def test_pull_copies_a_tree_of_a_thousand_files(emulated_env, cluster, volume, tmp_path):
    for index in range(1000):
        shard = volume / "sweep" / f"run-{index % 10}"
        shard.mkdir(parents=True, exist_ok=True)
        (shard / f"result-{index}.txt").write_bytes(
            f"result {index}\n".encode() + bytes([index % 256])
        )
    destination = tmp_path / "results"
    summary = pull(cluster, SOURCE, "sweep", destination, progress=None)
    assert (summary.files, summary.refused) == (1000, ())
    copied = sorted(p.relative_to(destination) for p in destination.rglob("*.txt"))
    original = sorted(p.relative_to(volume / "sweep") for p in (volume / "sweep").rglob("*.txt"))
    assert copied == original and len(copied) == 1000
    assert (destination / "run-7" / "result-997.txt").read_bytes() == b"result 997\n" + bytes([229])
    assert no_pod_left(emulated_env)


def test_the_pod_is_labelled_mounts_the_claim_read_only_and_has_a_deadline(
    emulated_env, cluster, volume, tmp_path
):
    seen: list[dict] = []

    def spy(command):
        seen.extend(emulated_env.k8s.pods(NS))
        return [tar_of([(entry("x/f"), b"1")])], 0

    emulated_env.k8s.exec_override = spy
    pull(cluster, SOURCE, "x", tmp_path / "out", progress=None)
    (pod,) = seen
    assert POD_LABELS.items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["activeDeadlineSeconds"] == SOURCE.deadline_seconds
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data"
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] is True
    assert pod["spec"]["containers"][0]["image"] == "python:3.12-slim"


def test_pulling_one_file_writes_it_under_its_name(emulated_env, cluster, volume, tmp_path):
    (volume / "exp").mkdir()
    (volume / "exp" / "summary.json").write_text('{"ok": true}\n')
    summary = pull(cluster, SOURCE, "exp/summary.json", tmp_path / "out", progress=None)
    assert summary.files == 1
    assert (tmp_path / "out" / "summary.json").read_text() == '{"ok": true}\n'


def test_pulling_the_whole_volume_copies_its_root(emulated_env, cluster, volume, tmp_path):
    (volume / "a").mkdir()
    (volume / "a" / "f").write_text("x")
    (volume / "top.txt").write_text("y")
    pull(cluster, SOURCE, "", tmp_path / "out", progress=None)
    assert (tmp_path / "out" / "a" / "f").read_text() == "x"
    assert (tmp_path / "out" / "top.txt").read_text() == "y"


def test_links_inside_the_copy_are_kept(emulated_env, cluster, volume, tmp_path):
    (volume / "exp" / "run-1").mkdir(parents=True)
    (volume / "exp" / "run-1" / "model.bin").write_bytes(b"weights")
    os.symlink("run-1", volume / "exp" / "latest")
    pull(cluster, SOURCE, "exp", tmp_path / "out", progress=None)
    assert os.readlink(tmp_path / "out" / "latest") == "run-1"
    assert (tmp_path / "out" / "latest" / "model.bin").read_bytes() == b"weights"


def test_entries_escaping_the_destination_are_refused_and_nothing_is_written_outside(
    emulated_env, cluster, volume, tmp_path
):
    archive = tar_of(
        [
            (entry("exp/", tarfile.DIRTYPE), b""),
            (entry("exp/ok.txt"), b"fine"),
            (entry("exp/../../climb.txt"), b"evil"),
            (entry("/tmp/absolute.txt"), b"evil"),
            (entry("other/sibling.txt"), b"evil"),
            (entry("exp/up", tarfile.SYMTYPE, "../.."), b""),
            (entry("exp/up/through-link.txt"), b"evil"),
            (entry("exp/abs", tarfile.SYMTYPE, "/etc"), b""),
            (entry("exp/passwd", tarfile.LNKTYPE, "/etc/passwd"), b""),
            (entry("exp/hard", tarfile.LNKTYPE, "exp/../../climb.txt"), b""),
            (entry("exp/dev", tarfile.CHRTYPE), b""),
            (entry("exp/fifo", tarfile.FIFOTYPE), b""),
        ]
    )
    emulated_env.k8s.exec_override = lambda command: ([archive], 0)
    (tmp_path / "work").mkdir()
    outside_before = sorted(p for p in tmp_path.rglob("*") if "out" not in p.parts)
    with pytest.raises(UnsafeArchiveError) as caught:
        pull(cluster, SOURCE, "exp", tmp_path / "work" / "out", progress=None)
    assert "9 entries of the archive were refused" in caught.value.message
    out = tmp_path / "work" / "out"
    assert (out / "ok.txt").read_text() == "fine"
    # The refused link left no link: the file meant to go through it stays inside.
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "ok.txt",
        "up",
        "up/through-link.txt",
    ]
    assert not (out / "up").is_symlink()
    outside_after = sorted(p for p in tmp_path.rglob("*") if "out" not in p.parts)
    assert outside_after == outside_before
    assert not Path("/tmp/absolute.txt").exists()
    assert caught.value.exit_code == 3
    assert no_pod_left(emulated_env)


def test_a_file_is_never_written_through_a_link_already_in_the_destination(
    emulated_env, cluster, volume, tmp_path
):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    destination = tmp_path / "out"
    destination.mkdir()
    os.symlink(outside, destination / "result.txt")
    emulated_env.k8s.exec_override = lambda command: (
        [tar_of([(entry("exp/result.txt"), b"new")])],
        0,
    )
    pull(cluster, SOURCE, "exp", destination, progress=None)
    assert outside.read_text() == "keep"
    assert (destination / "result.txt").read_text() == "new"
    assert not (destination / "result.txt").is_symlink()


def test_an_interrupted_pull_leaves_no_pod_behind(emulated_env, cluster, volume, tmp_path):
    # A small file, then a big one whose bytes trickle: the pull is mid-stream when the
    # first progress line (after the small file) is written.
    header = tar_of([(entry("exp/first.txt"), b"x"), (entry("exp/big.bin"), b"\0" * (1 << 20))])
    header = header[:4096]

    def slow(command):
        yield header
        for _ in range(400):
            time.sleep(0.05)
            yield b"\0" * 512

    class CtrlC(io.StringIO):
        """Ctrl-C on the main thread at the first progress line, while the tar streams."""

        def write(self, text: str) -> int:
            raise KeyboardInterrupt

    emulated_env.k8s.exec_override = lambda command: (slow(command), 0)
    with pytest.raises(KeyboardInterrupt):
        pull(cluster, SOURCE, "exp", tmp_path / "out", progress=CtrlC())
    assert no_pod_left(emulated_env)


def test_a_missing_path_is_not_found(emulated_env, cluster, volume, tmp_path):
    with pytest.raises(NotFoundError) as caught:
        pull(cluster, SOURCE, "nothing-here", tmp_path / "out", progress=None)
    assert "nothing-here" in caught.value.message
    assert str(volume) not in caught.value.message  # the pod's paths, not the emulator's
    assert no_pod_left(emulated_env)


def test_a_path_climbing_out_of_the_volume_is_refused_before_any_pod(emulated_env, cluster):
    with pytest.raises(Exception, match=r"climbs out"):
        pull(cluster, SOURCE, "../etc", "unused", progress=None)
    assert emulated_env.k8s.deleted_pods == []
    assert volume_path("./exp//run-1/") == "exp/run-1"


def test_the_progress_line_and_summary_count_files_and_bytes(
    emulated_env, cluster, volume, tmp_path
):
    (volume / "exp").mkdir()
    for index in range(3):
        (volume / "exp" / f"f{index}").write_bytes(b"x" * 1000)
    progress = io.StringIO()
    summary = pull(cluster, SOURCE, "exp", tmp_path / "out", progress=progress)
    assert progress.getvalue().splitlines()[0] == "  0 files, 0 bytes"  # the directory entry
    assert (summary.files, summary.bytes) == (3, 3000)
    assert summary.describe().startswith("copied 3 files (2.9 kB) into ")


# -- failures -------------------------------------------------------------------------------------


def test_no_right_to_exec_is_a_clear_forbidden_error(emulated_env, cluster, volume, tmp_path):
    emulated_env.k8s.allowed_verbs = {
        ("alice", NS): [
            "get",
            "list",
            "create:pods",
            "delete:pods",
            "create:selfsubjectaccessreviews",
        ]
    }
    with pytest.raises(ForbiddenError) as caught:
        pull(cluster, SOURCE, "exp", tmp_path / "out", progress=None)
    assert "pods/exec" in caught.value.message and "pods/exec" in caught.value.hint
    assert no_pod_left(emulated_env)


def test_no_right_to_create_pods_is_a_clear_forbidden_error(
    emulated_env, cluster, volume, tmp_path
):
    emulated_env.k8s.allowed_verbs = {("alice", NS): ["get", "list"]}
    with pytest.raises(ForbiddenError) as caught:
        pull(cluster, SOURCE, "exp", tmp_path / "out", progress=None)
    assert "create pods" in caught.value.message
    assert emulated_env.k8s.pods(NS) == []


def test_a_missing_claim_is_not_found_and_creates_no_pod(emulated_env, cluster, tmp_path):
    with pytest.raises(NotFoundError) as caught:
        pull(cluster, VolumeSource("nope", "busybox"), "exp", tmp_path / "out", progress=None)
    assert "'nope'" in caught.value.message and "KUBEVOLUMECLAIMNAME" in caught.value.hint
    assert emulated_env.k8s.pods(NS) == []


def test_a_pod_whose_image_cannot_be_pulled_fails_at_once_and_is_deleted(
    emulated_env, cluster, volume, tmp_path
):
    emulated_env.k8s.pods_never_start = "ImagePullBackOff"
    with pytest.raises(AccessError) as caught:
        pull(cluster, SOURCE, "exp", tmp_path / "out", progress=None)
    assert "ImagePullBackOff" in caught.value.message and "PYTHON_IMAGE" in caught.value.hint
    assert no_pod_left(emulated_env)


def test_a_pod_that_never_runs_is_given_up_after_the_start_timeout(
    emulated_env, cluster, volume, tmp_path
):
    emulated_env.k8s.pod_start_reads = 10**9
    source = VolumeSource("data", "busybox", start_timeout=0.1)
    with pytest.raises(RequestTimeoutError) as caught:
        pull(cluster, source, "exp", tmp_path / "out", progress=None)
    assert "did not start within 0.1 s" in caught.value.message
    assert no_pod_left(emulated_env)


def test_a_pod_past_its_deadline_is_reported_with_the_reason(
    emulated_env, cluster, volume, tmp_path
):
    start = time.time()
    reads = iter(range(10**6))
    emulated_env.k8s.clock = lambda: start + 10_000 * next(reads)  # each look, much later
    with pytest.raises(AccessError) as caught:
        pull(cluster, SOURCE, "exp", tmp_path / "out", progress=None)
    assert "DeadlineExceeded" in caught.value.message and "--pod-deadline" in caught.value.hint
    assert no_pod_left(emulated_env)


# -- ls -------------------------------------------------------------------------------------------


def test_ls_lists_the_entries_of_a_directory(emulated_env, cluster, volume):
    (volume / "exp" / "run-1").mkdir(parents=True)
    (volume / "exp" / "summary.json").write_text("{}")
    listing = list_path(cluster, SOURCE, "exp")
    names = [line.split()[-1] for line in listing.splitlines() if not line.startswith("total")]
    assert names == ["run-1", "summary.json"]
    assert no_pod_left(emulated_env)


def test_ls_of_a_missing_path_is_not_found(emulated_env, cluster, volume):
    with pytest.raises(NotFoundError):
        list_path(cluster, SOURCE, "missing")
    assert no_pod_left(emulated_env)


# -- memory -------------------------------------------------------------------------------------

_PULL_AND_MEASURE = """
import json, sys
from hera_utils.cluster import KubernetesCluster
from hera_utils.results import VolumeSource, pull
from hera_utils.settings import parse_arguments

cluster = KubernetesCluster.from_settings(parse_arguments([]))
summary = pull(cluster, VolumeSource("data", "busybox"), sys.argv[1], sys.argv[2], progress=None)
status = open("/proc/self/status").read()
peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({"bytes": summary.bytes, "peak_kib": peak}))
"""


def _pull_in_subprocess(emulated_env, path: str, destination: Path) -> dict:
    env = {**os.environ, **emulated_env.env()}
    done = subprocess.run(
        [sys.executable, "-c", _PULL_AND_MEASURE, path, str(destination)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_a_200_mb_file_streams_with_bounded_memory(emulated_env, volume, tmp_path):
    size = 200 * 1024 * 1024
    (volume / "small").mkdir()
    (volume / "small" / "f.bin").write_bytes(b"s" * 1024)
    (volume / "big").mkdir()
    with open(volume / "big" / "f.bin", "wb") as big:
        big.truncate(size - 3)  # sparse: cheap to make, read back as zeros
        big.seek(size - 3)
        big.write(b"end")
    small = _pull_in_subprocess(emulated_env, "small", tmp_path / "small-out")
    large = _pull_in_subprocess(emulated_env, "big", tmp_path / "big-out")
    copied = tmp_path / "big-out" / "f.bin"
    assert large["bytes"] == size == copied.stat().st_size
    with open(copied, "rb") as result:
        result.seek(size - 3)
        assert result.read() == b"end"
    # Holding the file (or the archive) in memory would add at least 200 MB.
    assert large["peak_kib"] - small["peak_kib"] < 40 * 1024


def test_a_pod_that_cannot_be_deleted_is_named_with_the_command_to_delete_it(
    emulated_env, cluster, volume, tmp_path, capsys
):
    (volume / "exp").mkdir()
    (volume / "exp" / "f").write_text("x")
    emulated_env.k8s.allowed_verbs = lambda user, ns, verb, resource, group: verb != "delete"
    pull(cluster, SOURCE, "exp", tmp_path / "out", progress=None)
    (pod,) = emulated_env.k8s.pods(NS)
    warning = capsys.readouterr().err
    assert f"kubectl delete pod {pod['metadata']['name']} -n {NS}" in warning
