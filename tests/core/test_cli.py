"""`hera-utils config`, `version` and `--help`."""

from __future__ import annotations

import io
import subprocess
import sys

from hera_utils.cli import main

TOKEN = "Bearer v2:very-secret-sso-token-123"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_config_shows_values_and_origins_with_the_token_redacted(monkeypatch, isolated_settings):
    monkeypatch.setenv("ARGO_TOKEN", TOKEN)
    monkeypatch.setenv("ARGO_SERVER", "argowf.example.org:443")
    (isolated_settings / "hera.config").write_text("argo_namespace='lab'\n")
    code, out, _ = run("config", "--show-origin", "--request_timeout", "4")
    assert code == 0
    assert "very-secret-sso-token-123" not in out
    assert "<redacted Bearer v2 token, 35 chars>" in out
    lines = {line.split("=")[0].strip(): line for line in out.splitlines() if "=" in line}
    assert lines["argo_token"].endswith("# environment (ARGO_TOKEN)")
    assert lines["argo_namespace"].endswith("# config file (hera.config)")
    assert lines["request_timeout"].endswith("# command line")
    assert lines["argo_auth_mode"].endswith("# default")
    assert "The Argo Server is reached at https://argowf.example.org:443/" in out
    assert "using https because argo_secure is true" in out


def test_config_warns_about_unknown_keys(isolated_settings):
    (isolated_settings / "hera.config").write_text("argo_sever='typo:1'\n")
    code, _, err = run("config")
    assert code == 0
    assert "unknown key 'argo_sever' ignored" in err


def test_version_names_every_component():
    code, out, _ = run("version")
    assert code == 0
    for name in ("hera-utils", "hera ", "kubernetes ", "python "):
        assert name in out


def test_help_imports_neither_hera_nor_the_kubernetes_client():
    probe = (
        "import sys\n"
        "from hera_utils.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('hera', 'kubernetes'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert "usage: hera-utils" in done.stdout
    assert "HEAVY []" in done.stderr


def test_setting_flags_work_after_the_subcommand(isolated_settings):
    code, out, _ = run("config", "--argo-namespace", "after")
    assert code == 0
    assert "argo_namespace            = after" in out
