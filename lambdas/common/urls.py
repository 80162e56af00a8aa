"""URL validation and canonicalization: one identity per page for dedupe and the store.

The normalization itself is w3lib's `canonicalize_url` (Scrapy's): WHATWG-style splitting
(`\\` as `/`, tabs and newlines dropped), dot segments resolved, percent-encoding normalized
(unreserved characters decoded, escapes upper-cased, the rest UTF-8 encoded), lowercase scheme
and host, IDN hosts as punycode, IPv6 hosts compressed, query sorted, fragment dropped, empty
path as "/". Around it, only what it does not do: the checks of a URL crawlmap will fetch,
UTS #46 for IDN hosts, IPv4 hosts in dotted decimal, default ports dropped, tracking
parameters removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import suppress
from ipaddress import IPv6Address
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import idna
from w3lib.url import canonicalize_url

MAX_URL_LENGTH = 2083
DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_TRACKING_PARAMS = frozenset({"gclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_ga"})

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?=:)")
# The authority of a special-scheme URL as w3lib (and the URL Standard) delimit it.
_AUTHORITY = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/\\?#]*)")
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")  # \s: what str.isspace() says
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")


class UrlError(ValueError):
    """The string is not a URL crawlmap will fetch; the message says why."""


def canonicalize(url: str, tracking_params: Iterable[str] = DEFAULT_TRACKING_PARAMS) -> str:
    """Return the canonical form of an http(s) URL, or raise UrlError (never anything else).

    Spellings of one resource give one string: `/pg/./a.html` and `/pg/../pg/a.html` as
    `/pg/a.html`, `%7E` as `~`, `%c3%af` and `ï` as `%C3%AF`, `bücher` as `xn--bcher-kva`,
    `HTTP://Example.COM:80` as `http://example.com/`; the fragment, utm_* and the given
    tracking parameters are dropped and the query is sorted. canonicalize is idempotent.
    """
    if not isinstance(url, str):
        raise UrlError("not a string")
    text = url.strip()
    if not text:
        raise UrlError("empty URL")
    if len(text) > MAX_URL_LENGTH:
        raise UrlError(f"longer than {MAX_URL_LENGTH} characters")
    if _WHITESPACE_OR_CONTROL.search(text):
        raise UrlError("contains whitespace or control characters")
    if not _is_unicode_text(text):
        raise UrlError("is not valid Unicode text (a lone surrogate)")
    scheme_match = _SCHEME.match(text)
    scheme = scheme_match.group().lower() if scheme_match else ""
    if scheme not in DEFAULT_PORTS:
        raise UrlError(f"only http and https URLs are crawled, not {scheme or 'a relative URL'!r}")
    try:
        normalized = canonicalize_url(_idn_host_as_uts46(text), keep_blank_values=True)
        parts = urlsplit(normalized)
        port = parts.port
    except ValueError as exc:  # UnicodeError, a bad port or IPv6 literal
        raise UrlError(f"not a valid URL ({exc})") from None
    host = parts.hostname or ""
    if not host:
        raise UrlError("has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlError("credentials in URLs are not allowed")
    if ":" in host:  # IPv6 literal (w3lib checked and compressed it)
        host = f"[{host}]"
    elif not _is_host_name(host):
        raise UrlError(f"{host!r} is not a valid host name")
    elif _ends_in_a_number(host):
        host = _ipv4(host)
    # w3lib keeps an explicit default port; http://a.test:80/ is http://a.test/.
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = _without_tracking(parts.query, {p.lower() for p in tracking_params})
    canonical = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    if len(canonical) > MAX_URL_LENGTH:
        raise UrlError(f"longer than {MAX_URL_LENGTH} characters once normalized")
    # A stray "%" can make one pass decode into a new escape ("%%34%31" -> "%41"), which
    # the next pass would decode again: such a URL has no stable identity. (Checked only
    # then: a second pass costs as much as the first.)
    stray = _STRAY_PERCENT.search(text) is not None
    if stray and canonicalize_url(canonical, keep_blank_values=True) != canonical:
        raise UrlError("ambiguous percent-encoding (a '%' not followed by two hex digits)")
    return canonical


def _is_unicode_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ascii_host(host: str) -> str:
    """A host name in punycode by UTS #46, as the URL Standard and httpx have it.

    w3lib encodes with Python's IDNA 2003 codec, which maps "faß.de" to "fass.de": a different
    host from the xn--fa-hia.de that browsers and httpx connect to. A host UTS #46 refuses
    falls back to IDNA 2003 (which accepts some, such as symbols), and a host neither makes a
    host name of ("a／b" would become "a/b", another host and a path) stays as it is.
    """
    if host.isascii():
        return host
    for encode in (_uts46, _idna2003):
        try:
            encoded = encode(host)
        except UnicodeError:  # idna.IDNAError too
            continue
        if _HOST_NAME.fullmatch(encoded.lower()):
            return encoded
    return host


def host_identity(host: str) -> str:
    """A lowercased host as canonical URLs spell it, for keys of URLs as written (redirect
    targets): IDN in punycode, IPv4 in dotted decimal, IPv6 compressed; a host they would
    refuse stays as is."""
    host = ascii_host(host).lower()
    if ":" in host:
        with suppress(ValueError):
            return str(IPv6Address(host))  # compressed, as w3lib has it: ::0:1 is ::1
        return host
    if _is_host_name(host) and _ends_in_a_number(host):
        with suppress(UrlError):
            return _ipv4(host)
    return host


def _uts46(host: str) -> str:
    return idna.encode(host, uts46=True, std3_rules=False, transitional=False).decode()


def _idna2003(host: str) -> str:
    return host.encode("idna").decode()


def _idn_host_as_uts46(text: str) -> str:
    """`text` with its host through ascii_host, so that w3lib sees an ASCII host."""
    match = _AUTHORITY.match(text)
    if match is None or match.group("authority").isascii():
        return text
    userinfo, at, hostinfo = match.group("authority").rpartition("@")
    if hostinfo.startswith("["):  # an IPv6 literal is ASCII or invalid
        return text
    host, colon, port = hostinfo.partition(":")
    rest = text[match.end() :]
    return f"{match.group('head')}{userinfo}{at}{ascii_host(host)}{colon}{port}{rest}"


def _is_host_name(host: str) -> bool:
    """Letters, digits, "-" and "_" in labels of 1 to 63 characters (a trailing dot allowed)."""
    if not _HOST_NAME.fullmatch(host):
        return False
    try:
        host.encode("idna")  # label lengths: "a" * 64 would only fail later, inside the fetch
    except UnicodeError:
        return False
    return True


def _ends_in_a_number(host: str) -> bool:
    """The URL Standard's test for a host that must be an IPv4 address ("127.1", "0x7f.1")."""
    last = host.removesuffix(".").rpartition(".")[2]
    return bool(last) and (last.isdigit() or _ipv4_part(last) is not None)


def _ipv4(host: str) -> str:
    """An IPv4 host in dotted decimal, as the URL Standard parses it (w3lib leaves "127.1",
    "0x7f.0.0.1" and "2130706433" as written, each a separate identity of 127.0.0.1)."""
    parts = host.removesuffix(".").split(".")
    numbers = [_ipv4_part(part) for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise UrlError(f"{host!r} is not a valid IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise UrlError(f"{host!r} is not a valid IPv4 address (a part is out of range)")
    address = values[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(values[:-1]))
    return ".".join(str((address >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _ipv4_part(part: str) -> int | None:
    """One part of an IPv4 host: decimal, hex after "0x", octal after a leading "0"."""
    digits, base = part, 10
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    if not digits:
        return 0 if base == 16 else None
    try:
        return int(digits, base) if digits.isalnum() and digits.isascii() else None
    except ValueError:
        return None


def _without_tracking(query: str, drop: set[str]) -> str:
    """The query (already sorted and encoded by w3lib) without utm_* and `drop` parameters."""
    kept = []
    for pair in query.split("&") if query else []:
        key = unquote_plus(pair.partition("=")[0]).lower()
        if not key.startswith("utm_") and key not in drop:
            kept.append(pair)
    return "&".join(kept)
