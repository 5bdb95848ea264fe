"""Hostile input and faults: a token put where it does not belong, a server that loses or
spoils its answers. Each case gets its exit code and one line, no traceback, and no secret
in any output or in any file written."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hera_utils.cli import main

OPAQUE = "s3cr3t-Token-Value-0042"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXBhcnQ"
SSO = "v2:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="
RANCHER = "kubeconfig-u-abc12:x8f7k2m9q4w1z6c3v5b8n0p2r7t4y9u1"
INTERNAL_WORDS = ("ChunkedEncodingError", "JSONDecodeError", "ProtocolError", "MaxRetryError",
                  "urllib3", "HTTP 0 ", "HTTP 0)")
SHAPES = {"opaque": OPAQUE, "jwt": JWT, "sso": SSO, "rancher": RANCHER}


@dataclass
class Case:
    id: str
    argv: list[str]
    code: int
    expect: str = ""
    setup: Callable[..., None] = lambda cluster, monkeypatch, tmp_path: None
    secrets: tuple[str, ...] = field(default_factory=lambda: tuple(SHAPES.values()))


def env(**values: str) -> Callable[..., None]:
    def apply(cluster, monkeypatch, tmp_path):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return apply


def config_line(text: str, where: str = "cwd") -> Callable[..., None]:
    def apply(cluster, monkeypatch, tmp_path):
        if where == "cwd":
            Path("hera.config").write_text(text)
        elif where == "home":
            Path("~/hera.config").expanduser().write_text(text)
        else:
            (tmp_path / "team.config").write_text(text)
            monkeypatch.setenv("HERA_CONFIG", str(tmp_path / "team.config"))
    return apply


def fault(kind: str, **options) -> Callable[..., None]:
    def apply(cluster, monkeypatch, tmp_path):
        monkeypatch.setenv("ARGO_TOKEN", f"Bearer {OPAQUE}")
        cluster.tokens.add(OPAQUE, user="alice", namespaces={"*"})
        cluster.argo.faults.set(kind, **options)
    return apply


CASES: list[Case] = []
for shape, token in SHAPES.items():
    CASES += [
        Case(f"misspelt-flag-{shape}", ["doctor", "--argo-tokn", token], 2,
             "unrecognized arguments: --argo-tokn"),
        Case(f"misspelt-flag-equals-{shape}", ["doctor", f"--argo_tokn={token}"], 2,
             "--argo_tokn=<value hidden>"),
        Case(f"abbreviated-flag-{shape}", ["doctor", "--argo_tok", token, "--argo_sever", "x"],
             2, "unrecognized arguments: --argo_sever"),
        Case(f"stray-positional-{shape}", ["doctor", token], 2, "unrecognized arguments"),
        Case(f"positional-as-command-{shape}", [token], 2, "invalid choice"),
        Case(f"after-double-dash-{shape}", ["doctor", "--", token], 2, ""),
        Case(f"namespace-env-{shape}", ["doctor"], 2, "argo_namespace",
             env(ARGO_NAMESPACE=token)),
        Case(f"namespace-flag-{shape}", ["doctor", "--argo-namespace", token], 2,
             "argo_namespace"),
        Case(f"timeout-env-{shape}", ["doctor"], 2, "request_timeout",
             env(HERA_UTILS_TIMEOUT=token)),
        Case(f"context-env-{shape}", ["doctor"], 2, "is not in the kubeconfig",
             env(HERA_UTILS_K8S_CONTEXT=token)),
        Case(f"bare-line-cwd-config-{shape}", ["doctor"], 2, "hera.config:2: cannot read",
             config_line(f"argo_namespace='team'\n{token}\n")),
        Case(f"bare-line-home-config-{shape}", ["doctor"], 2, "cannot read the line",
             config_line(f"{token}\n", where="home")),
        Case(f"bare-line-env-config-{shape}", ["config"], 2, "team.config:1: cannot read",
             config_line(f"  {token}  # pasted\n", where="env")),
        Case(f"token-key-without-equals-{shape}", ["doctor"], 2, "cannot read the line",
             config_line(f"argo_token {token}\n")),
    ]
CASES += [
    Case("server-truncates-answers", ["doctor"], 3, "argo_server", fault("truncated")),
    Case("server-502s-after-acting", ["doctor"], 3, "HTTP 502", fault("bad-gateway")),
    Case("server-loses-answers", ["doctor"], 3, "without answering", fault("lost-reply")),
    Case("server-wrong-shape-on-list", ["doctor"], 3, "",
         fault("wrong-shape", paths="/api/v1/workflows/")),
]


def test_every_case_id_is_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(case: Case, emulated_env, monkeypatch, tmp_path) -> None:
    case.setup(emulated_env, monkeypatch, tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = main(case.argv, stdout=out, stderr=err)
    output = out.getvalue() + err.getvalue()
    assert code == case.code, output
    assert case.expect in output, output
    assert "Traceback" not in output
    # Messages speak of the server and the setting, not of the libraries underneath.
    assert not [word for word in INTERNAL_WORDS if word in output], output
    if code == 2 and err.getvalue():
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    for secret in (*case.secrets, emulated_env.user_token):
        assert secret not in output
        after_prefix = secret.partition(":")[2]
        assert not after_prefix or after_prefix not in output  # nor its part after a prefix
    written = [p for p in Path.cwd().rglob("*") if p.is_file() and p.name != "hera.config"]
    for path in written:
        assert not any(secret in path.read_text(errors="replace") for secret in case.secrets)


# -- bounded memory ---------------------------------------------------------------------------

_FLOOD = """
import resource, sys
from hera_utils.redaction import scrubbed_output

def peak_after(pieces):
    chunk = "x" * 65536  # 64 KiB pieces, never a line end: the scrubber must not hoard
    for _ in range(pieces):
        sys.stdout.write(chunk)
    sys.stdout.flush()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

with scrubbed_output():
    small = peak_after(64)     # 4 MiB
    large = peak_after(1024)   # 64 MiB more
print(small, large, file=sys.stderr)
"""


def test_scrubbed_output_without_line_ends_stays_in_bounded_memory(tmp_path) -> None:
    script = tmp_path / "flood.py"
    script.write_text(_FLOOD)
    with open(tmp_path / "out", "wb") as sink:
        done = subprocess.run([sys.executable, str(script)], stdout=sink,
                              stderr=subprocess.PIPE, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").stat().st_size == (64 + 1024) * 65536
    small, large = (int(word) for word in done.stderr.split())
    # The peak (KiB) must not follow the volume written: 64 MiB more costs under 16 MiB.
    assert large - small < 16 * 1024, (small, large)
