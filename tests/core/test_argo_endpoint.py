"""argo_server normalisation: the Argo CLI's host:port, full URLs, base hrefs."""

from __future__ import annotations

import pytest

from hera_utils.argo_endpoint import resolve_argo_endpoint
from hera_utils.errors import ConfigurationError


@pytest.mark.parametrize(
    ("server", "options", "url"),
    [
        ("argowf.example.org:443", {}, "https://argowf.example.org:443/"),
        ("localhost:2746", {"secure": False}, "http://localhost:2746/"),
        ("https://argowf.example.org", {}, "https://argowf.example.org/"),
        ("http://127.0.0.1:2746", {}, "http://127.0.0.1:2746/"),
        ("https://example.org/argo", {}, "https://example.org/argo/"),
        ("example.org:443", {"base_href": "/argo"}, "https://example.org:443/argo/"),
        ("example.org:443", {"base_href": "argo/"}, "https://example.org:443/argo/"),
        ("https://example.org/argo/", {"base_href": "/argo/"}, "https://example.org/argo/"),
        ("[::1]:2746", {}, "https://[::1]:2746/"),
        ("  argo.lab:2746  ", {}, "https://argo.lab:2746/"),
    ],
)
def test_addresses_become_urls_ending_with_a_slash(server, options, url):
    assert resolve_argo_endpoint(server, **options).url == url


def test_a_bare_host_port_says_which_scheme_it_chose():
    endpoint = resolve_argo_endpoint("argowf.example.org:443")
    assert any("using https because argo_secure is true" in note for note in endpoint.notes)
    assert endpoint.host_port == "argowf.example.org:443"


def test_plain_http_on_port_443_is_allowed_but_noted():
    endpoint = resolve_argo_endpoint("example.org:443", secure=False)
    assert endpoint.url == "http://example.org:443/"
    assert any("443 usually speaks https" in note for note in endpoint.notes)


@pytest.mark.parametrize(
    ("server", "why"),
    [
        ("ftp://example.org", "scheme 'ftp'"),
        ("https//example.org", "misspelt"),
        ("https:/example.org", "misspelt"),
        ("example.org:0", "port '0'"),
        ("example.org:99999", "port '99999'"),
        ("example.org:http", "port 'http'"),
        ("exa mple.org:2746", "white space"),
        ("https://example.org/?a=1", "query"),
        ("https://user:secret@example.org", "credentials"),
        ("under_score.org:1", "not a valid host name"),
        ("[::zz]:1", "IPv6"),
        (":2746", "host name is missing"),
    ],
)
def test_malformed_addresses_are_refused_with_the_reason(server, why):
    with pytest.raises(ConfigurationError) as caught:
        resolve_argo_endpoint(server)
    assert why in caught.value.message
    assert caught.value.setting == "argo_server"
    assert "host:port" in caught.value.hint


def test_a_missing_server_says_how_to_set_it():
    with pytest.raises(ConfigurationError, match="no Argo Server") as caught:
        resolve_argo_endpoint("")
    assert "ARGO_SERVER" in caught.value.hint


def test_conflicting_paths_in_server_and_base_href_are_refused():
    with pytest.raises(ConfigurationError) as caught:
        resolve_argo_endpoint("https://example.org/argo/", base_href="/other/")
    assert caught.value.setting == "argo_base_href"
