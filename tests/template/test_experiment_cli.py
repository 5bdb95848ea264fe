"""The command line of a generated main.py (hera_utils.experiment.parse_args), in-process."""

from __future__ import annotations

import pytest

from hera_utils.errors import ConfigurationError
from hera_utils.experiment import parse_args

COMMANDS = ["render", "check", "submit", "local"]
DEFAULTS = {"argo_namespace": "argo", "k8s_volume_claim_name": "experiment-data"}


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("KUBEVOLUMECLAIMNAME", "ARGO_NAMESPACE", "HERA_CONFIG", "ARGOCONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./hera.config
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/hera.config


def parse(*argv: str):
    return parse_args(COMMANDS, list(argv), defaults=DEFAULTS)


def test_no_subcommand_means_submit() -> None:
    assert parse().command == "submit"


def test_the_experiment_defaults_come_last(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse("render").k8s_volume_claim_name == "experiment-data"
    monkeypatch.setenv("KUBEVOLUMECLAIMNAME", "from-env")
    assert parse("render").k8s_volume_claim_name == "from-env"
    assert parse("render", "--k8s_volume_claim_name", "from-flag").k8s_volume_claim_name == (
        "from-flag"
    )


def test_setting_flags_are_accepted_after_the_subcommand() -> None:
    assert parse("check", "--argo-namespace", "team").argo_namespace == "team"
    assert parse("--argo_namespace", "team", "check").argo_namespace == "team"


def test_subcommand_options_are_parsed() -> None:
    args = parse("local", "--volume-dir", "v", "--parallelism", "2", "--stub-containers")
    assert (args.volume_dir, args.parallelism, args.stub_containers) == ("v", 2, True)
    assert parse("submit", "--wait", "--poll-interval", "0.5").poll_interval == 0.5


@pytest.mark.parametrize(
    "argv",
    [("render", "--wait"), ("check", "--volume-dir", "v"), ("submit", "-o", "f.yaml"),
     ("render", "--runs-dir", "r")],
)
def test_an_option_of_another_subcommand_is_refused(argv: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="applies to"):
        parse(*argv)


@pytest.mark.parametrize(
    "argv",
    [("local", "--parallelism", "0"), ("submit", "--wait-timeout", "-1"),
     ("submit", "--poll-interval", "0")],
)
def test_counts_and_durations_must_be_positive(argv: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="must be positive"):
        parse(*argv)


def test_an_unknown_subcommand_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse("deploy")


def test_resume_with_values_are_name_value_pairs() -> None:
    from hera_utils.experiment.local import resume_values

    args = parse_args(COMMANDS, ["local", "--resume-with", "approve=YES", "--resume-with",
                                 "note=a=b"])
    assert resume_values(args.resume_with) == {"approve": "YES", "note": "a=b"}
    with pytest.raises(ConfigurationError, match="is not NAME=VALUE"):
        resume_values(["approve"])
    with pytest.raises(ConfigurationError, match="applies to local"):
        parse_args(COMMANDS, ["submit", "--resume-with", "a=b"])
