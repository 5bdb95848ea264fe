"""Specification of hera_utils.layout: k8s_name and Layout."""

from __future__ import annotations

import re

import pytest

from hera_utils.errors import ConfigurationError
from hera_utils.layout import Layout, is_dns1123_label, k8s_name

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_a_valid_name_is_kept_as_is() -> None:
    assert k8s_name("collect", 2012, "lyon-1") == "collect-2012-lyon-1"


@pytest.mark.parametrize(
    "parts",
    [
        ("Collect", "LYON_1ER"),
        ("-leading",),
        ("trailing-",),
        ("a" * 80,),
        ("été", "Ñ"),
        ("___",),
        ("x.y/z",),
        ("a", "b" * 70, "c"),
    ],
)
def test_every_name_is_a_dns1123_label(parts: tuple[object, ...]) -> None:
    name = k8s_name(*parts)
    assert DNS1123.match(name), name
    assert len(name) <= 63


def test_changed_names_keep_a_readable_prefix() -> None:
    assert k8s_name("Compute", "LYON_1ER").startswith("compute-lyon-1er-")


def test_inputs_that_clean_to_the_same_text_get_different_names() -> None:
    names = {k8s_name("lyon-1er"), k8s_name("Lyon_1er"), k8s_name("LYON-1ER"), k8s_name("lyon 1er")}
    assert len(names) == 4


def test_long_inputs_sharing_a_prefix_get_different_names() -> None:
    first, second = k8s_name("x" * 100 + "1"), k8s_name("x" * 100 + "2")
    assert first != second
    assert len(first) == len(second) == 63


def test_names_are_stable_across_calls() -> None:
    assert k8s_name("Collect", "LYON_1ER") == k8s_name("Collect", "LYON_1ER")


def test_max_length_bounds_the_name() -> None:
    name = k8s_name("experiment-with-a-long-name", max_length=20)
    assert len(name) <= 20
    assert DNS1123.match(name)


def test_no_parts_is_an_error() -> None:
    with pytest.raises(ConfigurationError):
        k8s_name()


def test_is_dns1123_label() -> None:
    assert is_dns1123_label("experiment-data")
    assert not is_dns1123_label("Experiment")
    assert not is_dns1123_label("a" * 64)
    assert not is_dns1123_label("-a")


class StageLayout(Layout):
    def compute_dir(self, vintage: int, borough: str) -> str:
        return self.directory("compute", vintage, borough)


def test_directories_are_relative_to_the_root_per_stage_and_parameter() -> None:
    layout = StageLayout(root="boroughs")
    assert layout.compute_dir(2012, "lyon_1er") == "boroughs/compute/2012/lyon_1er"
    assert layout.path("summary.json") == "boroughs/summary.json"


def test_a_layout_without_root_starts_at_the_volume() -> None:
    assert Layout().directory("compute", 1) == "compute/1"


def test_paths_are_placed_under_a_mount_path() -> None:
    assert Layout.on_volume("/data", "boroughs/compute") == "/data/boroughs/compute"


@pytest.mark.parametrize("bad", ["..", "a/b", "", "."])
def test_parameters_that_would_escape_the_layout_are_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        Layout("root").directory("compute", bad)


def test_absolute_roots_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        Layout("/etc")


def test_task_names_are_k8s_names() -> None:
    assert Layout().task_name("compute", 2012, "LYON_1ER") == k8s_name("compute", 2012, "LYON_1ER")
