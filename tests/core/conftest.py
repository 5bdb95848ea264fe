"""Isolation for the runtime library's tests: no user settings, files or proxies leak in."""

from __future__ import annotations

import os

import pytest

_LEAKY_PREFIXES = ("ARGO_", "HERA_", "KUBE")
_LEAKY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "ARGOCONFIG")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Run each test in an empty directory with an empty home and no hera/argo variables."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES) or name in _LEAKY_NAMES:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work
