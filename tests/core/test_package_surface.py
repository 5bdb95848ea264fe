"""The package's public surface: what `__all__` promises is what it exports."""

from __future__ import annotations

import ast
from pathlib import Path

import hera_utils


def test_all_and_the_type_checking_imports_name_the_same_things() -> None:
    source = Path(hera_utils.__file__).read_text()
    tree = ast.parse(source)
    checked: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    checked |= {alias.asname or alias.name for alias in statement.names}
    assert checked, "no TYPE_CHECKING imports found"
    assert checked <= set(hera_utils.__all__)
    for name in hera_utils.__all__:
        assert getattr(hera_utils, name) is not None, name


def test_the_help_names_each_variable_once_and_every_config_file_place() -> None:
    from hera_utils.cli import build_parser

    text = " ".join(build_parser().format_help().split())
    assert text.count("KUBECONFIG]") == 1 and "[env KUBECONFIG]" not in text
    for place in ("$HERA_CONFIG", "$ARGOCONFIG", "./hera.config", "~/hera.config"):
        assert place in text
