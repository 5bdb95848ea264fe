"""A fake `docker` for the local runner's tests (imported by name: tests/local is on sys.path).

A small Python program put first on PATH stands for the engine: it records each command
line (FAKE_DOCKER_CALLS, one JSON list a line) and runs a container's command on this
machine, as the real CLI behaves where the tests look:

- `run [--init] [-d] [--name N] [--network host|container:X] [-e K=V] [-v HOST:PATH]
  [-w DIR] [--entrypoint E] IMAGE ARGS...`: without `--init` the command is PID 1 (a
  SIGTERM it does not handle does nothing); `-v` makes PATH stand for HOST in the command
  line (the container's view of its mount); `--network container:X` fails (125) unless X
  runs; `-d` returns once the command started, its output kept for `logs`.
- `stop -t N X` (SIGTERM, SIGKILL after N seconds), `wait X` (prints the exit code),
  `logs X`, `rm -f X`, `start -a X` (the command again), `cp X:PATH LOCAL`, `info`.

FAKE_DOCKER_MODE=down makes `info` fail, =hang makes it hang.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest

FAKE_DOCKER = f"""#!{sys.executable}
import json, os, re, shutil, signal, subprocess, sys, time
CALLS = os.environ["FAKE_DOCKER_CALLS"]
STATE = os.path.join(os.path.dirname(CALLS), "docker-state")
os.makedirs(STATE, exist_ok=True)


def path(name, suffix):
    return os.path.join(STATE, name + suffix)


def write(name, suffix, text):
    with open(path(name, suffix) + ".tmp", "w") as file:
        file.write(text)
    os.replace(path(name, suffix) + ".tmp", path(name, suffix))


def running(name):
    return os.path.exists(path(name, ".pid")) and not os.path.exists(path(name, ".exit"))


def mounted(word, mounts):
    for host, target in mounts:
        # the path, whole (not inside a longer path), as the container's file system has it
        word = re.sub(r"(?<![\\w./-])" + re.escape(target.rstrip("/")) + r"(?=/|$|[\\s'\\";])",
                      lambda _: host, word)
    return word


def parse(args):
    spec = {{"env": dict(os.environ), "entrypoint": None, "init": False, "detach": False,
             "name": None, "mounts": [], "network": None}}
    while args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("--init", "-d"):
            spec["init" if flag == "--init" else "detach"] = True
            continue
        value = args.pop(0)
        if flag == "-e":
            key, _, text = value.partition("=")
            spec["env"][key] = text
        elif flag == "--entrypoint":
            spec["entrypoint"] = value
        elif flag == "--name":
            spec["name"] = value
        elif flag == "-v":
            host, target = value.rsplit(":", 1)
            spec["mounts"].append([host, target])
        elif flag == "--network":
            spec["network"] = value
    spec["image"] = args.pop(0)
    words = ([spec["entrypoint"]] if spec["entrypoint"] else []) + args
    spec["argv"] = [mounted(word, spec["mounts"]) for word in words]
    return spec


def start(spec, stdout=None):
    network = spec["network"] or ""
    if network.startswith("container:") and not running(network[len("container:"):]):
        sys.stderr.write("docker: Error response from daemon: cannot join network of a "
                         "non running container: " + network[len("container:"):] + "\\n")
        sys.exit(125)
    # As PID 1 (no --init), a signal whose action is the default does nothing.
    pid_one = None if spec["init"] else (lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    try:
        child = subprocess.Popen(spec["argv"], env=spec["env"], stdout=stdout, stderr=stdout,
                                 preexec_fn=pid_one)
    except OSError as error:
        sys.stderr.write("docker: exec failed: " + str(error) + "\\n")
        if spec["name"]:
            write(spec["name"], ".pid", "0")
            write(spec["name"], ".exit", "127")
        sys.exit(127)
    if spec["name"]:
        if os.path.exists(path(spec["name"], ".exit")):
            os.unlink(path(spec["name"], ".exit"))
        write(spec["name"], ".pid", str(child.pid))
    code = child.wait()
    code = 128 - code if code < 0 else code
    if spec["name"]:
        write(spec["name"], ".exit", str(code))
    return code


def stop(name, grace):
    if not running(name):
        return
    pid = int(open(path(name, ".pid")).read())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running(name) and time.monotonic() < deadline:
        time.sleep(0.02)
    if running(name):
        os.kill(pid, signal.SIGKILL)
    while running(name):
        time.sleep(0.02)


command, args = sys.argv[1], sys.argv[2:]
if command != "__supervise":
    with open(CALLS, "a") as calls:
        calls.write(json.dumps(sys.argv[1:]) + "\\n")
mode = os.environ.get("FAKE_DOCKER_MODE", "ok")
if command == "info":
    if mode == "down":
        sys.stderr.write("Cannot connect to the Docker daemon. Is the docker daemon running?\\n")
        sys.exit(1)
    if mode == "hang":
        time.sleep(30)
    sys.exit(0)
if command == "run":
    spec = parse(args)
    if spec["name"]:
        write(spec["name"], ".json", json.dumps(spec))
    if not spec["detach"]:
        sys.exit(start(spec))
    supervisor = subprocess.Popen([sys.executable, sys.argv[0], "__supervise", spec["name"]],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
    while not os.path.exists(path(spec["name"], ".pid")):
        if supervisor.poll() is not None:
            sys.exit(supervisor.returncode)
        time.sleep(0.01)
    print(spec["name"])
    sys.exit(0)
if command == "__supervise":
    spec = json.load(open(path(args[0], ".json")))
    with open(path(args[0], ".log"), "ab") as log:
        start(spec, stdout=log)
    sys.exit(0)
if command == "start":
    spec = json.load(open(path(args[-1], ".json")))
    sys.exit(start(spec))
if command == "stop":
    stop(args[-1], float(args[args.index("-t") + 1]) if "-t" in args else 10.0)
    print(args[-1])
    sys.exit(0)
if command == "wait":
    while not os.path.exists(path(args[-1], ".exit")):
        if not os.path.exists(path(args[-1], ".json")):
            sys.stderr.write("Error response from daemon: No such container: " + args[-1] + "\\n")
            sys.exit(1)
        time.sleep(0.02)
    print(open(path(args[-1], ".exit")).read())
    sys.exit(0)
if command == "logs":
    if os.path.exists(path(args[-1], ".log")):
        sys.stdout.write(open(path(args[-1], ".log")).read())
    sys.exit(0)
if command == "rm":
    name = args[-1]
    if running(name):
        os.kill(int(open(path(name, ".pid")).read()), signal.SIGKILL)
    for suffix in (".json", ".pid", ".exit", ".log"):
        if os.path.exists(path(name, suffix)):
            os.unlink(path(name, suffix))
    sys.exit(0)
if command == "cp":
    name, _, source = args[0].partition(":")
    if os.path.exists(path(name, ".json")):
        source = mounted(source, json.load(open(path(name, ".json")))["mounts"])
    if not os.path.exists(source):
        sys.exit(1)
    if os.path.isdir(source):
        shutil.copytree(source, args[1], dirs_exist_ok=True)
    else:
        shutil.copyfile(source, args[1])
sys.exit(0)
"""


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with a shell and no docker or podman; tests may add a fake docker to it."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in ("sh", "bash", "sleep", "cat", "touch", "test"):
        found = shutil.which(tool)
        if found:
            (directory / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(tmp_path / "docker-calls.jsonl"))
    assert shutil.which("docker") is None and shutil.which("podman") is None
    return directory


def install_fake_docker(bin_dir: Path, monkeypatch: pytest.MonkeyPatch, mode: str = "ok"
                        ) -> Path:
    """Put the fake `docker` on PATH (in `bin_dir`), answering `info` as `mode` says."""
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_DOCKER_MODE", mode)
    return docker


def docker_calls(tmp_path: Path) -> list[list[str]]:
    """The command lines the fake docker was given, in order."""
    path = tmp_path / "docker-calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
