"""A kubeconfig that points at hostile files or runs a credential plugin that never ends:
refused or bounded by `request_timeout`, one line and the setting to fix; and a kubeconfig
split over files as kubectl merges them (users in a file of their own)."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

from hera_utils.cli import main


def doctor() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["doctor"], stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


def edit_user(emulated_env, **fields) -> dict:
    path = Path(emulated_env.kubeconfig_path)
    document = yaml.safe_load(path.read_text())
    user = document["users"][0]["user"]
    user.pop("token", None)
    user.update(fields)
    path.write_text(yaml.safe_dump(document))
    return document


def plugin(tmp_path: Path, body: str) -> str:
    script = tmp_path / "credential-plugin"
    script.write_text(f"#!{sys.executable}\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_a_token_file_that_never_ends_is_refused_unread(emulated_env) -> None:
    edit_user(emulated_env, tokenFile="/dev/zero")
    code, output = doctor()
    assert code == 2, output
    assert "kubeconfig tokenFile '/dev/zero' is not a regular file" in output
    assert "point tokenFile at the right file" in output


def test_a_client_key_larger_than_any_key_is_refused(emulated_env, tmp_path) -> None:
    huge = tmp_path / "key.pem"
    huge.write_bytes(b"k" * (2 << 20))
    edit_user(emulated_env, **{"client-key": "key.pem", "client-certificate": str(huge)})
    code, output = doctor()
    assert code == 2, output
    assert f"kubeconfig client-certificate '{huge}' is larger than 1 MiB" in output


def test_a_relative_token_file_is_read_next_to_its_kubeconfig(emulated_env, tmp_path) -> None:
    Path(emulated_env.kubeconfig_path).with_name("token.txt").write_text(emulated_env.user_token)
    edit_user(emulated_env, tokenFile="token.txt")
    code, output = doctor()
    assert code == 0, output
    assert "accepts the credentials" in output


def test_an_exec_plugin_that_never_answers_is_bounded_by_the_timeout(
    emulated_env, monkeypatch, tmp_path
) -> None:
    command = plugin(tmp_path, "import time\ntime.sleep(600)")
    edit_user(emulated_env, exec={"apiVersion": "client.authentication.k8s.io/v1beta1",
                                  "command": command, "interactiveMode": "Never"})
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "1")
    code, output = doctor()
    assert code == 3, output
    assert f"exec credential plugin {command!r} gave no credentials within 1s" in output
    assert f"run {command!r} by hand" in output
    assert emulated_env.user_token not in output


def test_an_exec_plugin_that_fails_says_so_instead_of_a_401(emulated_env, tmp_path) -> None:
    command = plugin(tmp_path, "import sys\nsys.exit('please log in first')")
    edit_user(emulated_env, exec={"apiVersion": "client.authentication.k8s.io/v1beta1",
                                  "command": command, "interactiveMode": "Never"})
    code, output = doctor()
    assert code == 3, output
    assert f"exec credential plugin {command!r} gave no credentials" in output
    assert "rejected the credentials" not in output


def test_an_exec_plugin_that_answers_gives_the_token(emulated_env, tmp_path) -> None:
    credential = ('{"apiVersion": "client.authentication.k8s.io/v1beta1", '
                  '"kind": "ExecCredential", "status": {"token": "%s"}}')
    command = plugin(tmp_path, f"print('{credential % emulated_env.user_token}')")
    edit_user(emulated_env, exec={"apiVersion": "client.authentication.k8s.io/v1beta1",
                                  "command": command, "interactiveMode": "Never"})
    code, output = doctor()
    assert code == 0, output
    assert emulated_env.user_token not in output


@pytest.mark.parametrize("users_first", [False, True])
def test_users_in_a_file_of_their_own_are_merged_as_kubectl_does(
    emulated_env, monkeypatch, tmp_path, users_first
) -> None:
    document = yaml.safe_load(Path(emulated_env.kubeconfig_path).read_text())
    users = {"apiVersion": "v1", "kind": "Config", "users": document.pop("users")}
    (tmp_path / "clusters.yaml").write_text(yaml.safe_dump(document))
    (tmp_path / "users.yaml").write_text(yaml.safe_dump(users))
    files = [str(tmp_path / "clusters.yaml"), str(tmp_path / "users.yaml")]
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(reversed(files) if users_first else files))
    code, output = doctor()
    assert code == 0, output
