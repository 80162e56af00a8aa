"""URL validation and canonicalization: one identity per page for dedupe and the store."""

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_URL_LENGTH = 2083
DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_TRACKING_PARAMS = frozenset({"gclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_ga"})


class UrlError(ValueError):
    """The string is not a URL crawlmap will fetch; the message says why."""


def canonicalize(url: str, tracking_params: Iterable[str] = DEFAULT_TRACKING_PARAMS) -> str:
    """Return the canonical form of an http(s) URL, or raise UrlError.

    Lowercase scheme and host, default port dropped, empty path -> "/", fragment dropped,
    query parameters sorted, utm_* and the given tracking parameters removed.
    """
    if not isinstance(url, str):
        raise UrlError("not a string")
    text = url.strip()
    if not text:
        raise UrlError("empty URL")
    if len(text) > MAX_URL_LENGTH:
        raise UrlError(f"longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in text):
        raise UrlError("contains whitespace or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UrlError(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UrlError(f"only http and https URLs are crawled, not {scheme or 'a relative URL'!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlError("has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlError("credentials in URLs are not allowed")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    else:
        try:  # empty or over-long labels ("a..b") would only fail later, inside the fetch
            host.encode("idna")
        except UnicodeError:
            raise UrlError(f"{host!r} is not a valid host name") from None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    drop = {p.lower() for p in tracking_params}
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in drop
    ]
    query.sort()
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))
