"""The hera.config format of the original hera_utils."""

from __future__ import annotations

import pytest

from hera_utils.config_file import parse_config_text
from hera_utils.errors import ConfigurationError


def test_quotes_comments_and_blank_lines():
    text = """
# Argo access
argo_server='argowf.example.org:443'
argo_namespace="lab"   # the team's namespace
k8s_context = plain-value
request_timeout=5
argo_base_href=''
"""
    assert dict(parse_config_text(text)) == {
        "argo_server": "argowf.example.org:443",
        "argo_namespace": "lab",
        "k8s_context": "plain-value",
        "request_timeout": "5",
        "argo_base_href": "",
    }


def test_a_hash_inside_quotes_is_kept():
    assert parse_config_text("argo_base_href='/a#b'")["argo_base_href"] == "/a#b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("argo_server: host:1", "cannot read"),
        ("just words", "cannot read"),
        ("argo_server='host:1", "never closed"),
        ("argo_server='a' 'b'", "unexpected text"),
        ("=value", "cannot read"),
    ],
)
def test_syntax_errors_name_the_file_and_line(text, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_config_text("# first\n" + text, "lab.config")
    assert caught.value.message.startswith("lab.config:2:")


def test_a_malformed_token_line_is_not_echoed():
    with pytest.raises(ConfigurationError) as caught:
        parse_config_text("argo_token Bearer s3cr3t-value", "x")
    assert "s3cr3t-value" not in caught.value.one_line()
