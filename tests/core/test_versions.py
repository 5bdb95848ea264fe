"""Hera version helpers."""

from __future__ import annotations

import io
from importlib import metadata

import pytest

import hera_utils
from hera_utils.errors import ConfigurationError

INSTALLED = metadata.version("hera")


def test_print_version_names_hera_and_hera_utils():
    stream = io.StringIO()
    hera_utils.print_version(stream)
    assert stream.getvalue() == f"hera {INSTALLED} (hera_utils {hera_utils.__version__})\n"


@pytest.mark.parametrize(("required", "expected"), [
    (INSTALLED, True), (f">={INSTALLED}", True), ("<1", False), (">=5.16,<99", True),
    ("1.0.0", False),
])
def test_check_version(required, expected):
    assert hera_utils.check_version(required) is expected


def test_assert_version_says_how_to_install_the_right_one():
    with pytest.raises(ConfigurationError) as caught:
        hera_utils.assert_version("<1")
    assert caught.value.hint == "pip install 'hera<1'"
    hera_utils.assert_version(f"=={INSTALLED}")


def test_a_malformed_requirement_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="not a version requirement"):
        hera_utils.check_version(">>5")
