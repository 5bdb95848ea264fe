"""Settings: command line > environment > config files > defaults, and where each came from.

`parser()` returns a configargparse parser that knows every setting of the contract and
that users extend with their own options (`.add(...)`); `parse_arguments()` is the
original one-call entry point. Errors are `ConfigurationError`s naming the setting, its
origin and the fix; nothing here touches the network.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import configargparse

from . import validation
from .config_file import (
    HeraConfigParser,
    existing_config_files,
    parse_config_text,
    read_config_file,
    warn_if_secret_readable_by_others,
)
from .errors import ConfigurationError

DEFAULT_TIMEOUT = 10.0
AUTH_MODES = ("auto", "token", "token-request", "sa-secret", "none")
SUBMIT_PATHS = ("auto", "argo-server", "kubernetes")


@dataclass(frozen=True)
class SettingSpec:
    """One setting of the contract: its key (config file and flag) and environment variable."""

    key: str
    env_var: str
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    secret: bool = False
    choices: tuple[str, ...] | None = None


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "k8s_config_file",
        "KUBECONFIG",
        "kubeconfig file(s), ':'-separated (default: ~/.kube/config)",
    ),
    SettingSpec(
        "k8s_context", "HERA_UTILS_K8S_CONTEXT", "kubeconfig context (default: its current-context)"
    ),
    SettingSpec(
        "argo_server",
        "ARGO_SERVER",
        "Argo Server as host:port (as the Argo CLI writes it) or http(s)://host[:port][/path]",
    ),
    SettingSpec(
        "argo_secure",
        "ARGO_SECURE",
        "use https for a bare host:port",
        default=True,
        type=validation.boolean,
    ),
    SettingSpec(
        "argo_insecure_skip_verify",
        "ARGO_INSECURE_SKIP_VERIFY",
        "do not verify the Argo Server's TLS certificate (unsafe)",
        default=False,
        type=validation.boolean,
    ),
    SettingSpec(
        "argo_base_href",
        "ARGO_BASE_HREF",
        "path prefix of an Argo Server behind an ingress",
        default="",
    ),
    SettingSpec(
        "argo_token",
        "ARGO_TOKEN",
        "'Bearer ...', 'Bearer v2:...' (SSO) or a bare token",
        type=validation.token_text,
        secret=True,
    ),
    SettingSpec(
        "argo_namespace",
        "ARGO_NAMESPACE",
        "namespace of the workflows (default: the kubeconfig context's)",
        type=validation.dns1123_label,
    ),
    SettingSpec(
        "argo_service_account",
        "ARGO_SERVICE_ACCOUNT",
        "service account of the workflow pods, and token source",
        type=validation.dns1123_subdomain,
    ),
    SettingSpec(
        "argo_auth_mode",
        "HERA_UTILS_ARGO_AUTH_MODE",
        "how to get the Argo token",
        default="auto",
        choices=AUTH_MODES,
    ),
    SettingSpec(
        "argo_submit_via",
        "HERA_UTILS_SUBMIT_VIA",
        "how workflows are submitted: auto (the Argo Server when argo_server is set, else "
        "the Kubernetes API), argo-server or kubernetes",
        default="auto",
        choices=SUBMIT_PATHS,
    ),
    SettingSpec(
        "k8s_volume_claim_name",
        "KUBEVOLUMECLAIMNAME",
        "PersistentVolumeClaim used by the experiment",
        type=validation.dns1123_subdomain,
    ),
    SettingSpec(
        "k8s_configmap_name",
        "KUBECONFIGMAPNAME",
        "ConfigMap used by the experiment (e.g. HTTP proxy)",
        type=validation.dns1123_subdomain,
    ),
    SettingSpec(
        "request_timeout",
        "HERA_UTILS_TIMEOUT",
        "bound on every network call, in seconds",
        default=DEFAULT_TIMEOUT,
        type=validation.timeout_seconds,
    ),
)
SECRET_KEYS = frozenset(spec.key for spec in SETTINGS if spec.secret)


@dataclass(frozen=True)
class Settings:
    """The parsed settings, typed and read-only; `origin(key)` says where each came from.

    Built once after parsing. The options a parser adds on top of the contract's settings
    (an experiment's `--wait`, a script's own flags) are read as attributes too, from
    `extras`; `replace(**changes)` gives a copy with some values changed.
    """

    k8s_config_file: str | None = None
    k8s_context: str | None = None
    argo_server: str | None = None
    argo_secure: bool = True
    argo_insecure_skip_verify: bool = False
    argo_base_href: str = ""
    argo_token: str | None = None
    argo_namespace: str | None = None
    argo_service_account: str | None = None
    argo_auth_mode: str = "auto"
    argo_submit_via: str = "auto"
    k8s_volume_claim_name: str | None = None
    k8s_configmap_name: str | None = None
    request_timeout: float = DEFAULT_TIMEOUT
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    unknown_config_keys: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        # Read-only all the way down: a copy of each mapping behind a read-only view.
        for name in ("origins", "unknown_config_keys", "extras"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: the parser's other options.
        extras = self.__dict__.get("extras", {})
        if name in extras:
            return extras[name]
        raise AttributeError(f"no setting or option {name!r}")

    def origin(self, key: str) -> str:
        """Where the setting `key` came from: 'command line', 'environment (VAR)', ..."""
        return self.origins.get(key, "default")

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied (settings, `origins`, or the parser's options)."""
        fields = {name: changes.pop(name) for name in list(changes) if name in _FIELDS}
        extras = {**self.extras, **changes}
        return dataclasses.replace(self, **fields, extras=extras)

    @classmethod
    def from_namespace(cls, namespace: Any) -> Settings:
        """The settings held by an argparse namespace (or any object with attributes)."""
        if isinstance(namespace, Settings):
            return namespace
        values = dict(vars(namespace))
        fields = {name: values.pop(name) for name in list(values) if name in _FIELDS}
        return cls(**fields, extras=values)


_FIELDS = frozenset(f.name for f in dataclasses.fields(Settings)) - {"extras"}


class SettingsParser(configargparse.ArgParser):
    """A configargparse parser preloaded with hera_utils' settings; extend it with `.add`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("config_file_parser_class", HeraConfigParser)
        kwargs.setdefault("ignore_unknown_config_file_keys", True)
        kwargs.setdefault("args_for_setting_config_path", [])
        super().__init__(*args, **kwargs)
        self._argv: list[str] = []
        self._environ: dict[str, str] = {}
        group = self.add_argument_group(
            "hera_utils settings (flag > environment > hera.config > default)"
        )
        group.add_argument(
            "--config",
            is_config_file=True,
            metavar="FILE",
            help="a hera.config file read before all others",
        )
        for spec in SETTINGS:
            _add_setting(group, spec)

    # argparse reports errors by exiting; library code raises instead, so that only the
    # command lines choose exit codes and what is printed.
    def error(self, message: str) -> NoReturn:
        """Raise a `ConfigurationError` naming the setting and where its value came from."""
        match = re.search(r"argument (--[\w-]+)", message)
        setting, origin = "", ""
        if match:
            action = self._action_for_option(match[1])
            if action is not None:
                setting = action.dest
                origin = self._origin_of(action)
        text = message
        if setting and match:
            # "argument --a/--b: why" -> "setting a: why"
            text = re.sub(r"argument --[\w/-]+", f"setting {setting}", message, count=1)
        if setting and origin and origin != "command line":
            text = f"{text} (from {origin})"
        raise ConfigurationError(text, hint="see --help for the accepted values", setting=setting)

    def parse_known_args(
        self, args: Sequence[str] | None = None, namespace: Any = None, **kwargs: Any
    ) -> tuple[Any, list[str]]:
        argv = list(sys.argv[1:] if args is None else args)
        # An empty variable counts as unset, as in the Argo CLI.
        environ = {k: v for k, v in kwargs.pop("env_vars", os.environ).items() if v != ""}
        self._argv, self._environ = argv, environ
        explicit = _explicit_config(argv)
        if explicit is not None and not Path(explicit).expanduser().is_file():
            raise ConfigurationError(
                f"config file {explicit} named by --config does not exist",
                hint="fix the path or drop --config",
                setting="config",
            )
        files = existing_config_files(environ)
        # configargparse lets later files override earlier ones: lowest priority first.
        self._default_config_files = [str(p) for p in reversed(files)]
        parsed, unknown = super().parse_known_args(
            args=argv, namespace=namespace, env_vars=environ, **kwargs
        )
        config_paths = ([Path(explicit).expanduser()] if explicit else []) + files
        origins, unknown_keys = self._origins(config_paths)
        parsed.origins, parsed.unknown_config_keys = origins, unknown_keys
        return Settings.from_namespace(parsed), unknown

    def _origins(self, config_paths: list[Path]) -> tuple[dict[str, str], dict[str, str]]:
        contents = [
            (path, parse_config_text(read_config_file(path), str(path))) for path in config_paths
        ]
        known: set[str] = set()
        origins: dict[str, str] = {}
        for action in self._actions:
            if not action.option_strings or action.dest in ("help", "config"):
                continue
            keys = {option.lstrip("-") for option in action.option_strings}
            known |= keys
            origins[action.dest] = self._origin_of(action, contents, keys)
        unknown = {key: str(path) for path, items in contents for key in items if key not in known}
        for path, items in contents:
            secrets = {key for key, value in items.items() if value} & SECRET_KEYS
            warn_if_secret_readable_by_others(path, secrets)
        return origins, unknown

    def _origin_of(
        self,
        action: argparse.Action,
        contents: Sequence[tuple[Path, Mapping[str, str]]] | None = None,
        keys: set[str] | None = None,
    ) -> str:
        if any(_on_command_line(self._argv, option) for option in action.option_strings):
            return "command line"
        env_var = getattr(action, "env_var", None)
        if env_var and self._environ.get(env_var):
            return f"environment ({env_var})"
        keys = keys or {option.lstrip("-") for option in action.option_strings}
        if contents is None:
            try:
                contents = [
                    (Path(p), parse_config_text(read_config_file(Path(p)), p))
                    for p in reversed(self._default_config_files)
                ]
            except (OSError, ConfigurationError):
                contents = []
        for path, items in contents:
            if keys & set(items):
                return f"config file ({path})"
        return "default"

    def _action_for_option(self, option: str) -> argparse.Action | None:
        actions: list[argparse.Action] = self._actions
        for action in actions:
            if option in action.option_strings:
                return action
        return None


def parser(**kwargs: Any) -> SettingsParser:
    """A settings parser with every hera_utils setting; add your own options with `.add`."""
    kwargs.setdefault("description", "Settings of a Hera experiment (see hera-utils config --help)")
    return SettingsParser(**kwargs)


def parse_arguments(argv: Sequence[str] | None = None) -> Settings:
    """Parse the command line (`sys.argv` by default), environment and config files."""
    settings: Settings = parser().parse_args(argv)
    return settings


def redact(key: str, value: Any) -> Any:
    """The value to show for a setting: secrets are replaced by a description of their form."""
    if key in SECRET_KEYS and value:
        return describe_token(str(value))
    return value


def describe_token(token: str) -> str:
    """Describe a token without revealing it, e.g. '<redacted Bearer v2 token, 812 chars>'."""
    kind = (
        "Bearer v2"
        if token.startswith("Bearer v2:")
        else token.split(" ")[0]
        if " " in token
        else "bare"
    )
    return f"<redacted {kind} token, {len(token)} chars>"


def _add_setting(group: argparse._ArgumentGroup, spec: SettingSpec) -> None:
    options = [f"--{spec.key}"]
    if "_" in spec.key:
        options.append(f"--{spec.key.replace('_', '-')}")
    kwargs: dict[str, Any] = {
        "dest": spec.key,
        "env_var": spec.env_var,
        "default": spec.default,
        "help": spec.help,  # configargparse adds "[env var: NAME]" itself
    }
    if spec.type is not None:
        kwargs["type"] = spec.type
    if spec.choices:
        kwargs["choices"] = spec.choices
    if spec.type is validation.boolean:
        # `--argo_secure` alone means true; `--argo_secure false` turns it off.
        kwargs.update(nargs="?", const=True, metavar="BOOL")
    if spec.secret:
        kwargs["metavar"] = "TOKEN"
    group.add_argument(*options, **kwargs)


def _explicit_config(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def _on_command_line(argv: list[str], option: str) -> bool:
    return any(arg == option or arg.startswith(option + "=") for arg in argv)
