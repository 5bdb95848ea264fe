"""No secret reaches the terminal or the disk, however it was given and wherever it lands."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hera_utils import experiment
from hera_utils.cli import main
from hera_utils.redaction import (
    REDACTED,
    Redactor,
    learn_from_command_line,
    register_secret,
    scrub,
    scrub_message,
)
from hera_utils.settings import parser
from hera_utils.submission import write_provenance

OPAQUE = "s3cr3t-Token-Value-0042"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXBhcnQ"
SSO = "v2:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="
LOWER = "kubeconfig-u-abc12:x8f7k2m9q4w1z6c3v5b8n0p2r7t4y9u1"  # a Rancher-style token
TOKENS = [OPAQUE, JWT, SSO, LOWER]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def assert_one_clean_line(err: str, *secrets: str) -> None:
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for secret in secrets:
        assert secret not in err
        assert secret.split(":", 1)[-1] not in err


# -- the critical cases, each as a user would type it ------------------------------------------


@pytest.mark.parametrize("token", TOKENS)
def test_a_misspelt_token_flag_keeps_the_flag_and_hides_its_value(emulated_env, token) -> None:
    code, out, err = run_cli("doctor", "--argo-tokn", token)
    assert code == 2
    assert "unrecognized arguments: --argo-tokn" in err
    assert_one_clean_line(out + err, token)


def test_a_misspelt_flag_with_an_equals_sign_hides_its_value(emulated_env) -> None:
    code, out, err = run_cli("doctor", f"--argo-tokn={OPAQUE}")
    assert code == 2 and "--argo-tokn=<value hidden>" in err
    assert_one_clean_line(out + err, OPAQUE)


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("where", ["after", "before"])
def test_a_stray_positional_token_is_not_echoed(emulated_env, token, where) -> None:
    argv = ("doctor", token) if where == "after" else (token, "doctor")
    code, out, err = run_cli(*argv)
    assert code == 2
    assert_one_clean_line(out + err, token)


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize(
    "setting",
    [("ARGO_NAMESPACE", "--argo_namespace"), ("HERA_UTILS_K8S_CONTEXT", "--k8s_context"),
     ("KUBEVOLUMECLAIMNAME", "--k8s_volume_claim_name"),
     ("HERA_UTILS_TIMEOUT", "--request_timeout")],
)
def test_a_token_given_to_a_non_secret_setting_is_not_echoed(
    emulated_env, monkeypatch, token, setting
) -> None:
    variable, flag = setting
    monkeypatch.setenv(variable, token)
    code, out, err = run_cli("doctor")
    assert code in (2, 3)
    assert token not in out + err
    monkeypatch.delenv(variable)
    code, out, err = run_cli("doctor", flag, token)
    assert code in (2, 3)
    assert token not in out + err


@pytest.mark.parametrize("token", TOKENS)
def test_a_bare_token_line_in_hera_config_is_not_echoed(emulated_env, tmp_path, token) -> None:
    Path("hera.config").write_text(f"# pasted from the Argo UI\n{token}\n")
    code, out, err = run_cli("doctor")
    assert code == 2 and "hera.config:2: cannot read the line" in err
    assert_one_clean_line(out + err, token)


def test_an_explicit_config_file_is_learnt_from_too(emulated_env, tmp_path) -> None:
    config = tmp_path / "team.config"
    config.write_text(f"argo_namespace='{OPAQUE.lower()}x'\nargo_token {OPAQUE}\n")
    code, out, err = run_cli("doctor", "--config", str(config))
    assert code == 2
    assert_one_clean_line(out + err, OPAQUE)


def test_the_kubeconfig_token_never_shows(emulated_env, monkeypatch) -> None:
    monkeypatch.setenv("HERA_UTILS_K8S_CONTEXT", emulated_env.user_token)
    code, out, err = run_cli("doctor")
    assert code == 2
    assert emulated_env.user_token not in out + err


# -- main.py: every channel of output ---------------------------------------------------------


NOISY_MAIN = """
import logging, sys, warnings
from hera_utils import experiment

def noisy(args):
    token = args.argo_token
    print(f"stdout: the header is Bearer {token}")
    print(f"a bare {token} in the middle of a line")
    logging.getLogger("some.library").warning("logged: %s", token)
    warnings.warn(f"warned: {token}", UserWarning, stacklevel=1)
    sys.stderr.write(f"written in pieces: {token[:5]}")
    sys.stderr.write(f"{token[5:]}\\n")
    return 0

sys.exit(experiment.main({"noisy": noisy}))
"""


def test_main_py_scrubs_stdout_stderr_logging_and_warnings(tmp_path, monkeypatch) -> None:
    script = tmp_path / "main.py"
    script.write_text(NOISY_MAIN)
    monkeypatch.setenv("ARGO_TOKEN", OPAQUE)
    done = subprocess.run([sys.executable, str(script), "noisy"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert OPAQUE not in done.stdout + done.stderr
    assert "stdout: the header is Bearer <redacted>" in done.stdout
    assert "a bare <redacted> in the middle" in done.stdout
    for line in ("logged: <redacted>", "warned: <redacted>", "written in pieces: <redacted>"):
        assert line in done.stderr, done.stderr


@pytest.mark.parametrize("token", TOKENS)
def test_main_py_hides_a_misspelt_flags_value(emulated_env, capsys, token) -> None:
    code = experiment.main({"render": lambda args: 0}, ["render", "--argo-tokn", token])
    captured = capsys.readouterr()
    assert code == 2
    assert "--argo-tokn" in captured.err
    assert_one_clean_line(captured.out + captured.err, token)


def test_main_py_reports_a_bug_in_one_scrubbed_line(emulated_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ARGO_TOKEN", JWT)

    def broken(args) -> int:
        raise RuntimeError(f"the server said {JWT}")

    code = experiment.main({"broken": broken}, ["broken"])
    err = capsys.readouterr().err
    assert code == 2 and "unexpected RuntimeError" in err
    assert_one_clean_line(err, JWT)


# -- files ------------------------------------------------------------------------------------


def test_provenance_files_are_scrubbed(tmp_path) -> None:
    register_secret(OPAQUE)
    path = write_provenance(
        tmp_path / "run",
        rendered_yaml=f"metadata:\n  annotations:\n    auth: Bearer {JWT}\n",
        inputs={"token": OPAQUE, "sso": SSO},
        project_dir=tmp_path,
        record={"argo_server": f"https://argo.example.org/?t={OPAQUE}"},
    )
    for written in path.parent.iterdir():
        text = written.read_text()
        for token in (OPAQUE, JWT, SSO):
            assert token not in text, written.name
    assert json.loads((path.parent / "inputs.json").read_text())["token"] == REDACTED


# -- the scrubber's rules ---------------------------------------------------------------------


def test_data_keeps_names_uids_commits_and_images() -> None:
    text = (
        "name: spec-x7k2p uid: 3f2b9c1e-8d4a-4f6b-9e2d-7c1a5b3e9f80 "
        "commit: 9fceb02d0ae598e95dc970b74767f19372d61af8 image: ghcr.io/MyOrg/Image2:v1.2.3 "
        "run_Experiment_Number_12"
    )
    assert scrub(text) == text


def test_messages_lose_long_opaque_strings_but_not_words() -> None:
    assert scrub_message(f"value {OPAQUE!r} is bad") == f"value '{REDACTED}' is bad"
    assert scrub_message("context 'production-eu-west-1' is unknown").endswith("is unknown")
    assert "production-eu-west-1" in scrub_message("context 'production-eu-west-1'")


def test_token_shapes_are_recognised_without_being_registered() -> None:
    redactor = Redactor()
    for text, kept in [
        (f"Authorization: Bearer {OPAQUE}", "Authorization: Bearer <redacted>"),
        ("basic dXNlcjpwYXNzd29yZA== end", "basic <redacted> end"),
        (f"jwt={JWT}", "jwt=<redacted>"),
        (f"sso {SSO}", "sso <redacted>"),
    ]:
        assert redactor.scrub(text) == kept


def test_a_registered_secret_is_hidden_in_its_bare_and_bearer_forms() -> None:
    redactor = Redactor()
    redactor.register(f"Bearer {OPAQUE}")
    assert redactor.scrub(f"x {OPAQUE} y") == f"x {REDACTED} y"
    redactor.register("abc")  # too short to replace safely
    assert redactor.scrub("abcdef") == "abcdef"


def test_the_command_line_teaches_only_what_it_cannot_place() -> None:
    redactor_before = set()
    cli = parser()
    cli.add_argument("command", choices=["doctor"])
    learn_from_command_line(
        ["--argo_namespace", "team-a", "doctor", "--argo_token", "tok-1234567", "--argo-tokn",
         "tok-7654321", "stray-Value-99"], cli)
    from hera_utils.redaction import REDACTOR

    known = REDACTOR.secrets - redactor_before
    assert {"tok-1234567", "tok-7654321", "stray-Value-99"} <= known
    assert "team-a" not in known and "doctor" not in known
