"""Several kubeconfig files merged as kubectl merges them (`KUBECONFIG=a:b`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

import hera_utils
from hera_utils.errors import ConfigurationError, HeraUtilsWarning
from hera_utils.kubeconfig import kubeconfig_paths, select_context


def _write(path: Path, **document) -> str:
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", **document}))
    return str(path)


def _cluster(name: str, server: str) -> dict:
    return {"name": name, "cluster": {"server": server}}


def _context(name: str, cluster: str, user: str, namespace: str = "") -> dict:
    entry = {"cluster": cluster, "user": user, **({"namespace": namespace} if namespace else {})}
    return {"name": name, "context": entry}


def _user(name: str, token: str) -> dict:
    return {"name": name, "user": {"token": token}}


def _select(*files: str, context: str | None = None):
    return select_context(kubeconfig_paths(os.pathsep.join(files)), context)


def test_clusters_and_contexts_in_one_file_and_users_in_another(tmp_path):
    first = _write(tmp_path / "clusters.yaml", clusters=[_cluster("lab", "https://lab:6443")],
                   contexts=[_context("lab", "lab", "me", "exp")], **{"current-context": "lab"})
    second = _write(tmp_path / "users.yaml", users=[_user("me", "tok-1")])
    chosen = _select(first, second)
    assert (chosen.context, chosen.server, chosen.namespace) == ("lab", "https://lab:6443", "exp")


def test_the_current_context_may_be_defined_in_the_second_file(tmp_path):
    first = _write(tmp_path / "a.yaml", **{"current-context": "remote"})
    second = _write(tmp_path / "b.yaml", clusters=[_cluster("far", "https://far:6443")],
                    contexts=[_context("remote", "far", "me")], users=[_user("me", "tok-2")])
    assert _select(first, second).server == "https://far:6443"


def test_a_name_defined_in_two_files_is_taken_from_the_first(tmp_path):
    first = _write(tmp_path / "a.yaml", clusters=[_cluster("lab", "https://first:6443")],
                   contexts=[_context("lab", "lab", "me")], users=[_user("me", "tok-a")],
                   **{"current-context": "lab"})
    second = _write(tmp_path / "b.yaml", clusters=[_cluster("lab", "https://second:6443")],
                    contexts=[_context("lab", "lab", "me", "second-ns"),
                              _context("other", "lab", "me")],
                    users=[_user("me", "tok-b")], **{"current-context": "other"})
    chosen = _select(first, second)
    # current-context, the context, its cluster: each from the first file that names it.
    assert (chosen.context, chosen.server, chosen.namespace) == ("lab", "https://first:6443", None)
    assert _select(first, second, context="other").server == "https://first:6443"


def test_a_missing_piece_is_named_only_after_the_merge(tmp_path):
    first = _write(tmp_path / "a.yaml", contexts=[_context("lab", "nowhere", "me")],
                   **{"current-context": "lab"})
    second = _write(tmp_path / "b.yaml", users=[_user("me", "tok")])
    with pytest.raises(ConfigurationError) as caught:
        _select(first, second)
    assert "refers to cluster 'nowhere', which has no server" in caught.value.message
    assert first in caught.value.message and second in caught.value.message


def test_a_file_of_the_list_that_does_not_exist_is_skipped_as_kubectl_does(tmp_path):
    real = _write(tmp_path / "a.yaml", clusters=[_cluster("lab", "https://lab:6443")],
                  contexts=[_context("lab", "lab", "me")], users=[_user("me", "tok")],
                  **{"current-context": "lab"})
    gone = str(tmp_path / "gone.yaml")
    with pytest.warns(HeraUtilsWarning, match="gone.yaml, which does not exist: skipped"):
        assert _select(gone, real).server == "https://lab:6443"
    with pytest.raises(ConfigurationError, match="does not exist"):
        kubeconfig_paths(gone)


def test_a_split_kubeconfig_reaches_the_emulated_cluster(emulated_env, monkeypatch, tmp_path):
    document = yaml.safe_load(Path(emulated_env.kubeconfig_path).read_text())
    users = document.pop("users")
    clusters = _write(tmp_path / "clusters.yaml", **document)
    user_file = _write(tmp_path / "users.yaml", users=users)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([clusters, user_file]))
    cluster = hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert cluster.namespace == emulated_env.namespace


def test_a_context_chosen_in_a_file_of_its_own_reaches_the_emulated_cluster(
    emulated_env, monkeypatch, tmp_path
):
    document = yaml.safe_load(Path(emulated_env.kubeconfig_path).read_text())
    current = document.pop("current-context")
    selector = _write(tmp_path / "selector.yaml", **{"current-context": current})
    rest = _write(tmp_path / "rest.yaml", **document)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([selector, rest]))
    cluster = hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert cluster.selection.context == current
