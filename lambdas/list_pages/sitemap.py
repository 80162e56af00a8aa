"""Sitemap parsing for untrusted input: expat with every DOCTYPE refused, gzip with a cap.

Refusing the DOCTYPE before expat reads any declaration rules out entity expansion ("billion
laughs") and external entities, which is what defusedxml does for the stdlib parsers.
Only a `<loc>` directly inside `<url>` or `<sitemap>` counts: `<image:loc>` and friends
(nested one level deeper) are ignored.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal
from xml.parsers import expat

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed
GZIP_MAGIC = b"\x1f\x8b"
SitemapKind = Literal["urlset", "sitemapindex"]
_ENTRY_OF = {"urlset": "url", "sitemapindex": "sitemap"}


class SitemapError(ValueError):
    """The bytes are not a sitemap crawlmap will read; the message says why."""


@dataclass(frozen=True)
class Sitemap:
    kind: SitemapKind
    locations: list[str]


def decompress_if_gzip(data: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Gunzip `data` when it is gzip (sitemap.xml.gz), stopping at `limit` bytes of output."""
    if not data.startswith(GZIP_MAGIC):
        return data
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        output = decompressor.decompress(data, limit + 1)
    except zlib.error as exc:
        raise SitemapError(f"is not valid gzip ({exc})") from None
    if len(output) > limit:
        raise SitemapError(f"is larger than {limit // (1024 * 1024)} MiB uncompressed")
    return output


def parse_sitemap(data: bytes) -> Sitemap:
    """The kind of sitemap and its `<loc>` values, in document order."""
    parser = expat.ParserCreate(namespace_separator=" ")
    stack: list[str] = []
    locations: list[str] = []
    text: list[str] | None = None
    kind: list[SitemapKind] = []

    def refuse_doctype(*_args: Any) -> None:
        raise SitemapError("declares a DOCTYPE, which is refused (no entity expansion)")

    def start(name: str, _attrs: Any) -> None:
        nonlocal text
        local = name.rsplit(" ", 1)[-1]
        if not stack:
            if local not in _ENTRY_OF:
                raise SitemapError(
                    f"is not a sitemap: the root element is <{local}>,"
                    " expected <urlset> or <sitemapindex>"
                )
            kind.append("urlset" if local == "urlset" else "sitemapindex")
        elif local == "loc" and len(stack) == 2 and stack[1] == _ENTRY_OF[kind[0]]:
            text = []
        stack.append(local)

    def end(_name: str) -> None:
        nonlocal text
        stack.pop()
        if text is not None and len(stack) == 2:
            locations.append("".join(text).strip())
            text = None

    def characters(data: str) -> None:
        if text is not None:
            text.append(data)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise SitemapError(f"is not well-formed XML ({exc})") from None
    if not kind:
        raise SitemapError("is empty")
    return Sitemap(kind=kind[0], locations=locations)
