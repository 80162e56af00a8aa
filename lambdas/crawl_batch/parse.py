"""Turning a fetched body into the compact facts of a PageResult (pure functions, no I/O).

Decoding (bytes -> text) lives in lambdas.common.safe_http.charset (WHATWG Encoding Standard:
BOM, HTTP charset, meta prescan, label table, detection last); decode_body, DecodedText and
header_charset are re-exported here. selectolax (lexbor) always receives text.

What a page is (`page_kind`) decides which fields apply: html and xhtml are parsed (title,
description, canonical, h1, links, words, selectors); pdf, image and other are hashed whole.
The fingerprint (content_hash) covers what the user gets: the visible text and every extracted
field (title, description, canonical, h1, the configured selectors and the set of outgoing
links), each also hashed on its own (fingerprints) so a changed page can say what changed.
Visible text is read as a browser lays it out: block elements separate words, inline markup
does not (`re<em>trie</em>ve` is one word), and a word has a letter or digit in it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from lambdas.common.env import SELECTORS
from lambdas.common.errors import ConfigError
from lambdas.common.models import PageKind, truncated
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


_BLOCK_TAGS = (
    "address|article|aside|blockquote|body|br|caption|dd|details|dialog|div|dl|dt|fieldset|"
    "figcaption|figure|footer|form|h[1-6]|head|header|hr|html|img|input|li|legend|main|meta|nav|"
    "ol|option|p|pre|section|select|summary|table|tbody|td|textarea|tfoot|th|thead|title|tr|ul"
)
# A space before every block-level tag (opening or closing), none before inline ones: then the
# text nodes can be joined as they are, and only block boundaries separate words.
_BLOCK_BOUNDARY = re.compile(rf"<(/?(?:{_BLOCK_TAGS})(?=[\s/>]))", re.IGNORECASE)
_WORDLIKE = re.compile(r"\w")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF", b"BM")
FIELD_HASH_CHARS = 12  # per-field hashes only tell fields apart over one page's history


def page_kind(content_type: str | None, body: bytes) -> PageKind:
    """html, xhtml, pdf, image or other: by Content-Type, without one by the first bytes."""
    if content_type == "application/xhtml+xml":
        return "xhtml"
    if content_type is not None:
        if content_type == "text/html":
            return "html"
        if content_type == "application/pdf":
            return "pdf"
        return "image" if content_type.startswith("image/") else "other"
    if is_html(None, body):
        return "html"
    head = body[:16]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(_IMAGE_MAGIC) and (not head.startswith(b"RIFF") or head[8:12] == b"WEBP"):
        return "image"
    return "other"


@dataclass(frozen=True)
class PageFacts:
    kind: PageKind
    title: str | None
    description: str | None
    canonical: str | None
    h1: str | None
    links: int | None
    words: int | None
    content_hash: str
    extracted: dict[str, str | None]
    fingerprints: dict[str, str]
    # What v0.1 stored as content_hash (the visible text alone, parts joined by spaces):
    # a page stored then without field hashes is unchanged if this still matches.
    legacy_hash: str | None = None


def _clean(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    collapsed = " ".join(text.split())
    return truncated(collapsed, limit) if collapsed else None


def _resolve(base: str, href: str | None) -> str | None:
    if not href or not href.strip():
        return None
    try:
        return truncated(urljoin(base, href.strip()), MAX_URL)
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


def count_words(text: str) -> int:
    """Tokens with a letter or digit in them: a lone "|", "-" or "—" is not a word."""
    return sum(1 for token in text.split() if _WORDLIKE.search(token))


def fingerprint(fields: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """(content_hash over every field, a short hash of each field), from JSON-able values."""
    hashes: dict[str, str] = {}
    whole = hashlib.sha256()
    for name in sorted(fields):
        encoded = json.dumps(fields[name], ensure_ascii=False, sort_keys=True).encode("utf-8")
        hashes[name] = hashlib.sha256(encoded).hexdigest()[:FIELD_HASH_CHARS]
        whole.update(json.dumps(name).encode("utf-8") + b"=" + encoded + b"\n")
    return whole.hexdigest(), hashes


def body_facts(kind: PageKind, body: bytes, selectors: tuple[Selector, ...] = ()) -> PageFacts:
    """A body that is not parsed (pdf, image, other): hashed whole; no HTML fields apply."""
    digest = bytes_hash(body)
    return PageFacts(
        kind=kind,
        title=None,
        description=None,
        canonical=None,
        h1=None,
        links=None,
        words=None,
        content_hash=digest,
        extracted={selector.name: None for selector in selectors},
        fingerprints={"body": digest[:FIELD_HASH_CHARS]},
        legacy_hash=digest,
    )


def _text(node: Any) -> str:
    return str(node.text(deep=True, separator=""))


def extract_page(
    html: str, url: str, selectors: tuple[Selector, ...] = (), *, kind: PageKind = "html"
) -> PageFacts:
    """Title, meta description, canonical, first h1, link and word counts, the configured
    selectors and the fingerprint, from decoded HTML fetched from `url`."""
    tree = LexborHTMLParser(_BLOCK_BOUNDARY.sub(r" <\1", html))
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
    hrefs = [a.attributes.get("href") or "" for a in tree.css("a[href]")]
    hrefs = [href for href in hrefs if _counts_as_link(href)]
    targets = {target.split("#", 1)[0] for href in hrefs if (target := _resolve(base, href))}

    extracted: dict[str, str | None] = {}
    for selector in selectors:  # before stripping, so a selector may target <script> etc.
        node = tree.css_first(selector.css)
        if node is None:
            extracted[selector.name] = None
        elif selector.attribute is None:
            extracted[selector.name] = _clean(_text(node), MAX_EXTRACTED)
        else:
            value = node.attributes.get(selector.attribute)
            extracted[selector.name] = (
                None if value is None else truncated(value.strip(), MAX_EXTRACTED)
            )

    title = _clean(_text(title_node) if title_node is not None else None, MAX_TITLE)
    h1 = _clean(_text(h1_node) if h1_node is not None else None, MAX_TITLE)
    description = _clean(description, MAX_DESCRIPTION)
    tree.strip_tags(INVISIBLE_TAGS)
    root = tree.root
    visible = " ".join(_text(root).split()) if root is not None else ""
    legacy = " ".join(root.text(separator=" ").split()) if root is not None else ""
    fields: dict[str, object] = {
        "text": visible,
        "title": title,
        "description": description,
        "canonical": canonical,
        "h1": h1,
        "links": sorted(targets),
    }
    for name, value in extracted.items():
        fields[f"selector:{name}"] = value
    content_hash, fingerprints = fingerprint(fields)
    return PageFacts(
        kind=kind,
        title=title,
        description=description,
        canonical=canonical,
        h1=h1,
        links=len(hrefs),
        words=count_words(visible),
        content_hash=content_hash,
        extracted=extracted,
        fingerprints=fingerprints,
        legacy_hash=text_hash(legacy),
    )


def page_facts(
    body: bytes,
    content_type: str | None,
    header: str | None,
    url: str,
    selectors: tuple[Selector, ...],
) -> PageFacts:
    """What a fetched body says: parsed if it is HTML or XHTML, else hashed whole.

    `content_type` is the media type alone; `header` the whole Content-Type (its charset)."""
    kind = page_kind(content_type, body)
    if kind not in ("html", "xhtml"):
        return body_facts(kind, body, selectors)
    decoded = decode_body(body, header)
    return extract_page(decoded.text, url, selectors, kind=kind)
