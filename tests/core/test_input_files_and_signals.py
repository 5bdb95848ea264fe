"""Files and signals a user hands to `hera-utils`: a config file that is not UTF-8 or not a
settings file at all, a CA bundle that does not exist, a config file with a token that
others can read, a token over plain HTTP, a reader that goes away, a SIGTERM mid-check."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from hera_utils.argo import ArgoServer
from hera_utils.cli import main
from hera_utils.errors import HeraUtilsWarning
from hera_utils.redaction import scrubbed_output
from hera_utils.settings import parse_arguments

HERA_UTILS = str(Path(sys.executable).with_name("hera-utils"))


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_config_file_that_is_not_utf8_names_its_line(emulated_env) -> None:
    Path("hera.config").write_bytes(b"argo_namespace='team'\n# caf\xe9 au lait\n")
    code, out, err = run(["config"])
    assert code == 2, out + err
    assert err.strip() == (
        "hera-utils: error: hera.config:2: the file is not UTF-8 (byte 0xe9) "
        "(save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8))"
    )


def test_a_config_file_too_large_to_be_settings_is_not_read(emulated_env) -> None:
    Path("hera.config").write_bytes(b"# padding\n" * 200_000)  # 2 MB of comments
    code, out, err = run(["doctor"])
    assert code == 2, out + err
    assert "hera.config is larger than 1 MiB: not a settings file" in err
    assert "Traceback" not in err


def test_a_ca_bundle_that_does_not_exist_is_a_configuration_error(
    emulated_env, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing-ca.pem"))
    code, out, err = run(["doctor"])
    assert code == 2, out + err
    assert "REQUESTS_CA_BUNDLE=" in out and "names no file" in out
    assert "point REQUESTS_CA_BUNDLE at your CA bundle" in out
    assert "OSError" not in out + err and "Traceback" not in out + err


def test_a_token_in_a_config_file_others_can_read_is_warned_about(emulated_env) -> None:
    Path("hera.config").write_text(f"argo_token='{emulated_env.user_token}'\n")
    os.chmod("hera.config", 0o644)
    code, out, err = run(["config"])
    assert code == 0, out + err
    assert "warning: hera.config holds argo_token and can be read by other users (mode 644): " \
        "chmod 600 hera.config" in err
    assert emulated_env.user_token not in out + err
    os.chmod("hera.config", 0o600)
    code, out, err = run(["config"])
    assert "can be read by other users" not in err


def test_a_config_file_without_a_token_may_be_readable() -> None:
    Path("hera.config").write_text("argo_namespace='team'\n")
    os.chmod("hera.config", 0o644)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_arguments([])


def test_a_token_over_plain_http_is_warned_about_on_one_line() -> None:
    args = parse_arguments(["--argo-server", "http://127.0.0.1:2746", "--argo-token", "abc123"])
    err = io.StringIO()
    with scrubbed_output(io.StringIO(), err), warnings.catch_warnings():
        warnings.simplefilter("always")
        ArgoServer.from_settings(None, args)
    assert err.getvalue().startswith("warning: the Argo token (a token from argo_token) is sent "
                                     "over plain HTTP to http://127.0.0.1:2746/")
    assert len(err.getvalue().splitlines()) == 1
    with pytest.warns(HeraUtilsWarning, match="plain HTTP"):
        ArgoServer.from_settings(None, args)


def test_no_warning_over_https_or_without_a_token() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ArgoServer.from_settings(None, parse_arguments(["--argo-server", "http://127.0.0.1:2746"]))
        ArgoServer.from_settings(
            None, parse_arguments(["--argo-server", "https://127.0.0.1:2746", "--argo-token", "a"])
        )


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: the first write meets a closed pipe
    try:
        done = subprocess.run([HERA_UTILS, "config", "--show-origin"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


def doctor_stopped_by(emulated_env, tmp_path, signum: int) -> subprocess.Popen[str]:
    """`hera-utils doctor` in a process of its own, sent `signum` while the Argo Server hangs."""
    emulated_env.argo.faults.set("hang", times=1)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    process = subprocess.Popen([HERA_UTILS, "doctor"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a bound on a hung test, not a measurement
        # The cluster's checks have loaded the kubeconfig (its CA written to a file) and
        # the Argo Server holds the first request.
        while not (emulated_env.argo.requests and emulated_env.k8s.requests):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signum)
        process.communicate(timeout=60)
    finally:
        process.kill()
    return process


def credential_dirs(tmp_path) -> list[Path]:
    return sorted((tmp_path / f"hera-utils-{os.getuid()}").glob("*"))


def test_sigterm_during_doctor_ends_with_one_line_and_143(emulated_env, tmp_path) -> None:
    emulated_env.argo.faults.set("hang", times=1)
    process = subprocess.Popen([HERA_UTILS, "doctor"], cwd=tmp_path, env=dict(os.environ),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a bound on a hung test, not a measurement
        while not emulated_env.argo.requests:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, stdout + stderr
    assert stderr.strip() == "hera-utils: error: terminated by SIGTERM"


def test_credential_files_are_removed_after_sigterm(emulated_env, tmp_path) -> None:
    process = doctor_stopped_by(emulated_env, tmp_path, signal.SIGTERM)
    assert process.returncode == 143
    assert credential_dirs(tmp_path) == []


def test_credential_files_left_by_sigkill_go_at_the_next_run(emulated_env, tmp_path) -> None:
    process = doctor_stopped_by(emulated_env, tmp_path, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    (left,) = credential_dirs(tmp_path)
    assert left.name == str(process.pid) and any(left.iterdir())  # the CA, as written
    assert stat.S_IMODE(left.parent.stat().st_mode) == 0o700
    emulated_env.argo.faults.clear()
    done = subprocess.run([HERA_UTILS, "doctor"], cwd=tmp_path, capture_output=True,
                          env=dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path)), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert credential_dirs(tmp_path) == []


_IMPORT_WATCH = """
import sys, threading
seen = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in ("requests", "urllib3", "kubernetes", "yaml", "hera") and name not in seen:
            seen[name] = threading.current_thread() is threading.main_thread()
        return None

sys.meta_path.insert(0, Watch())
from hera_utils.cli import main
code = main(["doctor"])
off_main = sorted(name for name, on_main in seen.items() if not on_main)
print("OFF-MAIN", " ".join(off_main), file=sys.stderr)
sys.exit(code)
"""


def test_doctor_imports_its_libraries_before_its_threads_start(emulated_env, tmp_path) -> None:
    # Two threads importing one package at once may see it half-initialised (an
    # ImportError in a few runs in a hundred): every import must happen on the main thread.
    script = tmp_path / "watch.py"
    script.write_text(_IMPORT_WATCH)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=dict(os.environ))
    assert "✓ volume_claim" in done.stdout, done.stdout + done.stderr
    off_main = done.stderr.rpartition("OFF-MAIN")[2].split()
    assert off_main == [], off_main
