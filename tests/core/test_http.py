"""The bounded session: every request through Hera gets our timeout and CA bundle."""

from __future__ import annotations

import time

import pytest
import requests

from hera_utils.http import BoundedSession, TokenAuth


def test_requests_without_a_timeout_get_the_session_timeout(emulated_cluster):
    emulated_cluster.argo.faults.set("hang")
    session = BoundedSession(timeout=0.5, verify=emulated_cluster.ca.ca_bundle_path)
    start = time.monotonic()
    with pytest.raises(requests.Timeout):
        session.get(emulated_cluster.argo.url + "/api/v1/version")
    assert time.monotonic() - start < 3


def test_verify_true_from_hera_means_our_ca_bundle(emulated_cluster):
    session = BoundedSession(timeout=5, verify=emulated_cluster.ca.ca_bundle_path)
    # Hera passes verify=True explicitly; the session must still use the bundle.
    response = session.get(emulated_cluster.argo.url + "/api/v1/version", verify=True)
    assert response.status_code == 200


def test_token_auth_sets_a_fresh_header_on_each_request(emulated_cluster):
    issued = iter([f"Bearer {emulated_cluster.user_token}", "Bearer stale"])
    session = BoundedSession(timeout=5, verify=emulated_cluster.ca.ca_bundle_path)
    session.auth = TokenAuth(lambda: next(issued))
    url = f"{emulated_cluster.argo.url}/api/v1/workflows/{emulated_cluster.namespace}"
    assert session.get(url, headers={"Authorization": "Bearer old"}).status_code == 200
    assert session.get(url).status_code == 401
