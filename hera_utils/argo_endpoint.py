"""Turn `argo_server` (+ `argo_secure`, `argo_base_href`) into the URL Hera needs.

The Argo CLI writes `ARGO_SERVER` as `host:port` with no scheme and chooses https unless
`ARGO_SECURE=false`; an ingress may add a path prefix (`ARGO_BASE_HREF`). Hera wants a
full `http(s)://` URL, and joins API paths with `urljoin`, so a URL with a path must end
with `/` or its last segment is silently dropped. We accept both spellings, say what we
did, and always return a URL ending with `/`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ConfigurationError

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_HINT = (
    "write it as host:port (as the Argo UI's User page shows it) or as https://host[:port][/path]"
)


@dataclass(frozen=True)
class ArgoEndpoint:
    """Where the Argo Server answers: `url` always ends with `/`."""

    url: str
    secure: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def host_port(self) -> str:
        """`host:port` of the server, as the Argo CLI's ARGO_SERVER spells it."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve_argo_endpoint(server: str, *, secure: bool = True, base_href: str = "") -> ArgoEndpoint:
    """Normalise an Argo Server address; raise `ConfigurationError` when it cannot be one."""
    text = (server or "").strip()
    if not text:
        raise ConfigurationError(
            "no Argo Server is configured",
            hint="set ARGO_SERVER (or argo_server in hera.config, or --argo_server) to host:port",
            setting="argo_server",
        )
    notes: list[str] = []
    if any(ch.isspace() for ch in text):
        raise _bad(text, "it contains white space")
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme.lower() not in ("http", "https"):
            raise _bad(text, f"the scheme {scheme!r} is not http or https")
        url_secure = scheme.lower() == "https"
        host, port, path = _split_host(rest, text)
        if url_secure != secure and not secure:
            notes.append("the URL's https scheme wins over ARGO_SECURE=false")
    else:
        if re.match(r"^https?(:/?(?!\d)|//)", text, re.IGNORECASE):
            raise _bad(text, "the scheme is misspelt (expected https:// or http://)")
        host, port, path = _split_host(text, text)
        url_secure = secure
        scheme = "https" if secure else "http"
        notes.append(
            f"{text!r} has no scheme: using {scheme} because argo_secure is "
            f"{'true' if secure else 'false'}"
        )
        if not secure and port == 443:
            notes.append("port 443 usually speaks https; set argo_secure=true if requests fail")
    href = _normalise_path(base_href)
    if path not in ("", "/") and href not in ("", "/") and _normalise_path(path) != href:
        raise ConfigurationError(
            f"argo_server {text!r} has the path {path!r} but argo_base_href is {base_href!r}",
            hint="give the path in one place: drop it from argo_server or unset ARGO_BASE_HREF",
            setting="argo_base_href",
        )
    final_path = _normalise_path(path) if path not in ("", "/") else href
    if not final_path:
        final_path = "/"
    if base_href and path in ("", "/"):
        notes.append(f"path prefix {final_path!r} from argo_base_href")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    scheme = "https" if url_secure else "http"
    return ArgoEndpoint(
        url=f"{scheme}://{netloc}{final_path}", secure=url_secure, notes=tuple(notes)
    )


def _split_host(rest: str, original: str) -> tuple[str, int | None, str]:
    if "?" in rest or "#" in rest:
        raise _bad(original, "it has a query or fragment")
    slash = rest.find("/")
    hostport, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in hostport:
        raise _bad(original, "credentials do not belong in the address; use argo_token")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _bad(original, "the IPv6 address is not closed with ']'")
        host, after = hostport[1:end], hostport[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as error:
            raise _bad(original, f"{host!r} is not an IPv6 address") from error
        port_text = after[1:] if after.startswith(":") else None
        if after and port_text is None:
            raise _bad(original, "unexpected text after the IPv6 address")
    else:
        host, sep, port_text = hostport.partition(":")
        if not sep:
            port_text = None
        if not host:
            raise _bad(original, "the host name is missing")
        if not _HOSTNAME.match(host):
            raise _bad(original, f"{host!r} is not a valid host name")
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _bad(original, f"the port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    return host, port, path


def _normalise_path(path: str) -> str:
    path = (path or "").strip()
    if path in ("", "/"):
        return ""
    return "/" + path.strip("/") + "/"


def _bad(value: str, why: str) -> ConfigurationError:
    # Never echo credentials someone put in the address.
    value = re.sub(r"(?<=://)[^/@]*@|^[^/@]*@", "<redacted>@", value)
    return ConfigurationError(
        f"argo_server {value!r} is not a valid address: {why}", hint=_HINT, setting="argo_server"
    )
