"""Settings: every row of the contract's table, from each source, and their precedence."""

from __future__ import annotations

import pytest

import hera_utils
from hera_utils.errors import ConfigurationError
from hera_utils.settings import SETTINGS

# (key, environment variable, a valid raw value, the parsed value)
ROWS = [
    ("k8s_config_file", "KUBECONFIG", "/a/config:/b/config", "/a/config:/b/config"),
    ("k8s_context", "HERA_UTILS_K8S_CONTEXT", "lab", "lab"),
    ("argo_server", "ARGO_SERVER", "argowf.example.org:443", "argowf.example.org:443"),
    ("argo_secure", "ARGO_SECURE", "false", False),
    ("argo_insecure_skip_verify", "ARGO_INSECURE_SKIP_VERIFY", "true", True),
    ("argo_base_href", "ARGO_BASE_HREF", "/argo/", "/argo/"),
    ("argo_token", "ARGO_TOKEN", "Bearer v2:abcdef", "Bearer v2:abcdef"),
    ("argo_namespace", "ARGO_NAMESPACE", "experiments", "experiments"),
    ("argo_service_account", "ARGO_SERVICE_ACCOUNT", "argo-workflow", "argo-workflow"),
    ("argo_auth_mode", "HERA_UTILS_ARGO_AUTH_MODE", "token-request", "token-request"),
    ("argo_submit_via", "HERA_UTILS_SUBMIT_VIA", "kubernetes", "kubernetes"),
    ("k8s_volume_claim_name", "KUBEVOLUMECLAIMNAME", "data", "data"),
    ("k8s_configmap_name", "KUBECONFIGMAPNAME", "proxy", "proxy"),
    ("request_timeout", "HERA_UTILS_TIMEOUT", "2.5", 2.5),
]


def test_the_rows_cover_every_setting_of_the_contract():
    assert {row[0] for row in ROWS} == {spec.key for spec in SETTINGS}
    assert {row[1] for row in ROWS} == {spec.env_var for spec in SETTINGS}


@pytest.mark.parametrize(("key", "env", "raw", "parsed"), ROWS)
def test_each_setting_from_the_command_line(key, env, raw, parsed):
    args = hera_utils.parse_arguments([f"--{key}", raw])
    assert getattr(args, key) == parsed
    assert args.origin(key) == "command line"


@pytest.mark.parametrize(("key", "env", "raw", "parsed"), ROWS)
def test_each_setting_from_its_dashed_flag(key, env, raw, parsed):
    args = hera_utils.parse_arguments([f"--{key.replace('_', '-')}={raw}"])
    assert getattr(args, key) == parsed


@pytest.mark.parametrize(("key", "env", "raw", "parsed"), ROWS)
def test_each_setting_from_the_environment(key, env, raw, parsed, monkeypatch):
    monkeypatch.setenv(env, raw)
    args = hera_utils.parse_arguments([])
    assert getattr(args, key) == parsed
    assert args.origin(key) == f"environment ({env})"


@pytest.mark.parametrize(("key", "env", "raw", "parsed"), ROWS)
def test_each_setting_from_a_config_file(key, env, raw, parsed, isolated_settings):
    (isolated_settings / "hera.config").write_text(f"# comment\n{key}='{raw}'\n")
    args = hera_utils.parse_arguments([])
    assert getattr(args, key) == parsed
    assert args.origin(key) == "config file (hera.config)"


def test_defaults():
    args = hera_utils.parse_arguments([])
    assert args.argo_secure is True
    assert args.argo_insecure_skip_verify is False
    assert args.argo_auth_mode == "auto"
    assert args.request_timeout == 10.0
    assert args.argo_server is None
    assert args.origin("request_timeout") == "default"


def test_command_line_beats_environment_beats_config_file_beats_default(
        monkeypatch, isolated_settings):
    (isolated_settings / "hera.config").write_text(
        "argo_namespace='from-file'\nargo_service_account='file-sa'\nk8s_context='file-ctx'\n")
    monkeypatch.setenv("ARGO_NAMESPACE", "from-env")
    monkeypatch.setenv("ARGO_SERVICE_ACCOUNT", "env-sa")
    args = hera_utils.parse_arguments(["--argo_namespace", "from-cli"])
    assert args.argo_namespace == "from-cli"
    assert args.argo_service_account == "env-sa"
    assert args.k8s_context == "file-ctx"
    assert args.argo_auth_mode == "auto"
    assert [args.origin(k) for k in ("argo_namespace", "argo_service_account", "k8s_context",
                                     "argo_auth_mode")] == [
        "command line", "environment (ARGO_SERVICE_ACCOUNT)", "config file (hera.config)",
        "default"]


def test_config_files_priority_explicit_then_hera_config_then_argoconfig_then_cwd_then_home(
        monkeypatch, isolated_settings, tmp_path):
    home = tmp_path / "home"
    files = {
        "explicit": tmp_path / "explicit.config",
        "hera": tmp_path / "hera-env.config",
        "argo": tmp_path / "argo-env.config",
        "cwd": isolated_settings / "hera.config",
        "home": home / "hera.config",
    }
    keys = ["k8s_context", "argo_namespace", "argo_service_account", "k8s_configmap_name",
            "k8s_volume_claim_name"]
    # File number i sets keys 0..i, so key j is set by files j.. and file j must win it.
    for index, (label, path) in enumerate(files.items()):
        path.write_text("".join(f"{key}='{label}'\n" for key in keys[: index + 1]))
    monkeypatch.setenv("HERA_CONFIG", str(files["hera"]))
    monkeypatch.setenv("ARGOCONFIG", str(files["argo"]))
    args = hera_utils.parse_arguments(["--config", str(files["explicit"])])
    assert [getattr(args, key) for key in keys] == ["explicit", "hera", "argo", "cwd", "home"]


def test_setting_flags_are_accepted_after_a_subcommand():
    cli = hera_utils.parser()
    cli.add_argument("command", choices=["doctor", "submit"])
    after = cli.parse_args(["doctor", "--argo_server", "h:1"])
    before = cli.parse_args(["--argo-server", "h:1", "doctor"])
    assert (after.command, after.argo_server) == (before.command, before.argo_server) == (
        "doctor", "h:1")


def test_users_extend_the_parser_with_their_own_options(monkeypatch, isolated_settings):
    (isolated_settings / "hera.config").write_text("vintage='2015'\n")
    monkeypatch.setenv("MY_BOROUGHS", "lyon,villeurbanne")
    cli = hera_utils.parser()
    cli.add("--vintage", env_var="MY_VINTAGE", default="2012")
    cli.add("--boroughs", env_var="MY_BOROUGHS", default="")
    args = cli.parse_args([])
    assert args.vintage == "2015"
    assert args.boroughs == "lyon,villeurbanne"
    assert args.origin("vintage") == "config file (hera.config)"


def test_unknown_config_keys_are_reported_not_fatal(isolated_settings):
    (isolated_settings / "hera.config").write_text("argo_namesapce='typo'\n")
    args = hera_utils.parse_arguments([])
    assert args.unknown_config_keys == {"argo_namesapce": "hera.config"}


def test_an_explicit_config_file_that_does_not_exist_is_an_error(monkeypatch):
    with pytest.raises(ConfigurationError, match="does not exist"):
        hera_utils.parse_arguments(["--config", "/nonexistent/hera.config"])
    monkeypatch.setenv("HERA_CONFIG", "/nonexistent/other.config")
    with pytest.raises(ConfigurationError, match=r"HERA_CONFIG"):
        hera_utils.parse_arguments([])


def test_empty_environment_variables_count_as_unset(monkeypatch):
    monkeypatch.setenv("ARGO_NAMESPACE", "")
    args = hera_utils.parse_arguments([])
    assert args.argo_namespace is None
    assert args.origin("argo_namespace") == "default"


def test_argo_secure_accepts_a_bare_flag_meaning_true(monkeypatch):
    monkeypatch.setenv("ARGO_SECURE", "false")
    assert hera_utils.parse_arguments([]).argo_secure is False
    assert hera_utils.parse_arguments(["--argo_secure"]).argo_secure is True


def test_values_are_typed_with_an_error_naming_setting_value_and_origin(monkeypatch):
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError) as caught:
        hera_utils.parse_arguments([])
    assert caught.value.setting == "request_timeout"
    assert "'soon'" in caught.value.message
    assert "HERA_UTILS_TIMEOUT" in caught.value.message


def test_settings_are_typed_read_only_and_keep_their_origins(monkeypatch, tmp_path):
    import dataclasses

    from hera_utils.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "2.5")
    p = hera_utils.parser()
    p.add("--vintage", default="2015")
    args = p.parse_args(["--argo_namespace", "ns1", "--vintage", "2020"])
    assert isinstance(args, Settings)
    assert args.request_timeout == 2.5 and isinstance(args.request_timeout, float)
    assert args.origin("request_timeout") == "environment (HERA_UTILS_TIMEOUT)"
    assert args.origin("argo_namespace") == "command line"
    assert args.vintage == "2020"  # a script's own option, read as an attribute
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.argo_namespace = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        args.origins["argo_namespace"] = "forged"  # type: ignore[index]
    changed = args.replace(argo_namespace="ns2", vintage="2021")
    assert (changed.argo_namespace, changed.vintage, args.argo_namespace) == ("ns2", "2021", "ns1")
    with pytest.raises(AttributeError, match="no_such_option"):
        _ = args.no_such_option
