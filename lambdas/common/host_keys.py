"""The key per-host limits are counted by: one place for ListPages' lanes and CrawlBatch's gates.

`scheme://host[:port]`, the host as canonical URLs have it, the default port dropped (so the
key of a URL as written is the key of its canonical form): http://a.test and https://a.test
are different hosts (different connections, often different servers), a.test:8080 too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from lambdas.common.urls import host_identity

DEFAULT_PORTS = {"http": 80, "https": 443}


def host_key(url: str) -> str:
    """The host key of an absolute URL; a URL with a broken port keys by its netloc as written."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # an out-of-range port: still one key, never an exception
        return f"{scheme}://{parts.netloc.lower()}"
    host = host_identity(parts.hostname or "")  # bücher.test: xn--bcher-kva.test, 127.1: 127.0.0.1
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
