"""Turning a fetched body into the compact facts of a PageResult (pure functions, no I/O).

Decoding (bytes -> text) lives in lambdas.common.safe_http.charset (WHATWG Encoding Standard:
BOM, HTTP charset, meta prescan, label table, detection last); decode_body, DecodedText and
header_charset are re-exported here. selectolax (lexbor) always receives text.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from lambdas.common.env import SELECTORS
from lambdas.common.errors import ConfigError
from lambdas.common.safe_http.charset import (  # re-exported: decoding moved to safe_http
    CharsetSource as CharsetSource,
)
from lambdas.common.safe_http.charset import DecodedText as DecodedText
from lambdas.common.safe_http.charset import decode_body as decode_body
from lambdas.common.safe_http.charset import header_charset as header_charset

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
INVISIBLE_TAGS = ["script", "style", "noscript", "template"]

# Compact records: the state carries ~0.5 KiB per page, so long strings are cut.
MAX_TITLE = 200
MAX_DESCRIPTION = 300
MAX_URL = 2083
MAX_EXTRACTED = 200

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_ATTRIBUTE = re.compile(r"^[A-Za-z_:][-A-Za-z0-9_:.]*$")


def is_html(content_type: str | None, body: bytes) -> bool:
    """HTML or XHTML by Content-Type; without one, by the first bytes."""
    if content_type is not None:
        return content_type in HTML_TYPES
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


@dataclass(frozen=True)
class Selector:
    name: str
    css: str
    attribute: str | None  # None: the element's text


def compile_selectors(selectors: Mapping[str, str]) -> tuple[Selector, ...]:
    """Parse the configured selectors ("css" -> text, "css@attr" -> attribute) once.

    Raises ConfigError naming the selector when lexbor cannot parse it. Compiled once per
    distinct configuration (every invocation of a container has the same one).
    """
    return _compiled(tuple(selectors.items()))


@functools.lru_cache(maxsize=32)
def _compiled(selectors: tuple[tuple[str, str], ...]) -> tuple[Selector, ...]:
    probe = LexborHTMLParser("<html></html>")
    compiled: list[Selector] = []
    for name, spec in selectors:
        css, attribute = spec, None
        head, sep, tail = spec.rpartition("@")
        if sep and head.strip() and _ATTRIBUTE.match(tail.strip()):
            css, attribute = head.strip(), tail.strip()
        try:
            probe.css(css)
        except SelectolaxError:
            raise ConfigError(f"{SELECTORS}.{name}", f"not a valid CSS selector: {css!r}") from None
        compiled.append(Selector(name, css, attribute))
    return tuple(compiled)


@dataclass(frozen=True)
class PageFacts:
    title: str | None
    description: str | None
    canonical: str | None
    h1: str | None
    links: int
    words: int
    content_hash: str
    extracted: dict[str, str | None]


def _clean(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    collapsed = " ".join(text.split())
    return collapsed[:limit] if collapsed else None


def _resolve(base: str, href: str | None) -> str | None:
    if not href or not href.strip():
        return None
    try:
        return urljoin(base, href.strip())[:MAX_URL]
    except ValueError:
        return None


def _counts_as_link(href: str) -> bool:
    href = href.strip()
    if not href or href.startswith("#"):
        return False
    scheme = _SCHEME.match(href)
    return scheme is None or scheme.group(1).lower() in ("http", "https")


def text_hash(normalized_text: str) -> str:
    return hashlib.sha256(normalized_text.encode("utf-8")).hexdigest()


def bytes_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def extract_page(html: str, url: str, selectors: tuple[Selector, ...] = ()) -> PageFacts:
    """Title, meta description, canonical, first h1, link and word counts, content hash,
    and the configured selectors, from decoded HTML fetched from `url`."""
    tree = LexborHTMLParser(html)
    base = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = _resolve(url, base_node.attributes.get("href")) or url

    title_node = tree.css_first("title")
    description = None
    for meta in tree.css("meta[name]"):
        if (meta.attributes.get("name") or "").strip().lower() == "description":
            description = meta.attributes.get("content")
            break
    canonical = None
    for link in tree.css("link[rel][href]"):
        if "canonical" in (link.attributes.get("rel") or "").lower().split():
            canonical = _resolve(base, link.attributes.get("href"))
            break
    h1_node = tree.css_first("h1")
    links = sum(1 for a in tree.css("a[href]") if _counts_as_link(a.attributes.get("href") or ""))

    extracted: dict[str, str | None] = {}
    for selector in selectors:  # before stripping, so a selector may target <script> etc.
        node = tree.css_first(selector.css)
        if node is None:
            extracted[selector.name] = None
        elif selector.attribute is None:
            extracted[selector.name] = _clean(node.text(separator=" "), MAX_EXTRACTED)
        else:
            value = node.attributes.get(selector.attribute)
            extracted[selector.name] = None if value is None else value.strip()[:MAX_EXTRACTED]

    title = _clean(title_node.text() if title_node is not None else None, MAX_TITLE)
    h1 = _clean(h1_node.text(separator=" ") if h1_node is not None else None, MAX_TITLE)
    tree.strip_tags(INVISIBLE_TAGS)
    root = tree.root
    normalized = " ".join(root.text(separator=" ").split()) if root is not None else ""
    return PageFacts(
        title=title,
        description=_clean(description, MAX_DESCRIPTION),
        canonical=canonical,
        h1=h1,
        links=links,
        words=normalized.count(" ") + 1 if normalized else 0,
        content_hash=text_hash(normalized),
        extracted=extracted,
    )
